// xenwire::sim::host_server — the process that owns a cross-process simulated host.
//
// It holds the one set of grant and event-channel rules (the same host core as sim::host) and
// serves domains that connect over its Unix socket (sim::remote_transport). It is the only writer
// of the tables, so no lock is ever shared with another process: a domain killed at any instant
// cannot wedge or tear them. A connection that closes is a process that exited or died: what it
// held is released at once (unmap-notifies fire, ports close and wake their peers), and an owner
// connection's domain is destroyed.
//
//   auto loop = event_loop::create().value();
//   auto server = sim::host_server::start({.name = "ci"}, *loop).value();  // dom0 exists
//   while (!server->finished()) loop->run_once(std::chrono::milliseconds(-1));
//
// On start it takes host.lock (flock); if the lock is free but files remain, the previous run
// crashed: its socket and shared-memory object are removed first. Destruction removes everything.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "xenwire/base/error.hpp"
#include "xenwire/base/event_loop.hpp"
#include "xenwire/sim/clean_report.hpp"
#include "xenwire/sim/host.hpp"
#include "xenwire/sim/host_paths.hpp"

namespace xenwire::sim {

namespace detail {
class host_core;
}

struct host_server_options {
  std::string name = "default";
  std::filesystem::path run_root;  // empty: host_paths' default ($XENWIRE_RUN_DIR, ...)
  host_options limits{};
  // What happened, one line each (connections, deaths, refused requests). Empty: dropped.
  std::function<void(std::string_view)> log;
  // Run once on shutdown, after the guests were destroyed and the companions exited, just before
  // the leak check: the host process releases what it holds itself for dom0 (e.g. the launcher's
  // dom0 kernel xenbus port, see sim/tools), as dom0's kernel would at power-off.
  std::function<void()> before_leak_check;
};

class host_server {
 public:
  // errc::invalid_argument for a bad name; errc::permission_denied (EBUSY in the message's
  // errno) when a host of that name is running.
  static result<std::unique_ptr<host_server>> start(host_server_options opts, event_loop& loop);
  ~host_server();
  host_server(const host_server&) = delete;
  host_server& operator=(const host_server&) = delete;

  const host_paths& paths() const noexcept;
  // True once a client asked the host to shut down (after its reply was sent).
  bool finished() const noexcept;
  std::size_t connections() const noexcept;
  // Also usable in-process, e.g. by tests that want to watch the host.
  sim::host& host() noexcept;
  // A process the host waits for when asked to shut down (dom0's xenstored): it gets SIGTERM
  // after the guests are destroyed, SIGKILL if still there 5 s later, and the leak check runs once
  // it has exited (its connection closed).
  void add_companion(int pid);

  struct impl;

 private:
  explicit host_server(std::unique_ptr<impl> p);
  static detail::host_core& core_of(sim::host& h) noexcept;
  std::unique_ptr<impl> impl_;
};

}  // namespace xenwire::sim
