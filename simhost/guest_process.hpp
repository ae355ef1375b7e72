// A guest as a process of its own (xenwire-sim --processes): this program re-run with
// --guest-process, joining the cross-process host as the owner of its domain, so that its death is
// the domain's. It reports over a socketpair (fd 3 in the child): one "done" line with its counters
// when its work is over, then it waits for the word to exit.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "report.hpp"
#include "scenario.hpp"

namespace xenwire::simhost {

class guest_process {
 public:
  // `args`: the scenario's options, passed on so that the child draws the same plan.
  guest_process(guest_plan plan, report& out, std::filesystem::path host_socket, std::vector<std::string> args);
  ~guest_process();
  guest_process(const guest_process&) = delete;
  guest_process& operator=(const guest_process&) = delete;

  void start();
  void wait_done();  // its "done" line arrived, or it died
  void let_exit();
  void join();
  const guest_plan& plan() const { return plan_; }
  bool ok() const { return ok_; }  // after join(): worked as planned (a planned crash: killed by SIGKILL)

 private:
  guest_plan plan_;
  report& out_;
  std::filesystem::path host_socket_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int sock_ = -1;
  bool reported_ok_ = false;
  bool ok_ = false;
};

// The child's side: runs the plan's guest on this process's main thread; returns the exit status.
int run_guest_process(const guest_plan& plan, report& out);

}  // namespace xenwire::simhost
