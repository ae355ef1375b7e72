// The Xenstore server core: sans-I/O. It takes (connection, bytes in, time) and returns bytes out per
// connection; it never touches sockets, rings, event channels or clocks, and never calls out. What it
// needs done outside itself it queues as effects (see `core_effect`), in the order it decided them;
// the adapter drains them with take_effects() and carries each out. Time is always an argument.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "xenwire/base/error.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/xenstore/migration/records.hpp"
#include "xenwire/xenstore/server/config.hpp"

namespace xenwire::xenstore {

using conn_id = std::uint32_t;
using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

enum class conn_kind : std::uint8_t {
  socket,  // a Unix-socket client; privileged (dom0) unless read_only
  ring,    // a domain's xenstore ring page
  guest_socket,  // a socket client that plays an unprivileged domain (testing/simulation)
};

struct connection_options {
  conn_kind kind = conn_kind::socket;
  domid_t domid = 0;       // the domain the connection speaks for
  bool read_only = false;  // socket clients of a read-only daemon
};

enum class log_level : std::uint8_t { trace, debug, info, warn, error };

// Why a connection must be closed by its adapter.
enum class drop_reason : std::uint8_t {
  protocol_error,  // oversized frame or malformed framing: a ring gets error = PROTO
  released,        // the domain was released or died
  quota,           // the peer exhausted a hard limit that leaves no way to answer (memory)
};

// Names one INTRODUCE waiting for its adapter (never 0, never reused).
using introduce_token = std::uint64_t;
// Names one CONTROL live-update waiting for its adapter (never 0, never reused).
using live_update_token = std::uint64_t;

// What the core asks its adapter to do. The core never calls out: it queues these, in the order it
// decided them, and take_effects() hands them over (see docs/xenstore.md, "Server core").
namespace effect {
// INTRODUCE (two-phase): map the domain's xenstore page (grant ref 1 / gfn) and bind `port`, then
// report the outcome with server_core::complete_introduce(token, ...). Until then the domain is not
// introduced, nothing is fired, and the requesting connection gets no reply and is not read from
// (wants_input() is false), so its later requests are answered after the INTRODUCE reply.
struct introduce_domain {
  introduce_token token;
  domid_t domid;
  std::uint64_t gfn;
  evtchn_port_t port;
};
// The domain was released or died: unmap its page, unbind its port. The core has already freed every
// piece of state the ring connection held; a `drop` of that connection follows (unless one was
// already queued: then that one closes it).
struct release_domain {
  domid_t domid;
  conn_id conn;
};
// Close the connection's transport, then call server_core::close(conn).
struct drop {
  conn_id conn;
  drop_reason reason;
};
// The connection's adapter has work: output was queued for it (replies, or watch events caused by
// another connection), or input held back (quotas, a pending INTRODUCE) may be offered again. At most
// one is queued per connection between two take_effects(). A loop serving many idle connections only
// needs to visit these (plus those its poller reported), so its cost per request does not grow with
// the number of connections.
struct ready {
  conn_id conn;
};
// CONTROL live-update from a privileged connection (xenstore-control's `live-update`), its syntax
// checked as C xenstored 4.17 checks it (EINVAL otherwise): the adapter runs it, since it needs
// files, processes and its own fds, and answers with server_core::complete_live_update(token,
// text). The requester is not read from meanwhile.
struct live_update {
  enum class command : std::uint8_t {
    binary,   // -f FILE: the new binary (`value`)
    cmdline,  // -c CMDLINE: its command line (`value`), else the daemon's own
    start,    // -s [-t SECONDS] [-F]: dump the state and exec; `timeout`, `force`
    abort,    // -a
  };
  live_update_token token;
  conn_id conn;
  command cmd;
  std::string value;
  std::uint32_t timeout = 0;
  bool force = false;
};
// A structured log line (the daemon forwards it to spdlog; tests may collect it). Libraries never
// print: this is the core's only way to say something.
struct log {
  log_level level;
  std::string text;
};
}  // namespace effect

using core_effect = std::variant<effect::introduce_domain, effect::release_domain, effect::drop, effect::ready,
                                 effect::live_update, effect::log>;

struct core_stats {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;  // ERROR replies
  std::uint64_t watch_events = 0;
  std::uint64_t events_dropped = 0;  // oversized, expired, over quota
  std::uint64_t transactions_committed = 0;
  std::uint64_t transactions_conflicted = 0;
  std::size_t connections = 0;
  std::size_t nodes = 0;
};

// Live update (issue 14): what export_state needs from the adapter.
struct export_options {
  migration::stream_version version = migration::stream_version::v2;
  // The adapter's fd for a socket connection (the stream names sockets by fd).
  std::function<std::int32_t(conn_id)> socket_fd = [](conn_id) { return -1; };
  // Input the adapter read and the core has not taken yet (held back by quotas): the stream carries
  // the core's partial frame, then these bytes, in the order they arrived.
  std::function<std::string_view(conn_id)> held_input = [](conn_id) { return std::string_view{}; };
  // The live-update request being carried out: its reply goes into the stream as the requester's
  // last unsent output, so the new daemon sends it (C's lu_write_response). Other pending
  // live-update requests make the core busy.
  std::optional<std::pair<live_update_token, std::string>> answer{};
  // Leave open transactions out (C xenstored's `-F`, and what a C daemon can read): their
  // connections' later requests in them fail as for an unknown transaction. Without it an open
  // transaction makes the export fail with would_block.
  bool drop_transactions = false;
  // Carry open transactions (a xenwire importer): after each connection's records, one TRANSACTION
  // record per open transaction, then the nodes it touched as the document's pending NODE records
  // (its own view; `written` if it changed them, else `read`; absent ones as deletions) and, if it
  // has already conflicted, xenwire's doom marker. Takes precedence over drop_transactions.
  bool keep_transactions = false;
};
// One connection import_state opened: the stream's conn-id, the core's new id, and input the
// stream says was read and not yet processed: the adapter feeds it before reading the transport.
struct imported_connection {
  std::uint32_t stream_id;
  conn_id conn;
  std::string unprocessed_input;
  friend bool operator==(const imported_connection&, const imported_connection&) = default;
};
// An open transaction, for live update's rule of waiting for transactions to end.
struct open_transaction_info {
  conn_id conn;
  domid_t domid;
  time_point started;
};

class server_core {
 public:
  explicit server_core(server_config config = {});
  ~server_core();
  server_core(const server_core&) = delete;
  server_core& operator=(const server_core&) = delete;

