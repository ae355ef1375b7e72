// A simulated guest domain: connects to Xenstore over its own ring (the page and event channel the
// toolstack gave it), brings up its network frontends with the backend, then does a number of
// read/write/transaction rounds. A guest chosen by the scenario crashes mid-way.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <utility>

#include "report.hpp"
#include "scenario.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/sim/host.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::simhost {

// How a guest reaches its host, and how it dies: a thread of this process on the in-process
// simulator (the host destroys the domain), or a process of its own on the cross-process host
// (it SIGKILLs itself, and the host sees the process die).
struct guest_env {
  using connection = std::pair<std::unique_ptr<transport>, xenstore::client>;
  std::function<xenstore::client_result<connection>()> connect;
  std::function<void()> crash;
};
guest_env in_process_env(sim::host& host, domid_t domid);
guest_env own_process_env(domid_t domid);

class guest {
 public:
  guest(guest_env env, guest_plan plan, report& out) : env_(std::move(env)), plan_(plan), out_(out) {}
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

  // The guest's work on the calling thread (a guest process's main): true if it went as planned.
  bool work();
  void close() {
    xs_.close();
    transport_.reset();
  }

 private:
  void run();
  // Fetches the plan's entropy from randomd; false if the guest should stop here (crash or failure).
  bool fetch_entropy(bool& crashed);

  guest_env env_;
  guest_plan plan_;
  report& out_;
  std::thread thread_;
  std::promise<void> done_;
  std::promise<void> exit_;
  bool ok_ = false;  // written by the guest's thread, read by ok() after join(): the join orders them
  // Held until let_exit(): a guest that drops its Xenstore connection looks dead to xenstored.
  std::unique_ptr<transport> transport_;
  xenstore::client xs_;
};

}  // namespace xenwire::simhost
