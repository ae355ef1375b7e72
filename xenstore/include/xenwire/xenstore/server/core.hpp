// The Xenstore server core: sans-I/O. It takes (connection, bytes in, time) and returns bytes out per
// connection; it never touches sockets, rings, event channels or clocks. Adapters (socket, ring) move
// bytes, the daemon's loop drives time, and `core_hooks` carries out the few effects the core cannot
// do itself (mapping a newly introduced domain's ring).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "xenwire/base/error.hpp"
#include "xenwire/ring/transport.hpp"
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

// Effects the core asks its host to perform. Calls happen synchronously from inside feed()/tick().
class core_hooks {
 public:
  virtual ~core_hooks() = default;
  // INTRODUCE: map the domain's xenstore page (grant ref 1 / gfn) and bind `port`, then open a ring
  // connection for it with core.open({conn_kind::ring, domid}) and return its id.
  virtual result<conn_id> introduce_domain(domid_t domid, std::uint64_t gfn, evtchn_port_t port) = 0;
  // The domain's connection is being dropped (RELEASE, death): unmap its page, unbind its port.
  // The core has already freed every piece of state the connection held.
  virtual void release_domain(domid_t domid, conn_id conn) = 0;
  // Structured log lines (the daemon forwards them to spdlog; tests may collect them).
  virtual void log(log_level level, std::string_view message) = 0;
};

// Why a connection must be closed by its adapter.
enum class drop_reason : std::uint8_t {
  protocol_error,  // oversized frame or malformed framing: a ring gets error = PROTO
  released,        // the domain was released or died
  quota,           // the peer exhausted a hard limit that leaves no way to answer (memory)
};

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

class server_core {
 public:
  explicit server_core(server_config config = {}, core_hooks* hooks = nullptr);
  ~server_core();
  server_core(const server_core&) = delete;
  server_core& operator=(const server_core&) = delete;

  void set_hooks(core_hooks* hooks) noexcept;
  const server_config& config() const noexcept;
  server_config& mutable_config() noexcept;  // global quotas (also settable by SET_QUOTA / CONTROL)

  // A new client. For conn_kind::ring/guest_socket the domain becomes introduced (home path
  // /local/domain/<domid> created if missing, owned by it; @introduceDomain fires).
  conn_id open(const connection_options& options, time_point now);
  // The transport is gone: frees everything the connection held (watches, transactions, queued
  // output, quota). The domain it spoke for stays introduced (its nodes stay, no @releaseDomain):
  // only RELEASE or domain_died() end a domain (XSA-325). Does not call core_hooks::release_domain.
  // Connection ids are never reused.
  void close(conn_id conn, time_point now);
  // Ring reconnect handshake: discard partial input, queued output, watches and transactions of the
  // connection, keep the domain introduced.
  void reset(conn_id conn, time_point now);
  // The domain died (the host noticed): drops its connection, deletes nodes it owns, fires
  // @releaseDomain. Idempotent.
  void domain_died(domid_t domid, time_point now);

  // Feeds bytes read from the connection. Consumes as much as the connection may take now (quotas
  // on outstanding requests and write rate leave the rest unconsumed: offer it again after
  // wants_input() turns true). An error means the connection must be dropped (see drop_reason).
  result<std::size_t> feed(conn_id conn, std::span<const std::byte> bytes, time_point now);
  bool wants_input(conn_id conn, time_point now) const;

  // Output waiting for the connection: the front of its queue. consume_output() acknowledges
  // bytes actually sent (partial sends are fine).
  std::span<const std::byte> peek_output(conn_id conn) const;
  void consume_output(conn_id conn, std::size_t bytes, time_point now);
  bool has_output(conn_id conn) const;

  // Connections to close (protocol errors, releases) since the last call; the adapter closes them
  // and then calls close().
  std::vector<std::pair<conn_id, drop_reason>> take_drops();
  // Connections whose adapter has work since the last call: output was queued for them (replies,
  // or watch events caused by another connection), or input held back by a quota may be offered
  // again. A loop serving many idle connections only needs to visit these (plus those its poller
  // reported), so its cost per request does not grow with the number of connections.
  std::vector<conn_id> take_ready();
  // Time-based work: expiry of unread watch events, rate-limit refills.
  void tick(time_point now);
  std::optional<time_point> next_deadline() const;

  // Introspection for CONTROL, tests and fuzzers.
  core_stats stats() const;
  result<void> check() const;  // full consistency check of the store and every index/counter

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xenwire::xenstore
