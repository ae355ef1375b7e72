// Domain management: INTRODUCE, RELEASE, RESUME, SET_TARGET, GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED,
// GET/SET_FEATURE, GET/SET_QUOTA (tools/xenstored/domain.c semantics).
#include <algorithm>
#include <charconv>

#include "core_state.hpp"
#include "xenwire/xenstore/replies.hpp"

namespace xenwire::xenstore::detail {

namespace {
constexpr domid_t domid_first_reserved = 0x7FF0;  // DOMID_FIRST_RESERVED: DOMID_SELF and friends
}

handled core_impl::op_introduce(connection& c, const header& h, const req::introduce& r, time_point now) {
  if (r.evtchn == 0 || r.domid >= domid_first_reserved) return xs_fail(xs_error::einval);
  // One introduction of a domain at a time: a second waits for the first to complete and then runs
  // as it would have after it (repeated INTRODUCE, or a new attempt if the first failed).
  for (const pending_introduce& p : introductions) {
    if (p.r.domid == r.domid) {
      introductions.push_back({0, c.id, h, r});
      c.awaiting_introduce = true;
      return {};
    }
  }
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
  domain_state& d = domain_for(r.domid);
  d.gfn = r.gfn;
  d.port = r.evtchn;
  // The adapter maps the page and binds the port, then calls complete_introduce(). Until then the
  // requester is not read from, so its later requests are answered after this one.
  const introduce_token token = next_token++;
  introductions.push_back({token, c.id, h, r});
  c.awaiting_introduce = true;
  effects.emplace_back(effect::introduce_domain{token, r.domid, r.gfn, r.evtchn});
  return {};
}

result<conn_id> core_impl::complete_introduce(introduce_token token, result<void> mapped, time_point now) {
  auto it = std::find_if(introductions.begin(), introductions.end(),
                         [token](const pending_introduce& p) { return token != 0 && p.token == token; });
  if (it == introductions.end()) return fail(errc::invalid_argument);
  const pending_introduce p = *it;
  introductions.erase(it);
  connection* requester = p.requester ? find(p.requester) : nullptr;
  if (requester) requester->awaiting_introduce = false;
  result<conn_id> out;
  if (mapped && !p.cancelled) {
    // The ring connection introduces the domain (home path, @introduceDomain) before the reply.
    out = open({conn_kind::ring, p.r.domid, false}, now);
    if (requester) reply_ok(*requester, p.h, now);
  } else {
    const std::error_code why = mapped ? make_error_code(errc::domain_dying) : mapped.error();
    logf(log_level::warn, "INTRODUCE of domain ", p.r.domid, " failed: ", why.message());
    if (domain_state* dd = find_domain(p.r.domid); dd && !dd->introduced && dd->conns.empty())
      domains.erase(p.r.domid);
    if (requester) reply_error(*requester, p.h, xs_error::einval, now);
    out = fail(why);
  }
  if (requester) mark_ready(*requester);  // its held-back input may be offered again
  run_waiting_introductions(p.r.domid, now);
  return out;
}

void core_impl::run_waiting_introductions(domid_t domid, time_point now) {
  for (;;) {
    auto it = std::find_if(introductions.begin(), introductions.end(),
                           [domid](const pending_introduce& p) { return p.token == 0 && p.r.domid == domid; });
    if (it == introductions.end()) return;
    const pending_introduce p = *it;
    introductions.erase(it);
    connection* c = p.requester ? find(p.requester) : nullptr;
    if (!c) continue;
    c->awaiting_introduce = false;
    if (handled r = op_introduce(*c, p.h, p.r, now); !r) reply_error(*c, p.h, r.error(), now);
    mark_ready(*c);
    if (c->awaiting_introduce) return;  // it started a new introduction: the rest wait for that one
  }
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
