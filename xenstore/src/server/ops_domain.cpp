// Domain management: INTRODUCE, RELEASE, RESUME, SET_TARGET, GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED,
// GET/SET_FEATURE, GET/SET_QUOTA (tools/xenstored/domain.c semantics).
#include <charconv>

#include "core_state.hpp"
#include "xenwire/xenstore/replies.hpp"

namespace xenwire::xenstore::detail {

namespace {
constexpr domid_t domid_first_reserved = 0x7FF0;  // DOMID_FIRST_RESERVED: DOMID_SELF and friends
}

handled core_impl::op_introduce(connection& c, const header& h, const req::introduce& r, time_point now) {
  if (r.evtchn == 0 || r.domid >= domid_first_reserved) return xs_fail(xs_error::einval);
  domain_state* existing = find_domain(r.domid);
  bool has_ring = false;
  if (existing)
    for (conn_id cid : existing->conns)
      if (const connection* dc = find(cid); dc && dc->opts.kind == conn_kind::ring) has_ring = true;
  if (existing && existing->introduced && has_ring) {
    // C xenstored: a repeated INTRODUCE resets the domain's connection and succeeds.
    for (conn_id cid : existing->conns)
      if (connection* dc = find(cid)) reset(*dc, now);
    reply_ok(c, h, now);
    return {};
  }
  if (!hooks) return xs_fail(xs_error::enosys);
  domain_state& d = domain_for(r.domid);
  d.gfn = r.gfn;
  d.port = r.evtchn;
  // The host maps the page and opens the ring connection (which introduces the domain).
  auto conn = hooks->introduce_domain(r.domid, r.gfn, r.evtchn);
  if (!conn) {
    logf(log_level::warn, "INTRODUCE of domain ", r.domid, " failed: ", conn.error().message());
    if (domain_state* dd = find_domain(r.domid); dd && !dd->introduced && dd->conns.empty()) domains.erase(r.domid);
    return xs_fail(xs_error::einval);
  }
  reply_ok(c, h, now);
  return {};
}

handled core_impl::op_release(connection& c, const header& h, const req::release& r, time_point now) {
  if (r.domid == 0) return xs_fail(xs_error::einval);
  domain_state* d = find_domain(r.domid);
  if (!d || !d->introduced) return xs_fail(xs_error::enoent);
  release(r.domid, now, false);
  reply_ok(c, h, now);
  return {};
}

handled core_impl::op_resume(connection& c, const header& h, const req::resume& r, time_point now) {
  domain_state* d = find_domain(r.domid);
  if (!d || !d->introduced) return xs_fail(xs_error::enoent);
  reply_ok(c, h, now);
  return {};
}

handled core_impl::op_set_target(connection& c, const header& h, const req::set_target& r, time_point now) {
  domain_state* d = find_domain(r.domid);
  domain_state* t = find_domain(r.target);
  if (!d || !d->introduced || !t || !t->introduced) return xs_fail(xs_error::enoent);
  d->target = r.target;
  reply_ok(c, h, now);
  return {};
}

handled core_impl::op_get_domain_path(connection& c, const header& h, const req::get_domain_path& r,
                                      time_point now) {
  return reply_with(c, h, now, [&](std::string& out) { return write_string_reply(out, h, domain_home(r.domid)); });
}

handled core_impl::op_is_domain_introduced(connection& c, const header& h, const req::is_domain_introduced& r,
                                           time_point now) {
  // DOMID_SELF, and domain 0: the local domain, whose own ring C xenstored introduces at start-up (here
  // it speaks through the sockets), so C xenstored and oxenstored answer T.
  bool yes = r.domid == domid_self || r.domid == 0;
  if (!yes) {
    const domain_state* d = find_domain(r.domid);
    yes = d && d->introduced;
  }
  return reply_with(c, h, now, [&](std::string& out) { return write_string_reply(out, h, yes ? "T" : "F"); });
}

handled core_impl::op_get_feature(connection& c, const header& h, const req::get_feature& r, time_point now) {
  std::uint32_t features = config.ring_features;
  if (r.domid) {
    if (!c.privileged) return xs_fail(xs_error::eacces);
    const domain_state* d = find_domain(*r.domid);
    if (!d) return xs_fail(xs_error::enoent);
    features = d->features;
  } else if (c.opts.kind != conn_kind::socket) {
    if (const domain_state* d = find_domain(c.domid())) features = d->features;
  }
  return reply_with(c, h, now, [&](std::string& out) { return write_number_reply(out, h, features); });
}

handled core_impl::op_set_feature(connection& c, const header& h, const req::set_feature& r, time_point now) {
  // C's order: a domain already introduced answers EBUSY whatever the value.
  if (const domain_state* known = find_domain(r.domid); known && known->introduced) return xs_fail(xs_error::ebusy);
  if (r.value & ~config.ring_features) return xs_fail(xs_error::einval);
  domain_state& d = domain_for(r.domid);
  d.features = r.value;
  reply_ok(c, h, now);
  return {};
}

handled core_impl::op_get_quota(connection& c, const header& h, const req::get_quota& r, time_point now) {
  if (!r.quota) {  // the list of quota names in force
    std::string names;
    for (const quota_info& q : quota_table) {
      if (!names.empty()) names += ' ';
      names += q.name;
      if (q.soft) {
        names += " soft-";
        names += q.name;
      }
    }
    return reply_with(c, h, now, [&](std::string& out) { return write_string_reply(out, h, names); });
  }
  auto name = parse_quota_name(*r.quota);
  if (!name) return xs_fail(xs_error::einval);
  const quota_values* values = &config.quotas;
  if (r.domid) {
    const domain_state* d = find_domain(*r.domid);
    if (!d) return xs_fail(xs_error::enoent);
    values = &d->quotas;
  }
  std::uint32_t v = values->get(name->which, name->soft);
  return reply_with(c, h, now, [&](std::string& out) { return write_number_reply(out, h, v); });
}

handled core_impl::op_set_quota(connection& c, const header& h, const req::set_quota& r, time_point now) {
  auto name = parse_quota_name(r.quota);
  if (!name || r.value == UINT32_MAX) return xs_fail(xs_error::einval);  // UINT_MAX means "no such quota" in C
  if (r.domid) {
    domain_state* d = find_domain(*r.domid);
    if (!d) return xs_fail(xs_error::enoent);
    d->quotas.set(name->which, name->soft, r.value);
  } else {
    config.quotas.set(name->which, name->soft, r.value);
  }
  reply_ok(c, h, now);
  return {};
}

}  // namespace xenwire::xenstore::detail
