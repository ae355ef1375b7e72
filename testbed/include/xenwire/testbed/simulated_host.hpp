// A simulated host with randomd, for the demo and the tests: dom0 runs xenwire's xenstored (in a
// thread, on a temporary Unix socket, serving guests' rings through the simulator) and randomd (in
// a thread, with its own dom0 connection); guests are built as a toolstack would (home owned by the
// guest, INTRODUCE) and talk Xenstore over their own rings.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "xenwire/randomd/server.hpp"
#include "xenwire/sim/host.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/daemon/xenstored.hpp"

namespace xenwire::randomd::testbed {

struct guest_domain {
  domid_t domid = 0;
  std::unique_ptr<sim::domain_transport> transport;
  xenstore::client xs;  // over the guest's own Xenstore ring
};

class simulated_host {
 public:
  // `start_randomd` false: the caller starts it (start_randomd()) or plays dom0's side itself.
  static result<std::unique_ptr<simulated_host>> create(server_config cfg = {}, bool start_randomd = true);
  ~simulated_host();  // shutdown()

  result<void> start_randomd(server_config cfg);
  // Builds and introduces a guest and connects its Xenstore client over its ring.
  result<std::unique_ptr<guest_domain>> add_guest(domid_t d);
  // The host kills the domain (a crash: no RELEASE); xenstored notices and fires @releaseDomain.
  result<void> crash(domid_t d);
  // Orderly: RELEASE, then destroy.
  result<void> release(guest_domain& g);

  sim::host& host() noexcept { return host_; }
  xenstore::client& dom0() noexcept { return toolstack_; }  // a dom0 connection for the caller
  server* randomd() noexcept { return randomd_.get(); }
  // Every node's path and value, walking / through `c` (directory + read).
  std::vector<std::pair<std::string, std::string>> dump_store();

  // Stops randomd and xenstored, drops dom0's connections and destroys dom0; then check_clean().
  void shutdown();

 private:
  simulated_host() = default;
  result<void> start_daemon();

  sim::host host_;
  std::unique_ptr<sim::domain_transport> dom0_transport_;
  std::filesystem::path dir_;
  std::string socket_;
  std::unique_ptr<xenstore::xenstored> daemon_;
  std::thread daemon_thread_;
  xenstore::client toolstack_;
  xenstore::client randomd_xs_;
  std::unique_ptr<server> randomd_;
  std::thread randomd_thread_;
  bool down_ = false;
};

}  // namespace xenwire::randomd::testbed