  const server_config& config() const noexcept;
  server_config& mutable_config() noexcept;  // global quotas (also settable by SET_QUOTA / CONTROL)

  // A new client. For conn_kind::ring/guest_socket the domain becomes introduced (home path
  // /local/domain/<domid> created if missing, owned by it; @introduceDomain fires).
  conn_id open(const connection_options& options, time_point now);
  // The transport is gone: frees everything the connection held (watches, transactions, queued
  // output, quota). The domain it spoke for stays introduced (its nodes stay, no @releaseDomain):
  // only RELEASE or domain_died() end a domain (XSA-325). Queues no effect for it (the adapter
  // already knows) and withdraws its queued `ready`. An INTRODUCE it sent that is still pending
  // completes without a reply.
  // Connection ids are never reused.
  void close(conn_id conn, time_point now);
  // Ring reconnect handshake: discard partial input, queued output, watches and transactions of the
  // connection, keep the domain introduced. An INTRODUCE it sent that is still pending completes
  // without a reply.
  void reset(conn_id conn, time_point now);
  // The domain died (the host noticed): drops its connection, deletes nodes it owns, fires
  // @releaseDomain. Idempotent. An introduction of it still pending is cancelled (as by RELEASE): its
  // completion answers the requester EINVAL and tells the adapter to undo its mapping.
  void domain_died(domid_t domid, time_point now);
  // The domain shut down (halted, crashed, suspended) but is not dying yet: fires @releaseDomain
  // once, so that toolstacks watching it (xl, libxl) learn of the shutdown, and keeps the domain
  // (as C xenstored's domain_cleanup). Ignored for a domain that is not introduced.
  void domain_shutdown(domid_t domid, time_point now);
  // Every introduced domain, ascending: what an adapter asks the hypervisor about on
  // VIRQ_DOM_EXC. A domain whose ring was dropped stays introduced until it dies or is released.
  std::vector<domid_t> introduced_domains() const;

