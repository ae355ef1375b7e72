// Deterministic mode: seeded scheduling, replay by seed, delayed delivery, and injected faults
// (spurious events, crashes, allocation failures).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "sim_test_support.hpp"
#include "xenwire/sim/host.hpp"
#include "xenwire/sim/scheduler.hpp"

namespace xenwire::sim {
namespace {

using test_support::error_of;

// Two domains ping-pong `rounds` times over an event channel and a shared page, as scheduler
// actors. Returns the scheduler's trace.
struct pingpong_outcome {
  std::vector<trace_entry> trace;
  std::uint64_t hash = 0;
  bool finished = false;
  std::uint32_t a_rounds = 0, b_rounds = 0;
  domain_state state1 = domain_state::alive, state2 = domain_state::alive;
};

pingpong_outcome run_pingpong(std::uint64_t seed, faults f, std::uint32_t rounds = 40) {
  host h;
  EXPECT_TRUE(h.create_domain(1));
  EXPECT_TRUE(h.create_domain(2));
  scheduler s(seed, f);
  EXPECT_TRUE(h.attach(s));
  auto t1 = h.transport(1).value();
  auto t2 = h.transport(2).value();
  auto e1 = t1->open_event_channel().value();
  auto e2 = t2->open_event_channel().value();
  const evtchn_port_t p1 = e1->bind_unbound(2).value();
  const evtchn_port_t p2 = e2->bind_interdomain(1, p1).value();
  auto page = t1->grants().share(2, 1, access::read_write).value();
  auto view = t2->grants().map(1, page->refs(), access::read_write).value();

  pingpong_outcome out;
  bool started = false;
  s.add_actor("dom1", [&]() -> bool {
    if (!started) {
      started = true;
      return e1->notify(p1).has_value();
    }
    auto got = e1->pending();
    if (!got) return false;
    if (*got) {
      page->bytes()[0] = std::byte(++out.a_rounds);
      if (!e1->notify(p1) || out.a_rounds == rounds) return false;
    }
    return true;
  }, domid_t{1});
  s.add_actor("dom2", [&]() -> bool {
    auto got = e2->pending();
    if (!got) return false;
    if (*got) {
      ++out.b_rounds;
      view->bytes()[1] = view->bytes()[0];
      if (!e2->notify(p2) || out.b_rounds == rounds) return false;
    }
    return true;
  }, domid_t{2});
  out.finished = s.run(20000).finished;
  out.trace = s.trace();
  out.hash = s.trace_hash();
  out.state1 = h.state(1).value();
  out.state2 = h.state(2).value();
  return out;
}

TEST(SimScheduler, SameSeedReplaysTheSameInterleaving) {
  faults f;
  f.spurious_event = 0.05;
  f.delay = 0.3;
  f.max_delay_steps = 6;
  const auto first = run_pingpong(42, f);
  const auto again = run_pingpong(42, f);
  EXPECT_TRUE(first.finished);
  EXPECT_EQ(first.a_rounds, 40U);
  EXPECT_GE(first.b_rounds, 39U);
  EXPECT_EQ(first.trace, again.trace);
  EXPECT_EQ(first.hash, again.hash);
  const auto other = run_pingpong(43, f);
  EXPECT_NE(first.hash, other.hash);
  EXPECT_TRUE(other.finished);
  EXPECT_EQ(to_string(trace_entry{3, trace_kind::deliver, 1, 2}), "#3 deliver 1 2");
}

TEST(SimScheduler, ActorsRunInASeededOrder) {
  auto order = [](std::uint64_t seed) {
    scheduler s(seed);
    std::string seen;
    for (char c : std::string("abc")) {
      s.add_actor(std::string(1, c), [&seen, c, n = 0]() mutable {
        seen += c;
        return ++n < 5;
      });
    }
    const auto r = s.run(100);
    EXPECT_TRUE(r.finished);
    EXPECT_EQ(r.steps, 15U);
    EXPECT_TRUE(s.actor_done(0));
    EXPECT_EQ(s.actor_name(2), "c");
    return seen;
  };
  EXPECT_EQ(order(7), order(7));
  EXPECT_EQ(order(7).size(), 15U);
  bool differs = false;
  for (std::uint64_t seed = 8; seed < 20 && !differs; ++seed) differs = order(seed) != order(7);
  EXPECT_TRUE(differs);
}

class deterministic : public test_support::three_domains {
 protected:
  void attach(faults f = {}) {
    sched = std::make_unique<scheduler>(1234, f);
    ASSERT_TRUE(host.attach(*sched));
  }
  std::unique_ptr<scheduler> sched;
};

TEST_F(deterministic, EventsAreDeliveredByScheduledSteps) {
  auto ch = test_support::connect(*t1, *t2);  // before attaching: immediate mode
  attach();
  ASSERT_TRUE(ch.b->notify(ch.pb));
  EXPECT_EQ(ch.a->pending().value(), std::nullopt);  // queued
  EXPECT_EQ(error_of(ch.a->wait(std::chrono::milliseconds(-1))), errc::timed_out);  // never blocks
  ASSERT_TRUE(sched->step());
  EXPECT_EQ(ch.a->pending().value(), ch.pa);
  ASSERT_EQ(sched->trace().size(), 1U);
  EXPECT_EQ(sched->trace()[0], (trace_entry{1, trace_kind::deliver, 1, ch.pa}));
  EXPECT_FALSE(sched->step());  // nothing left
}

TEST_F(deterministic, DelayedEventsArriveLater) {
  auto ch = test_support::connect(*t1, *t2);
  faults f;
  f.delay = 1.0;
  f.max_delay_steps = 5;
  attach(f);
  ASSERT_TRUE(ch.b->notify(ch.pb));
  int steps = 0;
  while (!ch.a->pending().value()) {
    ASSERT_TRUE(sched->step());
    ASSERT_LE(++steps, 6);
  }
  EXPECT_GE(steps, 2);
  EXPECT_EQ(sched->trace().front().kind, trace_kind::idle);
  EXPECT_EQ(sched->trace().back().kind, trace_kind::deliver);
}

TEST_F(deterministic, StaleQueuedEventsAreDropped) {
  auto ch = test_support::connect(*t1, *t2);
  attach();
  ASSERT_TRUE(ch.b->notify(ch.pb));
  ASSERT_TRUE(ch.a->unbind(ch.pa));
  const evtchn_port_t again = ch.a->bind_unbound(2).value();
  EXPECT_EQ(again, ch.pa);  // same number, new binding: the old event must not reach it
  ASSERT_TRUE(sched->step());  // the notify (dropped) and the closure wake-up of dom2's port,
  ASSERT_TRUE(sched->step());  // in a seeded order
  EXPECT_FALSE(sched->step());
  EXPECT_EQ(ch.a->pending().value(), std::nullopt);
  const auto& tr = sched->trace();
  ASSERT_EQ(tr.size(), 2U);
  auto has = [&](trace_kind k, domid_t d, evtchn_port_t p) {
    return std::any_of(tr.begin(), tr.end(), [&](const trace_entry& e) { return e.kind == k && e.a == d && e.b == p; });
  };
  EXPECT_TRUE(has(trace_kind::drop, 1, ch.pa));
  EXPECT_TRUE(has(trace_kind::deliver, 2, ch.pb));
  EXPECT_EQ(ch.b->pending().value(), ch.pb);
}

TEST_F(deterministic, DetachDeliversQueuedEvents) {
  auto ch = test_support::connect(*t1, *t2);
  attach();
  scheduler second(1);
  EXPECT_EQ(error_of(host.attach(second)), errc::invalid_argument);
  ASSERT_TRUE(ch.b->notify(ch.pb));
  sched.reset();  // detaches
  EXPECT_EQ(ch.a->pending().value(), ch.pa);
  ASSERT_TRUE(host.attach(second));
  host.detach();
  ASSERT_TRUE(ch.b->notify(ch.pb));  // immediate again
  EXPECT_EQ(ch.a->pending().value(), ch.pa);
}

TEST_F(deterministic, SpuriousEvents) {
  auto h1 = t1->open_event_channel().value();
  const evtchn_port_t port = h1->bind_unbound(2).value();
  faults f;
  f.spurious_event = 1.0;
  attach(f);
  sched->add_actor("idle", [] { return false; });
  ASSERT_TRUE(sched->step());
  EXPECT_EQ(sched->trace().front(), (trace_entry{1, trace_kind::spurious, 1, port}));
  EXPECT_EQ(h1->pending().value(), port);  // nobody notified it
}

TEST_F(deterministic, AllocationFailures) {
  faults f;
  f.grant_failure = 1.0;
  f.port_failure = 1.0;
  attach(f);
  EXPECT_EQ(error_of(t1->grants().share(2, 1, access::read_write)), errc::grant_exhausted);
  auto h1 = t1->open_event_channel().value();
  EXPECT_EQ(error_of(h1->bind_unbound(2)), errc::port_exhausted);
  // Building a domain is not subject to faults.
  auto info = host.create_domain(7, {.xenstore = true}).value();
  EXPECT_TRUE(info.xenstore_port.has_value());
  h1.reset();
  for (domid_t d : {domid_t{0}, domid_t{1}, domid_t{2}, domid_t{7}}) ASSERT_TRUE(host.destroy_domain(d));
  EXPECT_TRUE(host.check_clean());
}

TEST(SimScheduler, CrashAtAChosenStep) {
  faults f;
  f.crash = crash_plan{.domain = domid_t{2}, .at_step = 30, .horizon = 0};
  const auto out = run_pingpong(5, f);
  EXPECT_TRUE(out.finished);  // dom2's actor is retired, dom1's sees peer_closed
  EXPECT_EQ(out.state2, domain_state::dead);
  EXPECT_EQ(out.state1, domain_state::alive);
  EXPECT_LT(out.b_rounds, 40U);
  auto crash = std::find_if(out.trace.begin(), out.trace.end(), [](auto& e) { return e.kind == trace_kind::crash; });
  ASSERT_NE(crash, out.trace.end());
  EXPECT_EQ(crash->step, 30U);
  EXPECT_EQ(crash->a, 2U);
}

TEST(SimScheduler, RandomCrashesReplayBySeed) {
  faults f;
  f.delay = 0.2;
  f.crash = crash_plan{.domain = {}, .at_step = {}, .horizon = 60};
  const auto first = run_pingpong(99, f);
  const auto again = run_pingpong(99, f);
  EXPECT_EQ(first.trace, again.trace);
  EXPECT_EQ(std::count_if(first.trace.begin(), first.trace.end(), [](auto& e) { return e.kind == trace_kind::crash; }),
            1);
  // dom1 would stay dying: dom2 still maps its page when the states are read.
  EXPECT_TRUE(first.state1 != domain_state::alive || first.state2 != domain_state::alive);
}

TEST(SimScheduler, RandomDrawsAreSeeded) {
  scheduler a(3), b(3);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.random(), b.random());
  for (int i = 0; i < 100; ++i) EXPECT_LT(a.uniform(7), 7U);
}

}  // namespace
}  // namespace xenwire::sim

namespace xenwire::sim {
namespace {

TEST(SimScheduler, FaultsTakeDesignatedInitializers) {
  // Fields left out are defaulted without -Wmissing-field-initializers noise.
  const faults f{.delay = 0.5, .max_delay_steps = 2};
  const auto out = run_pingpong(11, f, 5);
  EXPECT_TRUE(out.finished);
}

}  // namespace
}  // namespace xenwire::sim
