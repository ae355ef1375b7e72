// server_core: connection lifecycle, input framing, output queues, domains. Request handlers live in
// ops_*.cpp, event fan-out in events.cpp.
#include "xenwire/xenstore/server/core.hpp"

#include <algorithm>
#include <variant>

#include "core_state.hpp"

namespace xenwire::xenstore {
namespace detail {

core_impl::core_impl(server_config cfg) : config(std::move(cfg)) {}

connection* core_impl::find(conn_id id) {
  auto it = conns.find(id);
  return it == conns.end() ? nullptr : it->second.get();
}
const connection* core_impl::find(conn_id id) const {
  auto it = conns.find(id);
  return it == conns.end() ? nullptr : it->second.get();
}

domain_state* core_impl::find_domain(domid_t domid) {
  auto it = domains.find(domid);
  return it == domains.end() ? nullptr : &it->second;
}

domain_state& core_impl::domain_for(domid_t domid) {
  auto [it, fresh] = domains.try_emplace(domid);
  if (fresh) {
    it->second.domid = domid;
    it->second.quotas = config.quotas;
    it->second.features = config.ring_features;
  }
  return it->second;
}

bool core_impl::is_privileged_domid(domid_t d) const {
  return d == 0 || (config.control_domain && *config.control_domain == d);
}

bool core_impl::feature_enabled(const connection& c, std::uint32_t bit) const {
  if (c.opts.kind == conn_kind::socket) return (config.ring_features & bit) != 0;
  auto it = domains.find(c.domid());
  return it != domains.end() && (it->second.features & bit) != 0;
}

accessor core_impl::who(const connection& c) const {
  accessor a{c.domid(), c.privileged, std::nullopt};
  if (auto it = domains.find(c.domid()); it != domains.end()) a.target = it->second.target;
  return a;
}

std::uint32_t core_impl::quota_of(const connection& c, quota q) const {
  if (c.privileged) return 0;
  auto it = domains.find(c.domid());
  return it == domains.end() ? config.quotas.get(q) : it->second.quotas.get(q);
}

void core_impl::log(log_level level, std::string_view message) {
  effects.emplace_back(effect::log{level, std::string(message)});
}

// --- lifecycle ---------------------------------------------------------------------------------

conn_id core_impl::open(const connection_options& options, time_point now) {
  conn_id id = next_conn++;
  while (id == 0 || conns.contains(id)) id = next_conn++;
  auto c = std::make_unique<connection>();
  c->id = id;
  c->opts = options;
  if (options.kind == conn_kind::socket) {
    c->opts.domid = 0;
    c->privileged = true;  // read-only sockets still read everything; writes get EROFS
  } else {
    c->privileged = is_privileged_domid(options.domid);
  }
  connection& ref = *c;
  conns.emplace(id, std::move(c));
  if (options.kind != conn_kind::socket) {
    domain_state& d = domain_for(ref.domid());
    d.conns.push_back(id);
    if (!d.introduced) introduce(d, now);
  }
  return id;
}

void core_impl::introduce(domain_state& d, time_point now) {
  d.introduced = true;
  d.credit.start(now, config.write_rate);
  // Guest sockets play a domain without a toolstack: give it the home a toolstack would create.
  std::string home = domain_home(d.domid);
  if (!db.read(home)) {
    node_perms perms{{d.domid, perm::none}};
    if (auto r = db.write(home, {}, creator{0, true}); r) {
      (void)db.set_perms(home, perms);
    }
  }
  logf(log_level::info, "domain ", d.domid, " introduced");
  fire_special(introduce_domain_path, d.domid, now);
}

void core_impl::drop_watches_and_transactions(connection& c) {
  auto [n, bytes] = watches.remove_all(c.id);
  std::size_t tx_bytes = 0;
  for (auto& [id, t] : c.transactions) tx_bytes += t.accounted_bytes;
  std::size_t ntx = c.transactions.size();
  c.transactions.clear();
  if (domain_state* d = find_domain(c.domid()); d && c.opts.kind != conn_kind::socket) {
    d->watches -= std::min(d->watches, n);
    d->transactions -= std::min(d->transactions, ntx);
    d->other_memory -= std::min(d->other_memory, bytes + tx_bytes);
  }
}

void core_impl::drop_connection_state(connection& c) {
  drop_watches_and_transactions(c);
  // A live-update request of it is forgotten: the adapter's answer will find no token.
  std::erase_if(live_updates, [&](const pending_live_update& p) { return p.requester == c.id; });
  c.awaiting_live_update = false;
  std::size_t out_bytes = c.out.bytes();
  std::size_t out_replies = c.out.replies();
  c.out.clear();
  c.decoder.reset();
  if (domain_state* d = find_domain(c.domid()); d && c.opts.kind != conn_kind::socket) {
    d->outstanding -= std::min(d->outstanding, out_replies);
    d->other_memory -= std::min(d->other_memory, out_bytes);
  }
}

void core_impl::request_drop(connection& c, drop_reason why) {
  if (c.dropping) return;
  c.dropping = true;
  effects.emplace_back(effect::drop{c.id, why});
}

void core_impl::reset(connection& c, time_point now) {
  (void)now;
  drop_connection_state(c);
  c.dropping = false;
  // Requests from before the reset go unanswered, an INTRODUCE among them too (it still completes).
  for (pending_introduce& p : introductions)
    if (p.requester == c.id) p.requester = 0;
  c.awaiting_introduce = false;
}

void core_impl::close(conn_id id, [[maybe_unused]] time_point now) {
  auto it = conns.find(id);
  if (it == conns.end()) return;
  connection& c = *it->second;
  drop_connection_state(c);
  event_expiry.erase(id);
  std::erase_if(effects, [id](const core_effect& e) {
    const auto* r = std::get_if<effect::ready>(&e);
    return r && r->conn == id;
  });
  domid_t domid = c.domid();
  conn_kind kind = c.opts.kind;
  conns.erase(it);
  if (kind == conn_kind::socket) return;
  domain_state* d = find_domain(domid);
  if (!d) return;
  std::erase(d->conns, id);
  // The domain stays introduced: only RELEASE or its death end it, so dropping a misbehaving ring
  // fires no spurious @releaseDomain (XSA-325). A later INTRODUCE maps the ring again.
  (void)kind;
}

void core_impl::release(domid_t domid, time_point now, bool died) {
  last_release[domid] = ++release_count;
  // An introduction still waiting for its adapter must not bring the domain back.
  for (pending_introduce& p : introductions)
    if (p.token != 0 && p.r.domid == domid) p.cancelled = true;
  domain_state* d = find_domain(domid);
  if (!d) {
    // A domain that dies before it was introduced (or even known) may still be named in ACLs or own
    // nodes the toolstack prepared for it: those go too (Xen 4.22 ignores them by generation).
    if (died) forget_in_store(domid, now);
    return;
  }
  bool was_introduced = d->introduced;
  std::vector<conn_id> to_drop = d->conns;
  for (conn_id cid : to_drop) {
    if (connection* c = find(cid)) {
      drop_connection_state(*c);  // no events for the domain's own watches (C: do_release)
      // The adapter unmaps the ring, then closes the connection.
      if (c->opts.kind == conn_kind::ring) effects.emplace_back(effect::release_domain{domid, cid});
      request_drop(*c, drop_reason::released);
    }
  }
  forget_in_store(domid, now);
  domains.erase(domid);
  if (was_introduced) {
    logf(log_level::info, "domain ", domid, died ? " died" : " released");
    fire_special(release_domain_path, domid, now);
  }
}

// Everything the domain owned goes, and no ACL keeps naming it: a reused domid inherits nothing
// (XSA-322, XSA-419). DOMID_ANY entries name no domain and stay.
void core_impl::forget_in_store(domid_t domid, time_point now) {
  auto removed = db.remove_domain_nodes(domid);
  fire_changes(removed, now);
  for (std::size_t i = 0; i < std::size(special_perms); ++i) {
    node_perms& sp = special_perms[i];
    if (sp[0].domid == domid) sp = default_special_perms(i);
    std::erase_if(sp, [&](const perm_entry& e) { return &e != sp.data() && e.domid == domid; });
  }
  for (auto& [other, od] : domains)
    if (od.target == domid) od.target.reset();
}

void core_impl::drop_dead_entries(std::vector<change_set>& changes, std::uint64_t since) {
  std::vector<domid_t> gone;
  for (const auto& [domid, at] : last_release)
    if (at > since) gone.push_back(domid);
  auto is_gone = [&](domid_t x) { return std::find(gone.begin(), gone.end(), x) != gone.end(); };
  std::vector<change_set> extra;
  std::vector<domid_t> dead_owners;
  auto fix = [&](const std::string& path) {
    auto n = db.read(path);
    if (!n) return;
    const perms_view perms = (*n)->perms();
    if (const domid_t owner = perms.front().domid; is_gone(owner) && !find_domain(owner)) {
      // Owned by a domain that went (and has not come back): its nodes go, as at its release.
      if (std::find(dead_owners.begin(), dead_owners.end(), owner) == dead_owners.end()) dead_owners.push_back(owner);
      return;
    }
    if (std::none_of(perms.begin() + 1, perms.end(), [&](const perm_entry& e) { return is_gone(e.domid); })) return;
    node_perms kept{perms.front()};
    std::copy_if(perms.begin() + 1, perms.end(), std::back_inserter(kept),
                 [&](const perm_entry& e) { return !is_gone(e.domid); });
    if (auto r = db.set_perms(path, std::move(kept))) extra.push_back(std::move(*r));
  };
  for (const change_set& ch : changes) {
    if (ch.kind != change_kind::rm) fix(ch.path);
    for (const auto& p : ch.created) fix(p);
  }
  for (domid_t owner : dead_owners)
    for (auto& r : db.remove_domain_nodes(owner)) extra.push_back(std::move(r));
  for (auto& r : extra) changes.push_back(std::move(r));
}

// --- input -------------------------------------------------------------------------------------

bool core_impl::wants_input(const connection& c, time_point now) {
  if (c.dropping || c.awaiting_introduce || c.awaiting_live_update) return false;
  if (c.privileged) return true;
  domain_state* d = find_domain(c.domid());
  if (!d) return true;
  if (std::uint32_t q = d->quotas.get(quota::outstanding); q && d->outstanding >= q) return false;
  if (std::uint32_t q = d->quotas.get(quota::memory); q && db.usage(c.domid()).memory + d->other_memory >= q) {
    if (!d->hard_memory_reported) {
      d->hard_memory_reported = true;
      logf(log_level::warn, "domain ", c.domid(), " over its hard memory quota: not reading its requests");
    }
    return false;
  }
  if (d->credit.may_proceed(now, config.write_rate, credit_reserve)) return true;
  in_debt.insert(d->domid);
  return false;
}

result<std::size_t> core_impl::feed(connection& c, std::span<const std::byte> bytes, time_point now) {
  const std::size_t total = bytes.size();
  while (!bytes.empty()) {
    if (c.dropping) break;
    // Quotas pause a connection only between messages: a partial frame is always completed.
    if (c.decoder.idle() && !wants_input(c, now)) break;
    auto r = c.decoder.next(bytes);
    if (!r) {
      logf(log_level::warn, "connection ", c.id, " (domain ", c.domid(), "): protocol violation, dropping");
      request_drop(c, drop_reason::protocol_error);
      return fail(errc::protocol_error);
    }
    if (!*r) break;
    handle(c, **r, now);
  }
  return total - bytes.size();
}

// --- output ------------------------------------------------------------------------------------

void core_impl::account_other_memory(const connection& c, std::ptrdiff_t delta) {
  if (c.opts.kind == conn_kind::socket) return;
  if (domain_state* d = find_domain(c.domid())) {
    if (delta >= 0) {
      d->other_memory += static_cast<std::size_t>(delta);
    } else {
      d->other_memory -= std::min(d->other_memory, static_cast<std::size_t>(-delta));
    }
  }
}

void core_impl::queue_reply(connection& c, std::string frame, time_point now) {
  std::size_t n = frame.size();
  c.out.push(std::move(frame), output_queue::kind::reply, now);
  mark_ready(c);
  account_other_memory(c, static_cast<std::ptrdiff_t>(n));
  if (c.opts.kind != conn_kind::socket)
    if (domain_state* d = find_domain(c.domid())) ++d->outstanding;
}

void core_impl::reply_ok(connection& c, const header& h, time_point now) {
  std::string buf = c.out.take_buffer();
  write_ok(buf, h);
  queue_reply(c, std::move(buf), now);
}

void core_impl::reply_error(connection& c, const header& h, xs_error e, time_point now) {
  ++counters.errors;
  std::string buf = c.out.take_buffer();
  write_error(buf, h, e);
  queue_reply(c, std::move(buf), now);
}

void core_impl::queue_event(connection& c, std::string_view path, std::string_view token, time_point now) {
  std::string buf = c.out.take_buffer();
  if (!write_watch_event(buf, path, token)) {  // over payload_max: C xenstored drops it (XSA-324)
    ++counters.events_dropped;
    c.out.recycle(std::move(buf));
    return;
  }
  if (!c.privileged) {
    if (domain_state* d = find_domain(c.domid())) {
      std::uint32_t q = d->quotas.get(quota::memory);
      if (q && db.usage(c.domid()).memory + d->other_memory + buf.size() > q) {  // event storms (XSA-326)
        ++counters.events_dropped;
        c.out.recycle(std::move(buf));
        return;
      }
    }
  }
  std::size_t n = buf.size();
  if (c.out.push(std::move(buf), output_queue::kind::event, now)) {
    ++counters.watch_events;
    mark_ready(c);
    if (!c.privileged) event_expiry.insert(c.id);
    account_other_memory(c, static_cast<std::ptrdiff_t>(n));
  }
}

void core_impl::on_output_consumed(connection& c, std::size_t bytes, std::size_t replies) {
  account_other_memory(c, -static_cast<std::ptrdiff_t>(bytes));
  if (c.opts.kind != conn_kind::socket && replies > 0) {
    if (domain_state* d = find_domain(c.domid())) {
      d->outstanding -= std::min(d->outstanding, replies);
      mark_domain_ready(d->domid);  // input held back by the outstanding quota may flow again
    }
  }
}

void core_impl::mark_ready(connection& c) {
  if (c.listed_ready) return;
  c.listed_ready = true;
  effects.emplace_back(effect::ready{c.id});
}

void core_impl::mark_domain_ready(domid_t domid) {
  if (domain_state* d = find_domain(domid))
    for (conn_id cid : d->conns)
      if (connection* c = find(cid)) mark_ready(*c);
}

}  // namespace detail

// --- public API ------------------------------------------------------------------------------------

struct server_core::impl : detail::core_impl {
  using core_impl::core_impl;
};

server_core::server_core(server_config config) : impl_(std::make_unique<impl>(std::move(config))) {}
server_core::~server_core() = default;

const server_config& server_core::config() const noexcept { return impl_->config; }

result<migration::stream> server_core::export_state(const export_options& opt) const {
  return detail::export_state(*impl_, opt);
}
result<std::vector<imported_connection>> server_core::import_state(const migration::stream& s, time_point now) {
  migration::stream copy = s;
  return detail::import_state(*impl_, copy, now);
}
result<std::vector<imported_connection>> server_core::import_state(migration::stream&& s, time_point now) {
  return detail::import_state(*impl_, s, now);
}
server_config& server_core::mutable_config() noexcept { return impl_->config; }

conn_id server_core::open(const connection_options& options, time_point now) { return impl_->open(options, now); }
void server_core::close(conn_id conn, time_point now) { impl_->close(conn, now); }
void server_core::reset(conn_id conn, time_point now) {
  if (auto* c = impl_->find(conn)) impl_->reset(*c, now);
}
void server_core::domain_died(domid_t domid, time_point now) { impl_->release(domid, now, true); }

std::vector<domid_t> server_core::introduced_domains() const {
  std::vector<domid_t> out;
  for (const auto& [domid, d] : impl_->domains) {
    if (d.introduced) out.push_back(domid);
  }
  return out;  // std::map: ascending
}

void server_core::domain_shutdown(domid_t domid, time_point now) {
  detail::domain_state* d = impl_->find_domain(domid);
  if (d == nullptr || !d->introduced || d->shut_down) return;
  d->shut_down = true;
  impl_->logf(log_level::info, "domain ", domid, " shut down");
  impl_->fire_special(release_domain_path, domid, now);
}

result<std::size_t> server_core::feed(conn_id conn, std::span<const std::byte> bytes, time_point now) {
  auto* c = impl_->find(conn);
  if (!c) return fail(errc::invalid_argument);
  return impl_->feed(*c, bytes, now);
}

bool server_core::wants_input(conn_id conn, time_point now) const {
  auto* c = impl_->find(conn);
  return c && impl_->wants_input(*c, now);
}

std::span<const std::byte> server_core::peek_output(conn_id conn) const {
  const auto* c = impl_->find(conn);
  return c ? c->out.front() : std::span<const std::byte>{};
}

void server_core::consume_output(conn_id conn, std::size_t bytes, time_point now) {
  (void)now;
  auto* c = impl_->find(conn);
  if (!c) return;
  std::size_t before = c->out.bytes();
  std::size_t replies = c->out.consume(bytes);
  impl_->on_output_consumed(*c, before - c->out.bytes(), replies);
}

std::size_t server_core::stage_output(conn_id conn, std::vector<std::byte>& into, std::size_t max) {
  auto* c = impl_->find(conn);
  if (!c) {
    into.clear();
    return 0;
  }
  return c->out.stage(into, max);
}

bool server_core::has_output(conn_id conn) const {
  const auto* c = impl_->find(conn);
  return c && !c->out.empty();
}

void server_core::take_effects(std::vector<core_effect>& into) {
  auto& s = *impl_;
  into.clear();
  into.swap(s.effects);
  for (const core_effect& e : into)
    if (const auto* r = std::get_if<effect::ready>(&e))
      if (auto* c = s.find(r->conn)) c->listed_ready = false;
}

std::vector<core_effect> server_core::take_effects() {
  std::vector<core_effect> out;
  take_effects(out);
  return out;
}

result<conn_id> server_core::complete_introduce(introduce_token token, result<void> mapped, time_point now) {
  return impl_->complete_introduce(token, std::move(mapped), now);
}

result<void> server_core::complete_live_update(live_update_token token, std::string_view text, time_point now) {
  return impl_->complete_live_update(token, text, now);
}

std::vector<open_transaction_info> server_core::open_transactions() const {
  std::vector<open_transaction_info> out;
  for (const auto& [id, c] : impl_->conns)
    for (const auto& [tx_id, t] : c->transactions) out.push_back({id, c->domid(), t.started});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.conn < b.conn; });
  return out;
}