  // Feeds bytes read from the connection. Consumes as much as the connection may take now (quotas
  // on outstanding requests and write rate, or an INTRODUCE of its own still pending, leave the rest
  // unconsumed: offer it again after wants_input() turns true; a `ready` effect says when). An error
  // means the connection must be dropped (a `drop` effect is queued too).
  result<std::size_t> feed(conn_id conn, std::span<const std::byte> bytes, time_point now);
  bool wants_input(conn_id conn, time_point now) const;

  // Output waiting for the connection: the front of its queue. consume_output() acknowledges
  // bytes actually sent (partial sends are fine).
  std::span<const std::byte> peek_output(conn_id conn) const;
  void consume_output(conn_id conn, std::size_t bytes, time_point now);
  bool has_output(conn_id conn) const;
  // For a send that completes later (io_uring): copies up to `max` bytes of unacknowledged output,
  // from the first, into `into` (replacing it) without acknowledging them. The frames they come
  // from are in flight from now on: they no longer expire or absorb a duplicate event. Acknowledge
  // with consume_output() what the send reports; stage again only after that.
  std::size_t stage_output(conn_id conn, std::vector<std::byte>& into, std::size_t max);

  // Every effect queued since the last call, oldest first. The adapter carries them out in order;
  // doing so may queue more (take them again until none are left). The second form swaps the queue
  // with `into` (cleared first) so a loop reuses both buffers.
  std::vector<core_effect> take_effects();
  void take_effects(std::vector<core_effect>& into);
  // The second half of INTRODUCE: the adapter's outcome for effect::introduce_domain{token}.
  // Success (`mapped` holds no error): the core opens the domain's ring connection (introducing the
  // domain: home path, @introduceDomain) and returns its id; the adapter serves the ring under that
  // id. Failure: nothing is opened and the error comes back. Either way the requester then gets its
  // reply (OK, or EINVAL and the domain left as it was) and is read from again. An error return
  // also for a token that is unknown (already completed) or whose domain died meanwhile: then the
  // adapter must undo what it mapped and bound.
  result<conn_id> complete_introduce(introduce_token token, result<void> mapped, time_point now);
  // The second half of CONTROL live-update: `text` ("OK", "BUSY", an error sentence) becomes the
  // reply and the requester is read again. An error for a token that is unknown (the requester
  // went away, or its reply went into an exported stream).
  result<void> complete_live_update(live_update_token token, std::string_view text, time_point now);
  std::vector<open_transaction_info> open_transactions() const;

  // Time-based work: expiry of unread watch events, rate-limit refills. `now` only ever comes from
  // the caller: the core reads no clock.
  void tick(time_point now);
  std::optional<time_point> next_deadline() const;

  // Live update, sans-I/O (xenstore/src/server/core_migration.cpp). export_state describes the core
  // as migration records: GLOBAL (fds -1: the adapter's), GLOBAL_QUOTA, each connection (id,
  // ring domid/target/port or socket fd) followed by its watches, every node with its perms
  // (pre-order, then @releaseDomain and @introduceDomain), every domain record (quotas, features),
  // END. Each connection carries its unprocessed input (held by the adapter, then the partial
  // frame) and its unsent output (a partly sent frame first). It refuses (would_block) pending
  // INTRODUCEs, live-update requests other than `answer`'s, and open transactions unless
  // keep_transactions or drop_transactions; (not_supported) read-only or guest sockets and depth watches in version 1.
  result<migration::stream> export_state(const export_options& opt = {}) const;
  // Rebuilds a fresh core (no connections, no domains, only "/") from such records: quotas,
  // nodes and domains first, then connections (rings introduce their domain) and their watches.
  // Unsent output is queued again frame by frame (a malformed one refuses the stream); unprocessed
  // input is handed back. Transactions are opened again through the normal transaction code (quotas
  // apply) on a snapshot of the imported store, their nodes replayed parents first; one that had
  // conflicted (the doom marker, or a node read that is not as it saw it) answers EAGAIN at commit.
  // A connection's next TRANSACTION_START gets an id above its imported ones.
  // A WATCH_DATA_EXTENDED without depth (C's layout) becomes unlimited.
  result<std::vector<imported_connection>> import_state(const migration::stream& s, time_point now);
  // The same, taking the nodes' paths, values and perms out of `s` instead of copying them.
  result<std::vector<imported_connection>> import_state(migration::stream&& s, time_point now);

  // Introspection for CONTROL, tests and fuzzers.
  core_stats stats() const;
  result<void> check() const;  // full consistency check of the store and every index/counter

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xenwire::xenstore
