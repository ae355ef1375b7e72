// TRANSACTION_START / TRANSACTION_END: O(1) snapshots in the store; events fire only on commit.
#include "core_state.hpp"
#include "xenwire/xenstore/replies.hpp"

namespace xenwire::xenstore::detail {

xs_result<open_transaction*> core_impl::begin_transaction(connection& c, std::uint32_t id, time_point now) {
  domain_state* d = c.opts.kind == conn_kind::socket ? nullptr : find_domain(c.domid());
  if (d && !c.privileged) {
    if (std::uint32_t q = d->quotas.get(quota::transactions); q && d->transactions + 1 > q)
      return xs_fail(xs_error::enospc);
  }
  auto tx = std::make_unique<transaction>(db.begin(quota_of(c, quota::transaction_nodes)));
  auto [it, inserted] =
      c.transactions.emplace(id, open_transaction{std::move(tx), transaction_overhead, release_count, now});
  if (!inserted) return xs_fail(xs_error::eexist);
  if (d) {
    ++d->transactions;
    d->other_memory += transaction_overhead;
  }
  return &it->second;
}

handled core_impl::op_transaction_start(connection& c, const header& h, time_point now) {
  std::uint32_t id = c.next_tx_id;
  while (id == 0 || c.transactions.contains(id)) ++id;
  if (auto t = begin_transaction(c, id, now); !t) return xs_fail(t.error());
  c.next_tx_id = id + 1;
  return reply_with(c, h, now, [&](std::string& out) { return write_number_reply(out, h, id); });
}

handled core_impl::op_transaction_end(connection& c, const header& h, const req::transaction_end& r, time_point now) {
  auto it = c.transactions.find(h.tx_id);
  open_transaction slot = std::move(it->second);
  c.transactions.erase(it);
  domain_state* d = c.opts.kind == conn_kind::socket ? nullptr : find_domain(c.domid());
  if (d) {
    d->transactions -= std::min<std::size_t>(d->transactions, 1);
    d->other_memory -= std::min(d->other_memory, slot.accounted_bytes);
  }
  if (!r.commit) {
    reply_ok(c, h, now);
    return {};
  }
  if (slot.doomed) {
    ++counters.transactions_conflicted;
    return xs_fail(xs_error::eagain);
  }
  // The domain's quotas must hold for what the transaction adds as a whole.
  if (d && !c.privileged) {
    if (auto mine = slot.tx->delta().find(c.domid()); mine != slot.tx->delta().end()) {
      auto base = db.usage(c.domid());
      std::int64_t nodes = static_cast<std::int64_t>(base.nodes) + mine->second.nodes;
      if (std::uint32_t q = d->quotas.get(quota::nodes); q && mine->second.nodes > 0 && nodes > q)
        return xs_fail(xs_error::enospc);
    }
  }
  auto changes = db.commit(std::move(*slot.tx));
  if (!changes) {
    if (changes.error() == xs_error::eagain) ++counters.transactions_conflicted;
    return xs_fail(changes.error());
  }
  ++counters.transactions_committed;
  // A domain named by the transaction went meanwhile: its entries must not outlive it.
  if (slot.releases_at_start != release_count) drop_dead_entries(*changes, slot.releases_at_start);
  if (d && !c.privileged && !changes->empty()) d->credit.charge(now, config.write_rate, credit_reserve);
  // C xenstored and oxenstored both queue a transaction's events before its TRANSACTION_END reply.
  fire_changes(*changes, now);
  reply_ok(c, h, now);
  return {};
}

}  // namespace xenwire::xenstore::detail
