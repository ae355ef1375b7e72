// CONTROL check / fuzzer oracle: the store's invariants plus every counter the core keeps
// incrementally, recomputed from scratch.
#include "core_state.hpp"

namespace xenwire::xenstore::detail {

result<void> core_impl::check() const {
  if (auto ok = db.check(); !ok) return fail(errc::protocol_error);
  std::size_t total_watches = 0;
  for (const auto& [domid, d] : domains) {
    std::size_t watches_n = 0, tx_n = 0, outstanding = 0, other = 0;
    for (conn_id cid : d.conns) {
      const connection* c = find(cid);
      if (!c) return fail(errc::invalid_argument);  // a domain names a connection that is gone
      if (c->domid() != domid) return fail(errc::invalid_argument);
      watches_n += watches.count(cid);
      tx_n += c->transactions.size();
      outstanding += c->out.replies();
      other += c->out.bytes();
      for (const auto& [id, t] : c->transactions) other += t.accounted_bytes;
    }
    if (watches_n != d.watches || tx_n != d.transactions || outstanding != d.outstanding) return fail(errc::ring_corrupt);
    // Watch bytes: the registry does not expose per-connection bytes cheaply; the rest must fit.
    if (other > d.other_memory) return fail(errc::ring_corrupt);
  }
  for (const auto& [cid, c] : conns) total_watches += watches.count(cid);
  if (total_watches != watches.total()) return fail(errc::ring_corrupt);
  // A connection is held back for an INTRODUCE exactly while one it sent is pending.
  for (const auto& [cid, c] : conns) {
    bool pending = false;
    for (const pending_introduce& p : introductions) pending = pending || p.requester == cid;
    if (pending != c->awaiting_introduce) return fail(errc::invalid_argument);
  }
  return {};
}

}  // namespace xenwire::xenstore::detail
