// WATCH, UNWATCH, RESET_WATCHES (tools/xenstored/watch.c semantics).
#include <charconv>

#include "core_state.hpp"
#include "xenwire/xenstore/replies.hpp"

namespace xenwire::xenstore::detail {

namespace {
// Bytes of "<home>/" stripped from a relative watch's event paths.
std::size_t relative_prefix(domid_t domid) { return domain_home(domid).size() + 1; }
}  // namespace

handled core_impl::op_watch(connection& c, const header& h, const req::watch& r, time_point now) {
  int depth = -1;
  if (r.depth) {
    if (!feature_enabled(c, xenstore::feature::watch_depth)) return xs_fail(xs_error::einval);
    if (*r.depth > static_cast<std::uint32_t>(INT32_MAX)) return xs_fail(xs_error::einval);
    depth = static_cast<int>(*r.depth);
  }
  auto path = resolve(c, r.path, /*allow_special=*/true);
  if (!path) return xs_fail(path.error());
  std::size_t prefix = path->relative ? relative_prefix(c.domid()) : 0;

  domain_state* d = c.opts.kind == conn_kind::socket ? nullptr : find_domain(c.domid());
  if (d && !c.privileged) {
    if (std::uint32_t q = d->quotas.get(quota::watches); q && d->watches + 1 > q) return xs_fail(xs_error::enospc);
    std::size_t bytes = path->path.size() + r.token.size();
    if (std::uint32_t q = d->quotas.get(quota::memory); q && db.usage(c.domid()).memory + d->other_memory + bytes > q)
      return xs_fail(xs_error::enomem);
  }
  const watch* w = watches.add(c.id, path->path, std::string(r.token), depth, prefix);
  if (!w) return xs_fail(xs_error::eexist);
  if (d) {
    ++d->watches;
    d->other_memory += w->accounted_bytes();
  }
  reply_ok(c, h, now);
  // Fires once up front (clients rely on it; not linked to the WATCH request).
  queue_event(c, w->event_path(w->node), w->token, now);
  return {};
}

handled core_impl::op_unwatch(connection& c, const header& h, const req::unwatch& r, time_point now) {
  auto path = resolve(c, r.path, /*allow_special=*/true);
  if (!path) return xs_fail(path.error());
  auto bytes = watches.remove(c.id, path->path, r.token);
  if (!bytes) return xs_fail(xs_error::enoent);
  if (c.opts.kind != conn_kind::socket) {
    if (domain_state* d = find_domain(c.domid())) {
      d->watches -= std::min<std::size_t>(d->watches, 1);
      d->other_memory -= std::min(d->other_memory, *bytes);
    }
  }
  reply_ok(c, h, now);
  return {};
}

handled core_impl::op_reset_watches(connection& c, const header& h, time_point now) {
  // Drops watches and transactions but keeps queued output: replies already owed still go out.
  drop_watches_and_transactions(c);
  reply_ok(c, h, now);
  return {};
}

}  // namespace xenwire::xenstore::detail
