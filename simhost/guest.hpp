// A simulated guest domain: connects to Xenstore over its own ring (the page and event channel the
// toolstack gave it), brings up its network frontends with the backend, then does a number of
// read/write/transaction rounds. A guest chosen by the scenario crashes mid-way.
#pragma once

#include <future>
#include <thread>

#include "report.hpp"
#include "scenario.hpp"
#include "xenwire/sim/host.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::simhost {

class guest {
 public:
  guest(sim::host& host, guest_plan plan, report& out) : host_(host), plan_(plan), out_(out) {}
  ~guest() { join(); }
  guest(const guest&) = delete;
  guest& operator=(const guest&) = delete;

  void start() { thread_ = std::thread([this] { run(); }); }
  // Blocks until the guest finished its rounds (or crashed).
  void wait_done() { done_.get_future().wait(); }
  // Lets a finished guest drop its Xenstore connection and end.
  void let_exit() { exit_.set_value(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  const guest_plan& plan() const { return plan_; }
  bool ok() const { return ok_; }  // after join()

 private:
  void run();
  bool work();
  // Fetches the plan's entropy from randomd; false if the guest should stop here (crash or failure).
  bool fetch_entropy(bool& crashed);

  sim::host& host_;
  guest_plan plan_;
  report& out_;
  std::thread thread_;
  std::promise<void> done_;
  std::promise<void> exit_;
  bool ok_ = false;  // written by the guest's thread, read by ok() after join(): the join orders them
  // Held until let_exit(): a guest that drops its Xenstore connection looks dead to xenstored.
  std::unique_ptr<sim::domain_transport> transport_;
  xenstore::client xs_;
};

}  // namespace xenwire::simhost
