// The Xenstore daemon's I/O side: an epoll loop that serves the sans-I/O server_core over Unix
// sockets (dom0 clients, guest sockets playing unprivileged domains) and, given a transport, over
// domains' xenstore rings. The library never prints: logs and traces go to the caller's sinks.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xenwire/base/error.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/xenstore/migration/records.hpp"
#include "xenwire/xenstore/server/config.hpp"
#include "xenwire/xenstore/server/core.hpp"

namespace xenwire::xenstore {

// --guest-socket D=PATH: every client of PATH speaks for unprivileged domain D.
struct guest_socket_spec {
  domid_t domid = 0;
  std::string path;
  friend bool operator==(const guest_socket_spec&, const guest_socket_spec&) = default;
};

using log_sink = std::function<void(log_level level, std::string_view message)>;
// One line per message crossing any connection, in either direction.
using trace_sink = std::function<void(std::string_view line)>;

struct daemon_settings {
  std::string socket_path;                    // already resolved (see socket_path.hpp)
  std::vector<guest_socket_spec> guest_sockets;
  bool read_only = false;                     // socket clients get read-only connections
  server_config config{};
  bool stop_on_signals = true;                // SIGTERM/SIGINT stop run(); the caller blocks them
  // How socket clients' bytes move: io_uring, where one io_uring_enter per batch submits every reply
  // and receive (automatic: where the kernel allows it), or epoll with a recv and a send each.
  enum class socket_io { automatic, epoll, uring };
  socket_io io = socket_io::automatic;
  trace_sink trace;                           // empty: no tracing
  // The store domain's own ring, set up by its kernel (xen::open_local_xenbus: /proc/xen/xsd_kva
  // and xsd_port): served as dom0's ring connection, as C xenstored's dom0_init does. Needs `rings`.
  struct local_ring {
    std::shared_ptr<mapped_pages> page;  // shared: settings are copyable; create() takes it
    evtchn_port_t port = 0;  // the kernel's port, unbound for us: bound with bind_interdomain(0, port)
  };
  std::optional<local_ring> dom0_ring;

  // Live update (CONTROL live-update; see docs/xenstore.md). The daemon's own argv, which the new
  // binary gets unless the operator gave a command line.
  std::vector<std::string> argv;
  // -U: the state the previous daemon left (its fds are ours): serve it instead of a fresh store.
  std::optional<migration::stream> restore;
};

class xenstored {
 public:
  // Binds every socket (a live daemon on one of them fails with address_in_use) and sets up the
  // core. `rings` serves domains introduced by INTRODUCE; null means no ring support (INTRODUCE
  // then fails). Neither `rings` nor the sinks' targets are owned; they must outlive the daemon.
  static result<std::unique_ptr<xenstored>> create(daemon_settings settings, transport* rings, log_sink log);
  ~xenstored();  // closes every connection and removes the socket files it created
  xenstored(const xenstored&) = delete;
  xenstored& operator=(const xenstored&) = delete;

  // Serves until stop() or a stop signal. Fails only if the loop itself breaks.
  result<void> run();
  // Any thread, async-signal-safe.
  void stop() noexcept;
  // The signal that ended run(), if any.
  std::optional<int> stop_signal() const noexcept;

  // Loop-thread introspection (tests; or after run() returned).
  const server_core& core() const noexcept;
  std::size_t open_connections() const noexcept;

 private:
  struct impl;
  explicit xenstored(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

}  // namespace xenwire::xenstore
