// Event channels: binding rules, notify/pending coalescing, masking, the pollable fd, closure by
// unbind, handle destruction and domain death, limits, and every error of the seam.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "sim_test_support.hpp"
#include "xenwire/sim/host.hpp"

namespace xenwire::sim {
namespace {

using test_support::error_of;
using test_support::readable;
using events = test_support::three_domains;
using namespace std::chrono_literals;

TEST_F(events, BindConnectAndNotify) {
  auto h1 = t1->open_event_channel().value();
  auto h0 = t0->open_event_channel().value();
  const evtchn_port_t p1 = h1->bind_unbound(0).value();
  EXPECT_GE(p1, 1U);
  EXPECT_EQ(h1->state(p1).value(), port_state::unbound);
  const evtchn_port_t p0 = h0->bind_interdomain(1, p1).value();
  EXPECT_EQ(h0->state(p0).value(), port_state::connected);
  EXPECT_EQ(h1->state(p1).value(), port_state::connected);
  // Xen sets the binder's new port pending (events sent to the unbound port may have been lost).
  EXPECT_TRUE(readable(h0->fd()));
  EXPECT_EQ(h0->pending().value(), p0);
  EXPECT_EQ(h0->pending().value(), std::nullopt);
  EXPECT_FALSE(readable(h0->fd()));

  EXPECT_FALSE(readable(h1->fd()));
  ASSERT_TRUE(h0->notify(p0));
  EXPECT_TRUE(readable(h1->fd()));
  EXPECT_EQ(h1->pending().value(), p1);
  EXPECT_FALSE(readable(h1->fd()));
  ASSERT_TRUE(h1->notify(p1));
  EXPECT_EQ(h0->wait(0ms).value(), p0);
  EXPECT_EQ(error_of(h0->wait(20ms)), errc::timed_out);
}

TEST_F(events, NotificationsCoalesce) {
  auto ch = test_support::connect(*t1, *t2);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ch.b->notify(ch.pb));
  EXPECT_EQ(ch.a->pending().value(), ch.pa);
  EXPECT_EQ(ch.a->pending().value(), std::nullopt);  // the port stays armed...
  ASSERT_TRUE(ch.b->notify(ch.pb));
  EXPECT_EQ(ch.a->pending().value(), ch.pa);  // ...for the next one
}

TEST_F(events, MaskedPortsStayPendingAndDeliverOnUnmask) {
  auto ch = test_support::connect(*t1, *t2);
  ASSERT_TRUE(ch.a->mask(ch.pa));
  ASSERT_TRUE(ch.a->mask(ch.pa));  // idempotent
  ASSERT_TRUE(ch.b->notify(ch.pb));
  ASSERT_TRUE(ch.b->notify(ch.pb));
  EXPECT_FALSE(readable(ch.a->fd()));
  EXPECT_EQ(ch.a->pending().value(), std::nullopt);
  EXPECT_EQ(error_of(ch.a->wait(1ms)), errc::timed_out);
  ASSERT_TRUE(ch.a->unmask(ch.pa));
  EXPECT_TRUE(readable(ch.a->fd()));
  EXPECT_EQ(ch.a->pending().value(), ch.pa);
  EXPECT_EQ(ch.a->pending().value(), std::nullopt);
  ASSERT_TRUE(ch.a->unmask(ch.pa));  // unmasking an unmasked port is harmless
  EXPECT_EQ(ch.a->pending().value(), std::nullopt);
}

TEST_F(events, PendingIsFairAcrossPortsOfAHandle) {
  auto h1 = t1->open_event_channel().value();
  auto h2 = t2->open_event_channel().value();
  std::vector<evtchn_port_t> mine, theirs;
  for (int i = 0; i < 3; ++i) {
    mine.push_back(h1->bind_unbound(2).value());
    theirs.push_back(h2->bind_interdomain(1, mine.back()).value());
  }
  while (h2->pending().value()) {
  }
  for (evtchn_port_t p : theirs) ASSERT_TRUE(h2->notify(p));
  std::vector<evtchn_port_t> got;
  while (auto p = h1->pending().value()) got.push_back(*p);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, mine);
}

TEST_F(events, OnlyTheNamedDomainMayConnect) {
  auto h1 = t1->open_event_channel().value();
  auto h2 = t2->open_event_channel().value();
  const evtchn_port_t p1 = h1->bind_unbound(0).value();
  EXPECT_EQ(error_of(h2->bind_interdomain(1, p1)), errc::permission_denied);
  EXPECT_EQ(error_of(h2->bind_interdomain(1, 999)), errc::bad_port);
  EXPECT_EQ(error_of(h2->bind_interdomain(1, 0)), errc::bad_port);
  EXPECT_EQ(error_of(h2->bind_interdomain(9, p1)), errc::no_such_domain);
  EXPECT_EQ(error_of(h2->bind_unbound(0x7FF1)), errc::invalid_argument);
  auto h0 = t0->open_event_channel().value();
  const evtchn_port_t p0 = h0->bind_interdomain(1, p1).value();
  auto h0b = t0->open_event_channel().value();
  EXPECT_EQ(error_of(h0b->bind_interdomain(1, p1)), errc::bad_port);  // already connected
  EXPECT_EQ(error_of(h0b->notify(p0)), errc::bad_port);               // ports belong to one handle
  EXPECT_EQ(error_of(h0b->unbind(p0)), errc::bad_port);
  EXPECT_EQ(error_of(h0b->state(p0)), errc::bad_port);
  EXPECT_EQ(error_of(h0b->mask(p0)), errc::bad_port);
  EXPECT_EQ(error_of(h0b->unmask(p0)), errc::bad_port);
}

