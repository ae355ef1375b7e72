// dom0's side of the simulated host: builds domains (testbed::build_domain: sim grant page + event
// channel, Xenstore home, INTRODUCE; plus the device nodes), plays the network backend (watches
// frontends, connects them), and cleans up after domains that die (@releaseDomain).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "report.hpp"
#include "scenario.hpp"
#include "xenwire/testbed/simulated_host.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::simhost {

class toolstack {
 public:
  toolstack(testbed::simulated_host& host, report& out);
  ~toolstack();

  // Connects dom0's clients and starts the backend and @releaseDomain watchers.
  result<void> start();
  // Creates the domain in the simulator, writes its Xenstore nodes and introduces it.
  result<void> build_domain(const guest_plan& g);
  // Orderly shutdown of a guest that finished: RELEASE, then destroy it in the simulator.
  result<void> release_domain(domid_t domid);
  // Waits until a crashed domain has been cleaned up (backend nodes removed).
  bool wait_cleaned(domid_t domid, std::chrono::milliseconds timeout);
  void stop();

  std::size_t devices_connected() const { return connected_.get(); }
  std::size_t domains_cleaned() const { return cleaned_count_.get(); }

 private:
  void backend_loop();
  void release_loop();
  xenstore::client connect();

  testbed::simulated_host& host_;
  report& out_;
  xenstore::client ctl_;      // toolstack requests
  xenstore::client backend_;  // netback's own connection
  xenstore::client watcher_;  // @releaseDomain
  xenstore::watch frontends_;  // backend_'s watch on /local/domain
  xenstore::watch releases_;   // watcher_'s watch on @releaseDomain
  std::thread backend_thread_, release_thread_;
  // Relaxed: it publishes nothing; closing the connections is what ends the watchers' waits, and
  // stop() joins their threads.
  std::atomic<bool> stopping_{false};
  counter connected_;
  counter cleaned_count_;
  std::mutex mu_;
  std::set<domid_t> live_;     // built and not yet released or cleaned up
  std::set<domid_t> cleaned_;  // died and cleaned up
};

}  // namespace xenwire::simhost
