// Test fixture for the client: xenwire's daemon in a thread on a temporary socket, serving a
// simulated host's rings (dom0's transport), plus helpers to bring up guest domains whose client
// talks over its Xenstore ring.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "xenwire/sim/host.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/daemon/xenstored.hpp"

namespace xenwire::xenstore::testing {

class daemon_fixture {
 public:
  daemon_fixture() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "xw-client-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    socket_ = (dir_ / "socket").string();
    host_.create_domain(0).value();
    dom0_ = host_.transport(0).value();
  }
  ~daemon_fixture() {
    stop();
    std::filesystem::remove_all(dir_);
  }

  struct start_options {
    bool write_rate_limit = true;  // XSA-206 limiter (on in the real daemon)
  };
  // Starts (or restarts) the daemon.
  void start(start_options opts = {true}) {
    daemon_settings s;
    s.socket_path = socket_;
    s.stop_on_signals = false;
    s.config.write_rate.enabled = opts.write_rate_limit;
    auto d = xenstored::create(std::move(s), dom0_.get(), [this](log_level, std::string_view m) {
      std::lock_guard lk(log_mu_);
      logs_.emplace_back(m);
    });
    ASSERT_TRUE(d) << d.error().message();
    daemon_ = std::move(*d);
    thread_ = std::thread([this] { (void)daemon_->run(); });
  }
  // Stops and destroys the daemon: its sockets and rings close.
  void stop() {
    if (thread_.joinable()) {
      daemon_->stop();
      thread_.join();
    }
    daemon_.reset();
  }

  client connect(client_options opts = {}) {
    auto conn = connect_unix_socket(socket_);
    EXPECT_TRUE(conn) << conn.error().message();
    auto c = client::open(std::move(*conn), opts);
    EXPECT_TRUE(c);
    return std::move(*c);
  }

  // Creates guest `domid` with a xenstore page, gives it a home owned by itself and introduces it
  // (through `dom0`); returns a client speaking over the guest's ring.
  client guest(client& dom0, domid_t domid, client_options opts = {}) {
    auto info = host_.create_domain(domid, {.xenstore = true, .xenstore_domid = 0});
    EXPECT_TRUE(info);
    const std::string home = "/local/domain/" + std::to_string(domid);
    EXPECT_TRUE(dom0.write(home, ""));
    EXPECT_TRUE(dom0.set_perms(home, {{domid, perm::none}}));
    auto t = host_.transport(domid).value();
    auto ep = t->take_xenstore().value();
    auto conn = connect_ring(std::move(ep.page), std::move(ep.events), ep.port);
    EXPECT_TRUE(conn) << conn.error().message();
    EXPECT_TRUE(dom0.introduce(domid, 0, *info->xenstore_port));
    guests_.push_back(std::move(t));
    auto c = client::open(std::move(*conn), opts);
    EXPECT_TRUE(c);
    return std::move(*c);
  }

  sim::host& host() { return host_; }
  const std::string& socket_path() const { return socket_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::string socket_;
  sim::host host_;
  std::unique_ptr<sim::domain_transport> dom0_;
  std::vector<std::unique_ptr<sim::domain_transport>> guests_;
  std::unique_ptr<xenstored> daemon_;
  std::thread thread_;
  std::mutex log_mu_;
  std::vector<std::string> logs_;
};

}  // namespace xenwire::xenstore::testing
