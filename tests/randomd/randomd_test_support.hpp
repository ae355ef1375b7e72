// Shared helpers for randomd's service tests: the testbed's simulated host with randomd in dom0,
// raw request frames, polling waits.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "xenwire/randomd/discovery.hpp"
#include "xenwire/randomd/guest.hpp"
#include "xenwire/randomd/protocol.hpp"
#include "xenwire/randomd/server_thread.hpp"
#include "xenwire/testbed/simulated_host.hpp"

namespace xenwire::randomd::testing {

using namespace std::chrono_literals;

inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

// Sends one raw frame and reads the response header (and drops its payload).
inline response_header round_trip(vchan::endpoint& ep, std::span<const std::byte> frame) {
  ep.set_io({.mode = vchan::io_mode::blocking, .timeout = 5s});
  EXPECT_TRUE(ep.send(frame));
  std::array<std::byte, response_header_size> head{};
  auto got = ep.recv(head);
  EXPECT_TRUE(got) << (got ? "" : got.error().message());
  auto h = decode_response(head);
  EXPECT_TRUE(h);
  std::vector<std::byte> payload(h ? h->length : 0);
  std::size_t n = 0;
  while (n < payload.size()) {
    auto r = ep.read(std::span(payload).subspan(n));
    if (!r) break;
    n += *r;
  }
  EXPECT_EQ(n, payload.size());
  return h.value_or(response_header{});
}

inline response_header round_trip(vchan::endpoint& ep, const request& q) { return round_trip(ep, encode(q)); }

// A server configuration with its byte budget set (field by field: designated initializers would
// have to name every member to stay clear of -Wmissing-field-initializers).
inline server_config budget(std::uint32_t rate, std::uint32_t burst, std::uint32_t max_request) {
  server_config c;
  c.limit = {.rate = rate, .burst = burst};
  c.max_request = max_request;
  return c;
}

struct randomd_host : ::testing::Test {
  // The simulated host, then randomd in dom0 with its own Xenstore connection.
  void start(server_config cfg = {}) {
    auto h = testbed::simulated_host::create();
    ASSERT_TRUE(h) << h.error().message();
    host = std::move(*h);
    auto xs = host->connect({.timeout = 10s});
    ASSERT_TRUE(xs) << xs.error().message();
    auto r = server_thread::start(host->dom0_transport(), std::move(*xs), std::move(cfg));
    ASSERT_TRUE(r) << r.error().message();
    rd = std::move(*r);
  }
  server& randomd() { return rd->get(); }
  std::unique_ptr<testbed::guest_domain> guest(domid_t d) {
    auto g = host->add_guest(d);
    EXPECT_TRUE(g) << g.error().message();
    return g ? std::move(*g) : nullptr;
  }
  entropy_client connect(testbed::guest_domain& g, fetch_options o = {}) {
    auto c = entropy_client::connect(g.xs, *g.transport, 5s, o);
    EXPECT_TRUE(c) << c.error().message();
    return std::move(*c);
  }
  // Tears everything down in order and checks the simulator for leaks.
  void finish(std::vector<std::unique_ptr<testbed::guest_domain>>& guests) {
    for (auto& g : guests)
      if (g) (void)host->release(*g);
    rd.reset();  // stops randomd and closes its servers while xenstored still runs
    host->shutdown();
    guests.clear();
    const auto clean = host->host().check_clean();
    EXPECT_TRUE(clean) << clean.describe();
  }
  std::unique_ptr<testbed::simulated_host> host;
  std::unique_ptr<server_thread> rd;  // after `host`: destroyed first
};

}  // namespace xenwire::randomd::testing
