// Test fixture for the client: the testbed's simulated host (xenwire's daemon in a thread on a
// temporary socket, serving the host's rings through dom0's transport), plus helpers to bring up
// guest domains whose client talks over its Xenstore ring.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "xenwire/testbed/simulated_host.hpp"

namespace xenwire::xenstore::testing {

class daemon_fixture {
 public:
  daemon_fixture() {
    testbed::host_options opts;
    opts.log = [this](log_level, std::string_view m) {
      std::lock_guard lk(log_mu_);
      logs_.emplace_back(m);
    };
    opts.start_xenstored = false;  // start() does
    auto h = testbed::simulated_host::create(std::move(opts));
    EXPECT_TRUE(h) << h.error().message();
    host_ = std::move(*h);
  }
  ~daemon_fixture() {
    stop();
    guests_.clear();
    host_->shutdown();
  }

  struct start_options {
    bool write_rate_limit = true;  // XSA-206 limiter (on in the real daemon)
  };
  // Starts (or restarts) the daemon.
  void start(start_options opts = {true}) {
    server_config config;
    config.write_rate.enabled = opts.write_rate_limit;
    auto r = host_->start_xenstored(config);
    ASSERT_TRUE(r) << r.error().message();
  }
  // Stops and destroys the daemon: its sockets and rings close.
  void stop() { (void)host_->stop_xenstored(); }

  client connect(client_options opts = {}) {
    auto c = host_->connect(opts);
    EXPECT_TRUE(c) << c.error().message();
    return std::move(*c);
  }

  // Creates guest `domid` with a xenstore page, gives it a home owned by itself and introduces it
  // (through `dom0`); returns a client speaking over the guest's ring.
  client guest(client& dom0, domid_t domid, client_options opts = {}) {
    testbed::domain_spec spec;
    spec.domid = domid;
    spec.identity = false;  // the home alone: tests list it
    auto built = testbed::build_domain(host_->host(), dom0, spec);
    EXPECT_TRUE(built) << built.error().message();
    auto g = testbed::connect_guest(host_->host(), domid, opts);
    EXPECT_TRUE(g) << g.error().message();
    client c = std::move((*g)->xs);
    guests_.push_back(std::move(*g));
    return c;
  }

  sim::host& host() { return host_->host(); }
  const std::string& socket_path() const { return host_->socket_path(); }
  const std::filesystem::path& dir() const { return host_->dir(); }

 private:
  std::mutex log_mu_;
  std::vector<std::string> logs_;
  std::unique_ptr<testbed::simulated_host> host_;
  std::vector<std::unique_ptr<testbed::guest_domain>> guests_;  // their transports
};

}  // namespace xenwire::xenstore::testing
