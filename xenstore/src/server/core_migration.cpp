// Live update, sans-I/O: the core's state as migration records (export_state) and a fresh core
// rebuilt from them (import_state). The bytes are xenwire::xenstore_migration's business.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "core_state.hpp"

namespace xenwire::xenstore {

namespace mig = migration;

namespace {

// xenwire's one addition to the stream, readable by any reader of the document: a pending NODE
// record of a transaction for @introduceDomain (which no transaction can touch) says the
// transaction had already conflicted; the importer dooms it, so its commit answers EAGAIN as it
// would have. C xenstored writes no transactions and ignores TRANSACTION_DATA.
constexpr std::string_view doomed_marker_path = introduce_domain_path;

std::vector<mig::quota_value> quota_list(const quota_values& q) {
  std::vector<mig::quota_value> out;
  for (std::size_t i = 0; i < quota_count; ++i) {
    out.push_back({std::string(quota_table[i].name), q.hard[i]});
    if (quota_table[i].soft != 0) out.push_back({"soft-" + std::string(quota_table[i].name), q.soft[i]});
  }
  return out;
}

// Known names set their value; others are ignored (the design document says so).
void apply_quotas(const std::vector<mig::quota_value>& list, quota_values& q) {
  for (const auto& v : list)
    if (auto n = parse_quota_name(v.name)) q.set(n->which, n->soft, v.value);
}

// Queues a connection's unsent output again frame by frame, so quotas, duplicate suppression and
// event expiry see what they would have seen. The first `partial` bytes finish a frame that was
// partly sent: they go out first as they are.
result<void> restore_output(detail::core_impl& s, detail::connection& c, std::string_view bytes, std::size_t partial,
                            time_point now) {
  using detail::output_queue;
  if (partial > bytes.size()) return fail(errc::invalid_argument);
  if (partial > 0) {
    c.out.push_rest(std::string(bytes.substr(0, partial)), output_queue::kind::reply);
    s.account_other_memory(c, static_cast<std::ptrdiff_t>(partial));
    if (c.opts.kind != conn_kind::socket)
      if (detail::domain_state* d = s.find_domain(c.domid())) ++d->outstanding;
    s.mark_ready(c);
    bytes.remove_prefix(partial);
  }
  while (!bytes.empty()) {
    header h{};
    if (bytes.size() < header_size) return fail(errc::invalid_argument);
    std::memcpy(&h, bytes.data(), header_size);
    if (h.len > payload_max || bytes.size() - header_size < h.len) return fail(errc::invalid_argument);
    std::string frame(bytes.substr(0, header_size + h.len));
    bytes.remove_prefix(frame.size());
    if (h.type != static_cast<std::uint32_t>(msg_type::watch_event)) {
      s.queue_reply(c, std::move(frame), now);
      continue;
    }
    const std::size_t n = frame.size();
    if (c.out.push(std::move(frame), output_queue::kind::event, now)) {
      s.mark_ready(c);
      if (!c.privileged) s.event_expiry.insert(c.id);
      s.account_other_memory(c, static_cast<std::ptrdiff_t>(n));
    }
  }
  return {};
}

// A transaction's pending nodes as the design document has them: each node it touched, as its own
// view has it, with access `written` if it changed it, else `read`; a node absent from its view
// (deleted by it, or looked for and not found) as the document's deletion: no access, perms or
// value. One that already conflicted (its commit would answer EAGAIN) also gets xenwire's doom
// marker (see doomed_marker_path).
void export_transaction(const detail::core_impl& s, conn_id conn, std::uint32_t tx_id,
                        const detail::open_transaction& t, std::vector<mig::record>& r) {
  r.push_back(mig::transaction_record{conn, tx_id});
  for (const auto& touched : t.tx->touched_nodes()) {
    std::string path(touched.path);
    const store_node* n = t.tx->peek(path);
    if (n == nullptr) {
      r.push_back(mig::node_record{conn, tx_id, 0, {}, std::move(path), {}});
      continue;
    }
    const std::uint16_t access = touched.modified ? mig::node_access_written : mig::node_access_read;
    r.push_back(
        mig::node_record{conn, tx_id, access, node_perms(n->perms()), std::move(path), std::string(n->value())});
  }
  if (t.doomed || s.db.conflicts(*t.tx))
    r.push_back(mig::node_record{conn, tx_id, mig::node_access_read, {{0, perm::none}},
                                 std::string(doomed_marker_path), {}});
}

// A pending node as the document allows it: known access bits; a deletion (no access) without
// perms or value; anything else with perms; no special node but xenwire's doom marker (read).
bool valid_pending(const mig::node_record& n) {
  if (n.access & ~(mig::node_access_read | mig::node_access_written)) return false;
  if (n.access == 0) return n.perms.empty() && n.value.empty();
  if (n.perms.empty()) return false;
  if (n.path.starts_with('@')) return n.path == doomed_marker_path && n.access == mig::node_access_read;
  return true;
}

// Brings the transaction's own view of one node to what the record says, through the normal
// transaction code (so the transaction-nodes quota and the accounting delta apply). Reading first
// records the access with the node's generation now, as the original's first touch did.
result<void> replay_node(store_transaction& tx, const creator& me, const mig::node_record& n, bool& doomed) {
  auto cur = tx.read(n.path);
  if (!cur && cur.error() != xs_error::enoent) return fail(errc::invalid_argument);
  const store_node* now = cur ? cur->get() : nullptr;
  if (n.access == 0) {  // the document's deletion
    if (now != nullptr && !tx.rm(n.path)) return fail(errc::invalid_argument);
    return {};
  }
  if (!(n.access & mig::node_access_written)) {
    // Only read: it must still be what the transaction saw, else the transaction has conflicted.
    if (now == nullptr || now->value() != n.value || now->perms() != n.perms) doomed = true;
    return {};
  }
  if (now == nullptr || now->value() != n.value) {
    if (!tx.write(n.path, n.value, me)) return fail(errc::invalid_argument);
    now = tx.peek(n.path);
  }
  if (now == nullptr || now->perms() != n.perms)
    if (!tx.set_perms(n.path, n.perms)) return fail(errc::invalid_argument);
  return {};
}

// Re-opens one transaction on its connection: quotas are charged as by TRANSACTION_START, then
// its nodes are replayed parents first. Its snapshot is the store as imported. A doomed one only
// keeps a view to read: what its replay cannot redo (the store moved on under it) is left out.
result<void> import_transaction(detail::core_impl& s, detail::connection& c, std::uint32_t tx_id,
                                std::vector<const mig::node_record*> nodes, time_point now) {
  if (!std::all_of(nodes.begin(), nodes.end(), [](const auto* n) { return valid_pending(*n); }))
    return fail(errc::invalid_argument);
  auto t = s.begin_transaction(c, tx_id, now);
  if (!t) return fail(errc::invalid_argument);
  bool doomed = std::erase_if(nodes, [](const auto* n) { return n->path == doomed_marker_path; }) > 0;
  const bool marked = doomed;
  std::sort(nodes.begin(), nodes.end(), [](const auto* a, const auto* b) { return a->path < b->path; });
  const creator me{c.domid(), c.privileged};
  for (const mig::node_record* n : nodes)
    if (auto r = replay_node(*(*t)->tx, me, *n, doomed); !r && !marked) return r;
  (*t)->doomed = doomed;
  // The next TRANSACTION_START must not hand out an id in use (it skips open ones anyway).
  if (tx_id >= c.next_tx_id) c.next_tx_id = tx_id + 1;
  return {};
}

}  // namespace

result<mig::stream> detail::export_state(const core_impl& s, const export_options& opt) {
  const bool v2 = opt.version == mig::stream_version::v2;
  if (!s.introductions.empty()) return fail(errc::would_block);
  mig::stream out{{opt.version, mig::byte_order::little}, {}};
  auto& r = out.records;
  r.push_back(mig::global_record{-1, -1});
  r.push_back(mig::global_quota_record{quota_list(s.config.quotas), {}});

  std::vector<conn_id> ids;
  for (const auto& [id, c] : s.conns) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (conn_id id : ids) {
    const detail::connection& c = *s.conns.at(id);
    if (c.dropping) continue;
    if (c.awaiting_introduce) return fail(errc::would_block);
    if (!c.transactions.empty() && !opt.drop_transactions && !opt.keep_transactions) return fail(errc::would_block);
    const detail::pending_live_update* answered = nullptr;
    for (const auto& p : s.live_updates) {
      if (p.requester != id) continue;
      if (!opt.answer || opt.answer->first != p.token) return fail(errc::would_block);
      answered = &p;
    }
    mig::connection_record rec;
    rec.conn_id = id;
    switch (c.opts.kind) {
      case conn_kind::socket:
        if (c.opts.read_only) return fail(errc::not_supported);
        rec.spec = mig::socket_spec{opt.socket_fd(id)};
        break;
      case conn_kind::ring: {
        auto d = s.domains.find(c.domid());
        if (d == s.domains.end()) return fail(errc::no_such_domain);
        rec.spec = mig::ring_spec{c.domid(), d->second.target.value_or(mig::domid_invalid), d->second.port};
        break;
      }
      case conn_kind::guest_socket:
        return fail(errc::not_supported);
    }
    rec.unprocessed_input.assign(c.decoder.partial());
    rec.unprocessed_input.append(opt.held_input(id));
    if (rec.unprocessed_input.size() > 0xFFFF) return fail(errc::would_block);  // the record's u16
    std::size_t partial = 0;
    rec.unsent_output = c.out.unsent(partial);
    rec.partial_response_len = static_cast<std::uint16_t>(partial);  // a frame is < 4 KiB + 16
    if (answered) {
      std::string reply;
      if (!write_string_reply(reply, answered->h, opt.answer->second)) return fail(errc::invalid_argument);
      rec.unsent_output += reply;
    }
    r.push_back(std::move(rec));
    for (const detail::watch* w : s.watches.of(id)) {
      std::string path(w->event_path(w->node));
      if (w->depth < 0) {
        r.push_back(mig::watch_record{id, std::move(path), w->token});
      } else {
        if (!v2) return fail(errc::not_supported);
        const auto depth = static_cast<std::uint16_t>(std::min(w->depth, 0xFFFE));
        r.push_back(mig::watch_extended_record{id, std::move(path), w->token, depth});
      }
    }
    if (opt.keep_transactions)
      for (const auto& [tx_id, t] : c.transactions) export_transaction(s, id, tx_id, t, r);
  }

  // Nodes, parents first; children in the store's (sorted) order.
  struct item {
    std::string path;
    node_ref node;
  };
  std::vector<item> stack{{"/", s.db.snapshot().root()}};
  while (!stack.empty()) {
    item it = std::move(stack.back());
    stack.pop_back();
    r.push_back(mig::node_record{0, 0, 0, node_perms(it.node->perms()), it.path, std::string(it.node->value())});
    std::vector<item> kids;
    for (auto cur = it.node->children().begin(); !cur.done(); cur.next())
      kids.push_back({(it.path == "/" ? "/" : it.path + "/") + std::string(cur.name()), cur.shared_node()});
    std::move(kids.rbegin(), kids.rend(), std::back_inserter(stack));
  }
  r.push_back(mig::node_record{0, 0, 0, s.special_perms[1], std::string(release_domain_path), {}});
  r.push_back(mig::node_record{0, 0, 0, s.special_perms[0], std::string(introduce_domain_path), {}});

  for (const auto& [domid, d] : s.domains) {
    std::vector<mig::quota_value> q = quota_list(d.quotas);
    r.push_back(mig::domain_record{domid, v2 ? d.features : 0U, std::move(q)});
  }
  r.push_back(mig::end_record{});
  return out;
}

result<std::vector<imported_connection>> detail::import_state(core_impl& s, mig::stream& in, time_point now) {
  if (!s.conns.empty() || !s.domains.empty() || s.db.node_count() != 1) return fail(errc::invalid_argument);

  // Pass 1: quotas, nodes and domains, so that connections find their homes and domain records.
  // The nodes go into the store at once (a write each would copy paths: ~20 µs a node).
  std::vector<loaded_node> nodes;
  nodes.reserve(in.records.size());
  for (mig::record& rec : in.records) {
    if (const auto* g = std::get_if<mig::global_quota_record>(&rec)) {
      apply_quotas(g->per_domain, s.config.quotas);
      apply_quotas(g->global_only, s.config.quotas);
    } else if (auto* n = std::get_if<mig::node_record>(&rec)) {
      if (n->conn_id != 0) continue;  // a transaction's: replayed once connections exist
      if (n->perms.empty()) return fail(errc::invalid_argument);
      if (n->path == release_domain_path) {
        s.special_perms[1] = n->perms;
        continue;
      }
      if (n->path == introduce_domain_path) {
        s.special_perms[0] = n->perms;
        continue;
      }
      // Parents come first (pre-order): a node whose parent is missing is a broken state, not a
      // request to create it; load refuses it, and duplicates.
      nodes.push_back({std::move(n->path), std::move(n->value), std::move(n->perms)});
    } else if (const auto* d = std::get_if<mig::domain_record>(&rec)) {
      detail::domain_state& ds = s.domain_for(d->domid);
      if (in.pre.version == mig::stream_version::v2) ds.features = d->features;
      apply_quotas(d->quotas, ds.quotas);
    }
  }
  if (auto r = s.db.load(std::move(nodes)); !r) return fail(errc::invalid_argument);
  // Pass 2: connections (a ring introduces its domain: its home exists already), then watches.
  std::vector<imported_connection> opened;
  std::map<std::uint32_t, conn_id> by_stream_id;
  std::set<domid_t> ring_domains;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<const mig::node_record*>> transactions;
  for (const mig::record& rec : in.records) {
    if (const auto* t = std::get_if<mig::transaction_record>(&rec)) {
      const bool fresh = transactions.try_emplace({t->conn_id, t->tx_id}).second;
      if (!by_stream_id.contains(t->conn_id) || t->tx_id == 0 || !fresh) return fail(errc::invalid_argument);
      continue;
    }
    if (const auto* n = std::get_if<mig::node_record>(&rec); n && n->conn_id != 0) {
      auto it = transactions.find({n->conn_id, n->tx_id});
      if (it == transactions.end()) return fail(errc::invalid_argument);
      it->second.push_back(n);
      continue;
    }
    if (const auto* c = std::get_if<mig::connection_record>(&rec)) {
      if (by_stream_id.contains(c->conn_id)) return fail(errc::invalid_argument);
      conn_id id;
      if (const auto* ring = std::get_if<mig::ring_spec>(&c->spec)) {
        // One ring per domain, and only a real domain has one.
        if (ring->domid >= domid_first_reserved || !ring_domains.insert(ring->domid).second)
          return fail(errc::invalid_argument);
        detail::domain_state& d = s.domain_for(ring->domid);
        // Introduced already, as the stream's store shows it: no home is made (C's own dom0 ring
        // has none) and @introduceDomain does not fire again.
        if (!d.introduced) {
          d.introduced = true;
          d.credit.start(now, s.config.write_rate);
        }
        id = s.open({conn_kind::ring, ring->domid, false}, now);
        d.port = ring->evtchn;
        if (ring->target_domid != mig::domid_invalid) d.target = ring->target_domid;
      } else {
        id = s.open({conn_kind::socket, 0, false}, now);
      }
      if (auto r = restore_output(s, *s.find(id), c->unsent_output, c->partial_response_len, now); !r)
        return fail(r.error());
      by_stream_id[c->conn_id] = id;
      opened.push_back({c->conn_id, id, c->unprocessed_input});
      continue;
    }
    const std::uint32_t* owner = nullptr;
    const std::string* path = nullptr;
    const std::string* token = nullptr;
    int depth = -1;
    if (const auto* w = std::get_if<mig::watch_record>(&rec)) {
      owner = &w->conn_id, path = &w->path, token = &w->token;
    } else if (const auto* x = std::get_if<mig::watch_extended_record>(&rec)) {
      owner = &x->conn_id, path = &x->path, token = &x->token;
      if (x->depth && *x->depth != mig::depth_unlimited) depth = *x->depth;
    } else {
      continue;
    }
    auto it = by_stream_id.find(*owner);
    if (it == by_stream_id.end()) return fail(errc::invalid_argument);
    detail::connection& c = *s.find(it->second);
    auto resolved = s.resolve(c, *path, /*allow_special=*/true);
    if (!resolved) return fail(errc::invalid_argument);
    const std::size_t prefix = resolved->relative ? domain_home(c.domid()).size() + 1 : 0;
    const detail::watch* w = s.watches.add(c.id, resolved->path, *token, depth, prefix);
    if (!w) return fail(errc::invalid_argument);
    if (c.opts.kind != conn_kind::socket) {
      if (detail::domain_state* d = s.find_domain(c.domid())) {
        ++d->watches;
        d->other_memory += w->accounted_bytes();
      }
    }
  }
  for (const auto& [key, tx_nodes] : transactions)
    if (auto r = import_transaction(s, *s.find(by_stream_id.at(key.first)), key.second, tx_nodes, now); !r)
      return fail(r.error());
  // Nothing happened that an adapter must act on: the connections are its own. Those with output
  // to send are listed again below.
  s.effects.clear();
  for (auto& [id, c] : s.conns) {
    c->listed_ready = false;
    if (!c->out.empty()) s.mark_ready(*c);
  }
  return opened;
}

}  // namespace xenwire::xenstore