TEST_F(events, NotifyOnAnUnboundPortIsDroppedLikeXen) {
  auto h1 = t1->open_event_channel().value();
  const evtchn_port_t p1 = h1->bind_unbound(2).value();
  EXPECT_TRUE(h1->notify(p1));
  auto h2 = t2->open_event_channel().value();
  const evtchn_port_t p2 = h2->bind_interdomain(1, p1).value();
  EXPECT_EQ(h2->pending().value(), p2);  // only the bind's own conservative event
  EXPECT_EQ(h2->pending().value(), std::nullopt);
}

TEST_F(events, LoopbackWithinOneDomain) {
  auto a = t1->open_event_channel().value();
  auto b = t1->open_event_channel().value();
  const evtchn_port_t pa = a->bind_unbound(domid_self).value();
  const evtchn_port_t pb = b->bind_interdomain(domid_self, pa).value();
  EXPECT_NE(pa, pb);
  EXPECT_EQ(b->pending().value(), pb);
  ASSERT_TRUE(b->notify(pb));
  EXPECT_EQ(a->pending().value(), pa);
}

TEST_F(events, UnbindClosesThePeer) {
  auto ch = test_support::connect(*t1, *t2);
  ASSERT_TRUE(ch.a->unbind(ch.pa));
  EXPECT_EQ(error_of(ch.a->state(ch.pa)), errc::bad_port);
  EXPECT_EQ(error_of(ch.a->unbind(ch.pa)), errc::bad_port);
  EXPECT_TRUE(readable(ch.b->fd()));  // woken
  EXPECT_EQ(ch.b->pending().value(), ch.pb);
  EXPECT_EQ(ch.b->state(ch.pb).value(), port_state::peer_closed);
  EXPECT_EQ(error_of(ch.b->notify(ch.pb)), errc::peer_closed);
  ASSERT_TRUE(ch.b->unbind(ch.pb));
  EXPECT_TRUE(host.check_clean());
}

TEST_F(events, ClosingAHandleUnbindsItsPorts) {
  auto ch = test_support::connect(*t1, *t2);
  ch.a.reset();
  EXPECT_EQ(ch.b->wait(0ms).value(), ch.pb);
  EXPECT_EQ(ch.b->state(ch.pb).value(), port_state::peer_closed);
  ch.b.reset();
  EXPECT_TRUE(host.check_clean());
}

TEST_F(events, DomainDeathClosesPeersAndWakesEveryone) {
  auto ch = test_support::connect(*t1, *t2);
  ASSERT_TRUE(ch.a->mask(ch.pa));
  ASSERT_TRUE(host.destroy_domain(1));
  EXPECT_EQ(ch.b->pending().value(), ch.pb);
  EXPECT_EQ(ch.b->state(ch.pb).value(), port_state::peer_closed);
  EXPECT_EQ(error_of(ch.b->notify(ch.pb)), errc::peer_closed);
  EXPECT_EQ(error_of(ch.b->bind_interdomain(1, ch.pa)), errc::domain_dying);
  // The dead domain's handle: readable so blocked waiters return, every call fails.
  EXPECT_TRUE(readable(ch.a->fd()));
  EXPECT_EQ(error_of(ch.a->state(ch.pa)), errc::domain_dying);
  EXPECT_EQ(error_of(ch.a->wait(-1ms)), errc::domain_dying);
  EXPECT_EQ(error_of(ch.a->bind_unbound(2)), errc::domain_dying);
  EXPECT_FALSE(host.check_clean(2));
  ASSERT_TRUE(ch.b->unbind(ch.pb));
  EXPECT_TRUE(host.check_clean());
}

TEST_F(events, PortLimitPerDomain) {
  ASSERT_TRUE(host.set_port_limit(1, 2));
  auto h = t1->open_event_channel().value();
  auto other = t1->open_event_channel().value();
  const evtchn_port_t a = h->bind_unbound(0).value();
  ASSERT_TRUE(other->bind_unbound(0));  // the limit is per domain, not per handle
  EXPECT_EQ(error_of(h->bind_unbound(0)), errc::port_exhausted);
  auto h0 = t0->open_event_channel().value();
  const evtchn_port_t remote = h0->bind_unbound(1).value();
  EXPECT_EQ(error_of(h->bind_interdomain(0, remote)), errc::port_exhausted);
  ASSERT_TRUE(h->unbind(a));
  EXPECT_EQ(h->bind_interdomain(0, remote).value(), a);  // lowest free port number is reused
  EXPECT_EQ(error_of(host.set_port_limit(9, 1)), errc::no_such_domain);
}

TEST(SimEvents, DefaultPortLimit) {
  host h;
  ASSERT_TRUE(h.create_domain(1));
  auto ev = h.transport(1).value()->open_event_channel().value();
  for (std::size_t i = 0; i < host_options{}.port_limit; ++i) ASSERT_TRUE(ev->bind_unbound(0)) << i;
  EXPECT_EQ(error_of(ev->bind_unbound(0)), errc::port_exhausted);
}

}  // namespace
}  // namespace xenwire::sim
