// The server core's internal state: connections, domains, watches, the store, and the helpers every
// request handler shares. One instance per server_core (pimpl).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "output_queue.hpp"
#include "rate_limiter.hpp"
#include "watch_registry.hpp"
#include "xenwire/xenstore/path.hpp"
#include "xenwire/xenstore/perms.hpp"
#include "xenwire/xenstore/replies.hpp"
#include "xenwire/xenstore/requests.hpp"
#include "xenwire/xenstore/server/core.hpp"
#include "xenwire/xenstore/server/store.hpp"
#include "xenwire/xenstore/server/transaction.hpp"
#include "xenwire/xenstore/wire.hpp"

namespace xenwire::xenstore::detail {

using transaction = store_transaction;

// Bytes charged to a domain for each open transaction (C xenstored charges its bookkeeping).
inline constexpr std::size_t transaction_overhead = 64;

struct open_transaction {
  std::unique_ptr<transaction> tx;
  std::size_t accounted_bytes = 0;  // charged to the domain's memory while open
  std::uint64_t releases_at_start = 0;  // core_impl::release_count when it started
  time_point started{};                 // live update waits for old transactions (C: ta_start_time)
  bool doomed = false;  // conflicted before a live update carried it over: its commit is EAGAIN
};

struct connection {
  conn_id id;
  connection_options opts;
  bool privileged;  // dom0 / control domain: all rights, no quotas
  frame_decoder decoder;
  output_queue out;
  std::map<std::uint32_t, open_transaction> transactions;
  std::uint32_t next_tx_id = 1;
  bool dropping = false;  // a drop was requested; ignore further input
  bool listed_ready = false;  // an effect::ready for it is queued and not taken yet
  bool awaiting_introduce = false;  // its INTRODUCE waits for the adapter: not read from meanwhile
  bool awaiting_live_update = false;  // likewise its CONTROL live-update

  domid_t domid() const noexcept { return opts.domid; }
  bool can_write() const noexcept { return !opts.read_only; }
};

struct domain_state {
  domid_t domid;
  bool introduced = false;
  bool shut_down = false;      // @releaseDomain already fired for its shutdown (C: domain->shutdown)
  std::vector<conn_id> conns;  // its ring connection and/or guest-socket connections
  std::uint32_t features = 0;
  std::optional<domid_t> target;  // SET_TARGET: acts with this domain's rights too
  quota_values quotas;            // per-domain limits (copied from the global ones at creation)
  std::uint64_t gfn = 0;
  evtchn_port_t port = 0;
  // Counters the quotas check. Node memory lives in the store's accounting.
  std::size_t watches = 0;
  std::size_t transactions = 0;
  std::size_t outstanding = 0;    // replies queued, not yet consumed
  std::size_t other_memory = 0;   // watches + open transactions + queued output
  write_credit credit;
  bool hard_memory_reported = false;
  bool soft_memory_reported = false;
};

// What a request handler returns: nothing (it queued its reply) or the error to send.
using handled = xs_result<void>;

// An INTRODUCE between its effect and the adapter's complete_introduce(), or one waiting behind
// another introduction of the same domain (token 0, no effect yet: it runs when that one completes).
struct pending_introduce {
  introduce_token token;
  conn_id requester;  // 0: nobody waits for the reply any more (reset)
  header h;
  req::introduce r;
  bool cancelled = false;  // the domain was released or died meanwhile
};

// A CONTROL live-update between its effect and the adapter's complete_live_update().
struct pending_live_update {
  live_update_token token;
  conn_id requester;
  header h;
};

struct core_impl {
  server_config config;
  store db;
  watch_registry watches;
  std::unordered_map<conn_id, std::unique_ptr<connection>> conns;
  std::map<domid_t, domain_state> domains;
  conn_id next_conn = 1;
  std::vector<core_effect> effects;       // see server_core::take_effects()
  std::vector<pending_introduce> introductions;  // in request order
  introduce_token next_token = 1;
  std::vector<pending_live_update> live_updates;
  live_update_token next_live_update = 1;
  std::set<conn_id> event_expiry;         // unprivileged connections that may hold expirable events
  std::set<domid_t> in_debt;              // domains held back by the write rate limit
  write_credit::reserve credit_reserve;
  core_stats counters;
  // Domain releases and deaths, counted, and each domid's latest: a transaction that commits after a
  // domain it names went drops those entries (a reused domid inherits nothing: XSA-322).
  std::uint64_t release_count = 0;
  std::map<domid_t, std::uint64_t> last_release;
  // @introduceDomain, @releaseDomain. Xen 4.22: @releaseDomain is readable (watchable) by every domain.
  static node_perms default_special_perms(std::size_t which) {
    if (which == 0) return {{0, perm::none}};
    return {{0, perm::none}, {domid_any, perm::read}};
  }
  node_perms special_perms[2] = {default_special_perms(0), default_special_perms(1)};
  std::vector<const watch*> match_scratch;  // reused by event fan-out

