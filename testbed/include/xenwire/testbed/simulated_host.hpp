// A simulated Xen host for tests, demos and the main job: the simulator (sim::host), dom0 running
// xenwire's xenstored in a thread (on a Unix socket, and serving guests' Xenstore rings through the
// simulated grant table and event channels), and domains built the way a toolstack builds them.
//
//   auto h = testbed::simulated_host::create().value();       // dom0 + xenstored
//   auto g = h->add_guest(1).value();                         // built, introduced, connected
//   g->xs.write("data/x", "1");                               // over the guest's own ring
//   h->shutdown();  ... h->host().check_clean()
//
// build_domain() and connect_guest() are the two halves of add_guest() on their own: the toolstack's
// (any dom0 connection builds and introduces) and the guest's (map the Xenstore page, bind the port).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "xenwire/base/error.hpp"
#include "xenwire/sim/host.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/daemon/xenstored.hpp"

namespace xenwire::testbed {

// What the toolstack writes for a new domain, in one transaction: the home /local/domain/<domid>
// (owned by the domain) and, unless `identity` is off, its `name` ("guest-<domid>") and `domid`
// nodes, then whatever `extra` writes (devices, ...) in the same transaction.
struct domain_spec {
  domid_t domid = 0;
  bool identity = true;
  std::function<xenstore::client_result<void>(xenstore::client& toolstack, xenstore::tx_id tx)> extra;
};

// The toolstack's Xenstore half of building a domain whose page (grant ref 1) and port already
// exist: its nodes (domain_spec) in one transaction, then INTRODUCE with `port`.
xenstore::client_result<void> write_and_introduce(xenstore::client& toolstack, const domain_spec& spec,
                                                  evtchn_port_t port);

// As a toolstack builds a domain: creates it in `host` with a Xenstore page (grant ref 1) and an
// unbound event channel port for dom0, writes its nodes (domain_spec) through `toolstack` (a dom0
// connection) and INTRODUCEs it. The domain's info carries its Xenstore port.
xenstore::client_result<sim::domain_info> build_domain(sim::host& host, xenstore::client& toolstack,
                                                       const domain_spec& spec);

// A guest as it runs: its transport (held: a guest that drops it looks dead) and a Xenstore client
// over its own ring.
struct guest_domain {
  domid_t domid = 0;
  std::unique_ptr<sim::domain_transport> transport;
  xenstore::client xs;
};

// The guest's side of a built domain: takes its transport and connects over its Xenstore ring.
xenstore::client_result<std::unique_ptr<guest_domain>> connect_guest(sim::host& host, domid_t domid,
                                                                     xenstore::client_options opts = {});

struct host_options {
  std::string socket_path;             // xenstored's socket; empty: "socket" in a fresh temporary directory
  xenstore::server_config xenstored{};  // the core's settings (quotas, the XSA-206 write limit, ...)
  xenstore::log_sink log;              // the daemon's log; empty: dropped
  bool start_xenstored = true;         // false: the caller calls start_xenstored()
  xenstore::client_options clients{.timeout = std::chrono::seconds(10)};  // dom0()'s and add_guest()'s
};

class simulated_host {
 public:
  // Creates dom0 (and its transport) and, unless told otherwise, starts xenstored.
  static result<std::unique_ptr<simulated_host>> create(host_options opts = {});
  ~simulated_host();  // shutdown()
  simulated_host(const simulated_host&) = delete;
  simulated_host& operator=(const simulated_host&) = delete;

  // Starts (or restarts) xenstored, with `config` if given (else the options'), and connects dom0().
  result<void> start_xenstored(std::optional<xenstore::server_config> config = std::nullopt);
  // Closes dom0(), stops and destroys xenstored (its socket and every ring close); returns the core's
  // final counters. Nothing if it was not running.
  std::optional<xenstore::core_stats> stop_xenstored();

  // A new dom0 connection over the socket.
  xenstore::client_result<xenstore::client> connect(xenstore::client_options opts = {});
  // Builds domain `d` (build_domain through dom0()) and connects its guest side.
  xenstore::client_result<std::unique_ptr<guest_domain>> add_guest(domid_t d);
  // The host kills the domain (a crash: no RELEASE); xenstored notices and fires @releaseDomain.
  result<void> crash(domid_t d);
  // Orderly: the guest closes its connection, the toolstack RELEASEs it, the host destroys it.
  xenstore::client_result<void> release(guest_domain& g);

  sim::host& host() noexcept { return host_; }
  sim::domain_transport& dom0_transport() noexcept { return *dom0_transport_; }
  xenstore::client& dom0() noexcept { return toolstack_; }  // the toolstack's connection
  const std::string& socket_path() const noexcept { return socket_; }
  // The temporary directory holding the socket (empty with host_options::socket_path).
  const std::filesystem::path& dir() const noexcept { return dir_; }
  // Every node's path and value, walking / through dom0() (directory + read).
  std::vector<std::pair<std::string, std::string>> dump_store();

  // Stops xenstored, drops dom0's transport and destroys dom0, removes the temporary directory;
  // then host().check_clean() tells whether anything leaked. Idempotent.
  void shutdown();

 private:
  explicit simulated_host(host_options opts) : opts_(std::move(opts)) {}

  host_options opts_;
  sim::host host_;
  std::unique_ptr<sim::domain_transport> dom0_transport_;
  std::filesystem::path dir_;
  std::string socket_;
  std::unique_ptr<xenstore::xenstored> daemon_;
  std::thread daemon_thread_;
  xenstore::client toolstack_;
  bool down_ = false;
};

}  // namespace xenwire::testbed
