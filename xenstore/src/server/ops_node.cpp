// Node requests: READ, DIRECTORY, DIRECTORY_PART, GET_PERMS, WRITE, MKDIR, RM, SET_PERMS, inside or
// outside a transaction (tools/xenstored/core.c semantics, incl. its permission and errno rules).
#include "core_state.hpp"
#include "xenwire/xenstore/replies.hpp"

namespace xenwire::xenstore::detail {

namespace {

// Reads through a transaction's view when there is one.
xs_result<node_ref> read_node(core_impl& s, transaction* tx, std::string_view path) {
  return tx ? tx->read(path) : s.db.read(path);
}

// The node at canonical `path` below `root`, or nullptr. A loop: no recursion on guest-shaped paths.
const store_node* lookup(const node_ref& root, std::string_view path) {
  const store_node* n = root.get();
  std::size_t i = 1;
  while (n && i < path.size()) {
    std::size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    n = n->children().find(path.substr(i, slash - i));
    i = slash + 1;
  }
  return n;
}

// get_node() + errno_from_parents(): an existing node needs `want`; a missing one is ENOENT only if
// its nearest existing ancestor grants `want` — otherwise the caller may not even learn that
// (EACCES).
xs_result<node_ref> checked_node(core_impl& s, const connection& c, transaction* tx, std::string_view path,
                                 perm want) {
  accessor a = s.who(c);
  auto n = read_node(s, tx, path);
  if (n) {
    if (!can_access((*n)->perms(), a, want)) return xs_fail(xs_error::eacces);
    return n;
  }
  if (n.error() != xs_error::enoent) return n;
  // Probe ancestors in the same view, without recording them as transaction accesses.
  node_ref root = tx ? tx->root() : s.db.snapshot().root();
  std::string_view up = path;
  while (auto p = parent(up)) {
    up = *p;
    if (const store_node* an = lookup(root, up))
      return can_access(an->perms(), a, want) ? xs_fail(xs_error::enoent) : xs_fail(xs_error::eacces);
  }
  return xs_fail(xs_error::enoent);
}

xs_result<resolved_path> resolve_node(const core_impl& s, const connection& c, std::string_view sent) {
  auto p = s.resolve(c, sent, false);
  if (!p) return p;
  if (p->special) return xs_fail(xs_error::einval);
  return p;
}

// The node a modifying request names: a read-only connection gets EROFS before anything else.
xs_result<resolved_path> resolve_for_write(const core_impl& s, const connection& c, std::string_view sent) {
  if (!c.can_write()) return xs_fail(xs_error::erofs);
  return resolve_node(s, c, sent);
}

}  // namespace

// Quotas that depend on what a change would add: nodes and memory per domain (after the change,
// counting the transaction's own pending delta), and the node-size limit.
static handled check_plan(core_impl& s, const connection& c, transaction* tx, const pending_change& plan) {
  if (c.privileged) return {};
  const domid_t me = c.domid();
  auto mine = plan.delta().find(me);
  if (mine == plan.delta().end()) return {};
  domain_state* d = s.find_domain(me);
  if (!d) return {};
  auto base = s.db.usage(me);
  std::int64_t nodes = static_cast<std::int64_t>(base.nodes) + mine->second.nodes;
  std::int64_t memory = static_cast<std::int64_t>(base.memory) + mine->second.memory;
  if (tx) {
    if (auto t = tx->delta().find(me); t != tx->delta().end()) {
      nodes += t->second.nodes;
      memory += t->second.memory;
    }
  }
  if (std::uint32_t q = d->quotas.get(quota::nodes); q && mine->second.nodes > 0 && nodes > q)
    return xs_fail(xs_error::enospc);
  if (std::uint32_t q = d->quotas.get(quota::memory);
      q && mine->second.memory > 0 && memory + static_cast<std::int64_t>(d->other_memory) > q)
    return xs_fail(xs_error::enomem);
  return {};
}

template <class Plan>
static xs_result<change_set> plan_and_apply(core_impl& s, const connection& c, transaction* tx, Plan&& make_plan) {
  auto plan = tx ? make_plan(*tx) : make_plan(s.db);
  if (!plan) return xs_fail(plan.error());
  if (auto ok = check_plan(s, c, tx, *plan); !ok) return xs_fail(ok.error());
  return tx ? tx->apply(std::move(*plan)) : s.db.apply(std::move(*plan));
}

// Rate limiting, write access and the events of a change made outside a transaction.
static handled finish_write(core_impl& s, connection& c, transaction* tx, const header& h,
                            const xs_result<change_set>& r, time_point now) {
  if (!r) return xs_fail(r.error());
  if (!tx) {
    if (!c.privileged)
      if (domain_state* d = s.find_domain(c.domid())) d->credit.charge(now, s.config.write_rate, s.credit_reserve);
    s.fire_changes(*r, now);
  }
  s.reply_ok(c, h, now);
  return {};
}

handled core_impl::op_read(connection& c, const header& h, transaction* tx, const req::read& r, time_point now) {
  auto path = resolve_node(*this, c, r.path);
  if (!path) return xs_fail(path.error());
  auto n = checked_node(*this, c, tx, path->path, perm::read);
  if (!n) return xs_fail(n.error());
  return reply_with(c, h, now, [&](std::string& out) { return write_raw_reply(out, h, (*n)->value()); });
}

handled core_impl::op_get_perms(connection& c, const header& h, transaction* tx, const req::get_perms& r,
                                time_point now) {
  auto path = resolve(c, r.path, /*allow_special=*/true);
  if (!path) return xs_fail(path.error());
  if (path->special) {
    if (path->special->kind == special_kind::release_one_domain) return xs_fail(xs_error::enoent);
    const node_perms& sp = special_perms[path->special->kind == special_kind::introduce_domain ? 0 : 1];
    if (!can_access(sp, who(c), perm::read)) return xs_fail(xs_error::eacces);
    return reply_with(c, h, now, [&](std::string& out) { return write_perms_reply(out, h, sp); });
  }
  auto n = checked_node(*this, c, tx, path->path, perm::read);
  if (!n) return xs_fail(n.error());
  return reply_with(c, h, now, [&](std::string& out) { return write_perms_reply(out, h, (*n)->perms()); });
}

handled core_impl::op_directory(connection& c, const header& h, transaction* tx, const req::directory& r,
                                time_point now) {
  auto path = resolve_node(*this, c, r.path);
  if (!path) return xs_fail(path.error());
  auto n = checked_node(*this, c, tx, path->path, perm::read);
  if (!n) return xs_fail(n.error());
  const child_map& kids = (*n)->children();
  if (kids.name_bytes() > xenstore::payload_max) return xs_fail(xs_error::e2big);
  std::string buf = c.out.take_buffer();
  message_writer w(buf, h.type, h.req_id, h.tx_id);
  for (auto cur = kids.begin(); !cur.done(); cur.next()) w.arg(cur.name());
  if (auto ok = w.finish(); !ok) {
    c.out.recycle(std::move(buf));
    return ok;
  }
  queue_reply(c, std::move(buf), now);
  return {};
}

handled core_impl::op_directory_part(connection& c, const header& h, transaction* tx, const req::directory_part& r,
                                     time_point now) {
  auto path = resolve_node(*this, c, r.path);
  if (!path) return xs_fail(path.error());
  auto n = checked_node(*this, c, tx, path->path, perm::read);
  if (!n) return xs_fail(n.error());
  const child_map& kids = (*n)->children();
  // The reply carries as many whole names from `offset` as fit, then "\0" once the list ends.
  std::string list;
  const std::size_t room = xenstore::payload_max - 24;  // "gencnt\0" + final "\0"
  bool complete = true;
  for (auto cur = kids.from_byte_offset(r.offset); !cur.done(); cur.next()) {
    if (list.size() + cur.name().size() + 1 > room) {
      complete = false;
      break;
    }
    list.append(cur.name()).push_back('\0');
  }
  std::string gen = std::to_string((*n)->generation());
  return reply_with(c, h, now, [&](std::string& out) -> xs_result<void> {
    message_writer w(out, h.type, h.req_id, h.tx_id);
    w.arg(gen).raw(list);
    if (complete) w.raw(std::string_view("\0", 1));
    return w.finish();
  });
}

handled core_impl::op_write(connection& c, const header& h, transaction* tx, const req::write& r, time_point now) {
  auto path = resolve_for_write(*this, c, r.path);
  if (!path) return xs_fail(path.error());
  if (std::uint32_t q = quota_of(c, quota::node_size); q && r.value.size() > q) return xs_fail(xs_error::enospc);
  if (auto n = checked_node(*this, c, tx, path->path, perm::write); !n && n.error() != xs_error::enoent)
    return xs_fail(n.error());
  creator me{c.domid(), c.privileged};
  auto res = plan_and_apply(*this, c, tx, [&](auto& view) { return view.plan_write(path->path, r.value, me); });
  return finish_write(*this, c, tx, h, res, now);
}

handled core_impl::op_mkdir(connection& c, const header& h, transaction* tx, const req::mkdir& r, time_point now) {
  auto path = resolve_for_write(*this, c, r.path);
  if (!path) return xs_fail(path.error());
  auto n = checked_node(*this, c, tx, path->path, perm::write);
  if (n) {  // exists and writable: nothing to do
    reply_ok(c, h, now);
    return {};
  }
  if (n.error() != xs_error::enoent) return xs_fail(n.error());
  creator me{c.domid(), c.privileged};
  auto res = plan_and_apply(*this, c, tx, [&](auto& view) { return view.plan_mkdir(path->path, me); });
  return finish_write(*this, c, tx, h, res, now);
}

handled core_impl::op_rm(connection& c, const header& h, transaction* tx, const req::rm& r, time_point now) {
  auto path = resolve_for_write(*this, c, r.path);
  if (!path) return xs_fail(path.error());
  auto n = checked_node(*this, c, tx, path->path, perm::write);
  if (!n) {
    if (n.error() != xs_error::enoent) return xs_fail(n.error());
    // Didn't exist already? Fine, if the parent exists (C xenstored).
    auto p = parent(path->path);
    if (p && read_node(*this, tx, *p)) {
      reply_ok(c, h, now);
      return {};
    }
    return xs_fail(xs_error::enoent);
  }
  if (path->path == "/") return xs_fail(xs_error::einval);
  auto res = plan_and_apply(*this, c, tx, [&](auto& view) { return view.plan_rm(path->path); });
  return finish_write(*this, c, tx, h, res, now);
}

handled core_impl::op_set_perms(connection& c, const header& h, transaction* tx, const req::set_perms& r,
                                time_point now) {
  if (!c.can_write()) return xs_fail(xs_error::erofs);
  if (std::uint32_t q = quota_of(c, quota::node_permissions); q && r.perms.size() > q) return xs_fail(xs_error::enospc);
  // A DOMID_ANY entry from a domain that has not the DOMID_ANY feature is kept but ignored (C's
  // domain_alloc_permrefs); an ignored owner is refused with ENOENT, as C does.
  node_perms perms = r.perms;
  const bool any_allowed = feature_enabled(c, xenstore::feature::domid_any);
  for (perm_entry& e : perms) e.ignored = e.domid == domid_any && !any_allowed;
  if (perms.front().ignored) return xs_fail(xs_error::enoent);
  auto path = resolve(c, r.path, /*allow_special=*/true);
  if (!path) return xs_fail(path.error());
  accessor a = who(c);
  if (path->special) {  // @introduceDomain / @releaseDomain: who may watch them
    if (path->special->kind == special_kind::release_one_domain) return xs_fail(xs_error::enoent);
    node_perms& sp = special_perms[path->special->kind == special_kind::introduce_domain ? 0 : 1];
    if (!has_owner_rights(sp, a)) return xs_fail(xs_error::eacces);
    if (!c.privileged && perms.front().domid != sp.front().domid) return xs_fail(xs_error::eperm);
    sp = std::move(perms);
    reply_ok(c, h, now);
    return {};
  }
  auto n = checked_node(*this, c, tx, path->path, perm::write);
  if (!n) return xs_fail(n.error());
  if (!has_owner_rights((*n)->perms(), a)) return xs_fail(xs_error::eacces);
  // Only the privileged may give a node away (XSA-352).
  if (!c.privileged && perms.front().domid != (*n)->owner()) return xs_fail(xs_error::eperm);
  auto res = plan_and_apply(*this, c, tx, [&](auto& view) { return view.plan_set_perms(path->path, std::move(perms)); });
  return finish_write(*this, c, tx, h, res, now);
}

}  // namespace xenwire::xenstore::detail