  explicit core_impl(server_config cfg);

  // --- lookups ---
  connection* find(conn_id id);
  const connection* find(conn_id id) const;
  domain_state& domain_for(domid_t domid);  // creates the record (with global quotas) if missing
  domain_state* find_domain(domid_t domid);
  accessor who(const connection& c) const;
  std::uint32_t quota_of(const connection& c, quota q) const;  // 0 = unlimited (or privileged)
  bool is_privileged_domid(domid_t d) const;
  // A ring feature bit as enabled for c's domain (SET_FEATURE); dom0's sockets: the server's word.
  bool feature_enabled(const connection& c, std::uint32_t bit) const;

  // --- connection lifecycle ---
  conn_id open(const connection_options& options, time_point now);
  void close(conn_id id, time_point now);
  void reset(connection& c, time_point now);
  void drop_watches_and_transactions(connection& c);  // RESET_WATCHES, and part of the next
  void drop_connection_state(connection& c);  // watches, transactions, queued output
  void request_drop(connection& c, drop_reason why);
  void introduce(domain_state& d, time_point now);
  result<conn_id> complete_introduce(introduce_token token, result<void> mapped, time_point now);
  void run_waiting_introductions(domid_t domid, time_point now);
  void release(domid_t domid, time_point now, bool died);
  void forget_in_store(domid_t domid, time_point now);  // its nodes, ACL entries and target links go
  // After a commit: entries naming a domain released since `since` leave the nodes it changed.
  void drop_dead_entries(std::vector<change_set>& changes, std::uint64_t since);

  // --- input ---
  result<std::size_t> feed(connection& c, std::span<const std::byte> bytes, time_point now);
  bool wants_input(const connection& c, time_point now);
  void handle(connection& c, const message_view& m, time_point now);

  // --- output ---
  void queue_reply(connection& c, std::string frame, time_point now);
  void reply_ok(connection& c, const header& h, time_point now);
  void reply_error(connection& c, const header& h, xs_error e, time_point now);
  template <class Writer>
  handled reply_with(connection& c, [[maybe_unused]] const header& h, time_point now, Writer&& w) {
    std::string buf = c.out.take_buffer();
    if (auto r = w(buf); !r) {
      c.out.recycle(std::move(buf));
      return r;
    }
    queue_reply(c, std::move(buf), now);
    return {};
  }
  void queue_event(connection& c, std::string_view path, std::string_view token, time_point now);
  void on_output_consumed(connection& c, std::size_t bytes, std::size_t replies);
  void mark_ready(connection& c);
  void mark_domain_ready(domid_t domid);
  void account_other_memory(const connection& c, std::ptrdiff_t delta);