void server_core::tick(time_point now) {
  auto& s = *impl_;
  // Domains whose write credit has recovered may send again.
  for (auto it = s.in_debt.begin(); it != s.in_debt.end();) {
    auto* d = s.find_domain(*it);
    if (!d || d->credit.may_proceed(now, s.config.write_rate, s.credit_reserve)) {
      if (d) s.mark_domain_ready(d->domid);
      it = s.in_debt.erase(it);
    } else {
      ++it;
    }
  }
  auto timeout = s.config.watch_event_timeout;
  if (timeout.count() <= 0) return;
  for (auto it = s.event_expiry.begin(); it != s.event_expiry.end();) {
    auto* c = s.find(*it);
    if (!c || !c->out.oldest_unsent_event()) {
      it = s.event_expiry.erase(it);
      continue;
    }
    ++it;
    std::size_t before = c->out.bytes();
    std::size_t dropped = c->out.expire_events(now - timeout);
    if (dropped) {
      s.counters.events_dropped += dropped;
      s.account_other_memory(*c, -static_cast<std::ptrdiff_t>(before - c->out.bytes()));
      s.logf(log_level::debug, "domain ", c->domid(), ": ", dropped, " unread watch events expired");
    }
  }
}

std::optional<time_point> server_core::next_deadline() const {
  const auto& s = *impl_;
  std::optional<time_point> best;
  auto consider = [&](time_point t) {
    if (!best || t < *best) best = t;
  };
  // Only connections that may hold expirable events and domains in debt: O(busy), not O(all).
  if (s.config.watch_event_timeout.count() > 0)
    for (conn_id id : s.event_expiry)
      if (const auto* c = s.find(id))
        if (auto t = c->out.oldest_unsent_event()) consider(*t + s.config.watch_event_timeout);
  for (domid_t domid : s.in_debt)
    if (auto it = s.domains.find(domid); it != s.domains.end())
      if (auto t = it->second.credit.ready_at(s.config.write_rate)) consider(*t);
  return best;
}

core_stats server_core::stats() const {
  core_stats st = impl_->counters;
  st.connections = impl_->conns.size();
  st.nodes = impl_->db.node_count();
  return st;
}

result<void> server_core::check() const { return impl_->check(); }

}  // namespace xenwire::xenstore
