// A cross-process host served from a thread of the test process (host_server on its own event
// loop), in a fresh run directory, for tests of the client, the seam contract and process death.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "xenwire/base/event_loop.hpp"
#include "xenwire/sim/host_server.hpp"
#include "xenwire/sim/remote.hpp"

namespace xenwire::sim::test_support {

class served_host {
 public:
  explicit served_host(host_options limits = {}) {
    static std::atomic<int> counter{0};
    char dir[] = "/tmp/xenwire-host-test-XXXXXX";
    run_root_ = ::mkdtemp(dir);
    ::setenv("XENWIRE_RUN_DIR", run_root_.c_str(), 1);
    loop_ = event_loop::create().value();
    host_server_options opts;
    opts.name = "t" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    opts.limits = limits;
    server_ = host_server::start(opts, *loop_).value();
    thread_ = std::thread([this] {
      while (!loop_->stopping() && !server_->finished()) static_cast<void>(loop_->run_once(std::chrono::milliseconds(-1)));
    });
  }
  ~served_host() {
    loop_->stop();
    thread_.join();
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(run_root_, ec);
  }
  served_host(const served_host&) = delete;
  served_host& operator=(const served_host&) = delete;

  const std::filesystem::path& socket() const { return server_->paths().socket; }
  const host_paths& paths() const { return server_->paths(); }
  // Thread-safe: the host's own tables behind its mutex.
  sim::host& host() { return server_->host(); }

  std::unique_ptr<remote_transport> join(domid_t domid, membership mode = membership::owner) {
    return remote_transport::connect({.socket = socket(), .domid = domid, .mode = mode}).value();
  }

 private:
  std::filesystem::path run_root_;
  std::unique_ptr<event_loop> loop_;
  std::unique_ptr<host_server> server_;
  std::thread thread_;
};

}  // namespace xenwire::sim::test_support
