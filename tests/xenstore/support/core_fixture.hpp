// A gtest fixture around core_harness for the core's conformance and XSA suites: every test ends with
// the core's own consistency check, and a few helpers read state back through the real interface
// (CONTROL quota <domid>, feeding without draining).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core_harness.hpp"

namespace xenwire::xenstore::testing {

class CoreTest : public ::testing::Test {
 protected:
  core_harness h;

  server_core& core() { return h.core(); }
  void TearDown() override {
    auto ok = core().check();
    EXPECT_TRUE(ok) << "core().check() failed: " << (ok ? std::string() : ok.error().message());
  }

  // Drains the connection and returns the events it received since the last call.
  std::vector<event> ev(conn_id c) {
    h.drain(c);
    return h.events(c);
  }
  static std::vector<event> sorted(std::vector<event> v) {
    std::sort(v.begin(), v.end(), [](const event& a, const event& b) {
      return std::tie(a.path, a.token) < std::tie(b.path, b.token);
    });
    return v;
  }
  // A used-counter from "CONTROL quota <domid>" ("nodes", "watches", "transactions", "outstanding",
  // "memory"); -1 if the domain is unknown or the row is missing.
  long long usage(domid_t domid, std::string_view row) {
    auto r = h.request(h.dom0(), msg_type::control, core_harness::z("quota") + core_harness::z(std::to_string(domid)));
    if (r.is_error()) return -1;
    std::string text = r.str();
    std::size_t at = 0;
    while (at < text.size()) {
      std::size_t eol = text.find('\n', at);
      if (eol == std::string::npos) eol = text.size();
      std::string line = text.substr(at, eol - at);
      at = eol + 1;
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      while (!name.empty() && name.back() == ' ') name.pop_back();
      if (name == row) return std::strtoll(line.c_str() + colon + 1, nullptr, 10);
    }
    return -1;
  }
  // Sends a raw request on `c` without draining its output (the core keeps it queued).
  std::size_t feed_raw(conn_id c, msg_type type, std::string_view payload, std::uint32_t req_id = 0,
                       std::uint32_t tx = 0) {
    std::string frame;
    header hd{static_cast<std::uint32_t>(type), req_id, tx, 0};
    (void)encode(frame, hd, payload);
    auto r = core().feed(c, std::as_bytes(std::span(frame.data(), frame.size())), h.now());
    return r ? *r : 0;
  }
  std::string frame_of(msg_type type, std::string_view payload, std::uint32_t req_id = 0, std::uint32_t tx = 0) {
    std::string frame;
    header hd{static_cast<std::uint32_t>(type), req_id, tx, 0};
    (void)encode(frame, hd, payload);
    return frame;
  }
  static std::string wpayload(std::string_view path, std::string_view value) {
    std::string p = core_harness::z(path);
    p.append(value);
    return p;
  }
  reply set_quota(std::string_view name, std::uint32_t value) {
    return h.request(h.dom0(), msg_type::set_quota, core_harness::z(name) + core_harness::z(std::to_string(value)));
  }
  reply set_quota(domid_t domid, std::string_view name, std::uint32_t value) {
    return h.request(h.dom0(), msg_type::set_quota,
                     core_harness::z(std::to_string(domid)) + core_harness::z(name) +
                         core_harness::z(std::to_string(value)));
  }
  reply get_quota(std::string_view name) { return h.request(h.dom0(), msg_type::get_quota, core_harness::z(name)); }
  reply get_quota(domid_t domid, std::string_view name) {
    return h.request(h.dom0(), msg_type::get_quota, core_harness::z(std::to_string(domid)) + core_harness::z(name));
  }
  reply control(std::string_view cmd, std::vector<std::string> args = {}) {
    std::string p = core_harness::z(cmd);
    for (auto& a : args) p += core_harness::z(a);
    return h.request(h.dom0(), msg_type::control, p);
  }
};

inline std::ostream& operator<<(std::ostream& os, const event& e) { return os << "{" << e.path << ", " << e.token << "}"; }

using EV = std::vector<event>;

}  // namespace xenwire::xenstore::testing
