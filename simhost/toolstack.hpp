// dom0's side of the simulated host: builds domains (sim grant page + event channel, Xenstore home
// and device nodes, INTRODUCE), plays the network backend (watches frontends, connects them), and
// cleans up after domains that die (@releaseDomain).
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
#include "xenwire/sim/host.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::sim_host {

class toolstack {
 public:
  toolstack(sim::host& host, std::string socket_path, report& out);
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

  std::size_t devices_connected() const { return connected_.load(); }
  std::size_t domains_cleaned() const { return cleaned_count_.load(); }

 private:
  void backend_loop();
  void release_loop();
  xenstore::client connect();

  sim::host& host_;
  std::string socket_path_;
  report& out_;
  xenstore::client ctl_;      // toolstack requests
  xenstore::client backend_;  // netback's own connection
  xenstore::client watcher_;  // @releaseDomain
  std::thread backend_thread_, release_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connected_{0};
  std::atomic<std::size_t> cleaned_count_{0};
  std::mutex mu_;
  std::set<domid_t> live_;     // built and not yet released or cleaned up
  std::set<domid_t> cleaned_;  // died and cleaned up
};

}  // namespace xenwire::sim_host
