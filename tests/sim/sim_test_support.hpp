// Small helpers shared by the simulator's tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <system_error>

#include "poll_support.hpp"
#include "xenwire/sim/host.hpp"

namespace xenwire::sim::test_support {

// The error of a result, or a default (success) error_code: EXPECT_EQ(error_of(r), errc::bad_port).
template <class T>
std::error_code error_of(const result<T>& r) {
  return r ? std::error_code{} : r.error();
}

using xenwire::test_support::readable;

// A connected event channel between two handles; the binder's initial pending event is drained.
struct channel {
  std::unique_ptr<event_channel> a, b;  // a bound unbound, b bound interdomain
  evtchn_port_t pa = 0, pb = 0;
};

inline channel connect(domain_transport& ta, domain_transport& tb) {
  channel c;
  c.a = ta.open_event_channel().value();
  c.b = tb.open_event_channel().value();
  c.pa = c.a->bind_unbound(tb.self()).value();
  c.pb = c.b->bind_interdomain(ta.self(), c.pa).value();
  EXPECT_EQ(c.b->pending().value(), c.pb);  // Xen marks the new local port pending
  return c;
}

// Three domains (0, 1, 2) and their transports.
class three_domains : public ::testing::Test {
 protected:
  void SetUp() override {
    for (domid_t d : {domid_t{0}, domid_t{1}, domid_t{2}}) ASSERT_TRUE(host.create_domain(d));
    t0 = host.transport(0).value();
    t1 = host.transport(1).value();
    t2 = host.transport(2).value();
  }

  sim::host host;
  std::unique_ptr<domain_transport> t0, t1, t2;
};

}  // namespace xenwire::sim::test_support