  // --- watches and events ---
  void fire(std::string_view name, watch_match how, const node_perms* old_perms, time_point now);
  void fire_changes(const change_set& changes, time_point now);
  void fire_changes(const std::vector<change_set>& changes, time_point now);
  void fire_special(std::string_view special, std::optional<domid_t> domid, time_point now);
  bool watch_permitted(const connection& c, std::string_view name, const node_perms* old_perms);

  // --- request handlers (ops_*.cpp) ---
  handled op_read(connection& c, const header& h, transaction* tx, const req::read& r, time_point now);
  handled op_directory(connection& c, const header& h, transaction* tx, const req::directory& r, time_point now);
  handled op_directory_part(connection& c, const header& h, transaction* tx, const req::directory_part& r,
                            time_point now);
  handled op_get_perms(connection& c, const header& h, transaction* tx, const req::get_perms& r, time_point now);
  handled op_write(connection& c, const header& h, transaction* tx, const req::write& r, time_point now);
  handled op_mkdir(connection& c, const header& h, transaction* tx, const req::mkdir& r, time_point now);
  handled op_rm(connection& c, const header& h, transaction* tx, const req::rm& r, time_point now);
  handled op_set_perms(connection& c, const header& h, transaction* tx, const req::set_perms& r, time_point now);
  handled op_watch(connection& c, const header& h, const req::watch& r, time_point now);
  handled op_unwatch(connection& c, const header& h, const req::unwatch& r, time_point now);
  handled op_reset_watches(connection& c, const header& h, time_point now);
  handled op_transaction_start(connection& c, const header& h, time_point now);
  // Opens transaction `id` on c, charging the domain's transaction quota and memory (START, and
  // live update's import).
  xs_result<open_transaction*> begin_transaction(connection& c, std::uint32_t id, time_point now);
  handled op_transaction_end(connection& c, const header& h, const req::transaction_end& r, time_point now);
  handled op_introduce(connection& c, const header& h, const req::introduce& r, time_point now);
  handled op_release(connection& c, const header& h, const req::release& r, time_point now);
  handled op_resume(connection& c, const header& h, const req::resume& r, time_point now);
  handled op_set_target(connection& c, const header& h, const req::set_target& r, time_point now);
  handled op_get_domain_path(connection& c, const header& h, const req::get_domain_path& r, time_point now);
  handled op_is_domain_introduced(connection& c, const header& h, const req::is_domain_introduced& r,
                                  time_point now);
  handled op_get_feature(connection& c, const header& h, const req::get_feature& r, time_point now);
  handled op_set_feature(connection& c, const header& h, const req::set_feature& r, time_point now);
  handled op_get_quota(connection& c, const header& h, const req::get_quota& r, time_point now);
  handled op_set_quota(connection& c, const header& h, const req::set_quota& r, time_point now);
  handled op_control(connection& c, const header& h, const req::control& r, time_point now);
  handled op_live_update(connection& c, const header& h, const std::vector<std::string_view>& args);
  result<void> complete_live_update(live_update_token token, std::string_view text, time_point now);

  // --- helpers for node handlers ---
  xs_result<resolved_path> resolve(const connection& c, std::string_view sent, bool allow_special = false) const;

  void log(log_level level, std::string_view message);
  template <class... Parts>
  void logf(log_level level, const Parts&... parts) {
    std::string text;
    (append(text, parts), ...);
    effects.emplace_back(effect::log{level, std::move(text)});
  }
  static void append(std::string& s, std::string_view v) { s.append(v); }
  static void append(std::string& s, const char* v) { s.append(v); }
  template <class N>
    requires std::is_integral_v<N>
  static void append(std::string& s, N v) {
    s.append(std::to_string(v));
  }

  result<void> check() const;
};

// Live update (core_migration.cpp): server_core::export_state / import_state.
result<migration::stream> export_state(const core_impl& s, const export_options& opt);
// Takes the base nodes' strings out of `in` (the rest stays).
result<std::vector<imported_connection>> import_state(core_impl& s, migration::stream& in, time_point now);

}  // namespace xenwire::xenstore::detail
