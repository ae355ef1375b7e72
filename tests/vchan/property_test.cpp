// RapidCheck: for any ring sizes, any scripts of stream writes and packets in both directions, any
// chunking and any scheduler seed (with spurious and delayed events), both streams arrive intact and
// in order, packets are never split, nobody sleeps through a wake-up, and the same seed replays the
// same interleaving.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "transfer_scenario.hpp"
#include "xenwire/ring/vchan_placement.hpp"

namespace xenwire::vchan {
namespace {

using namespace testing;

rc::Gen<std::size_t> ring_min() {
  return rc::gen::weightedOneOf<std::size_t>({
      {4, rc::gen::inRange<std::size_t>(0, 2049)},         // in-page rings
      {3, rc::gen::inRange<std::size_t>(2049, 65537)},     // a few granted pages
      {1, rc::gen::element<std::size_t>(1u << 18, 1u << 20)},  // large
  });
}

rc::Gen<std::vector<message>> messages(std::size_t ring) {
  return rc::gen::container<std::vector<message>>(rc::gen::apply(
      [ring](bool packet, std::size_t a, std::size_t b) {
        // Packets fit the ring; stream messages may be several rings long.
        return packet ? message{true, 1 + a % ring} : message{false, 1 + b % (3 * ring)};
      },
      rc::gen::arbitrary<bool>(), rc::gen::inRange<std::size_t>(0, 1u << 20), rc::gen::inRange<std::size_t>(0, 1u << 20)));
}

struct outcome {
  bool finished = false;
  std::uint64_t trace = 0;
};

outcome run(std::size_t left_min, std::size_t right_min, const std::vector<message>& up, const std::vector<message>& down,
            std::uint64_t seed, sim::faults f) {
  transfer_scenario t(left_min, right_min, up, down);
  outcome o;
  {
    sim::scheduler sched(seed, f);
    RC_ASSERT(t.d.host.attach(sched).has_value());
    t.add_actors(sched);
    o.finished = sched.run(300'000).finished;
    o.trace = sched.trace_hash();
    RC_ASSERT(t.s.failure.empty());
    RC_ASSERT(t.c.failure.empty());
    RC_ASSERT(!t.s.ended.has_value());
    RC_ASSERT(!t.c.ended.has_value());
    RC_ASSERT(o.finished);
    RC_ASSERT(t.s.received == t.to_server.bytes);
    RC_ASSERT(t.c.received == t.to_client.bytes);
  }
  t.cli->close();
  t.srv->close();
  t.spy.reset();
  RC_ASSERT(t.d.host.destroy_domain(server_dom).has_value());
  RC_ASSERT(t.d.host.destroy_domain(client_dom).has_value());
  RC_ASSERT(static_cast<bool>(t.d.host.check_clean()));
  return o;
}

RC_GTEST_PROP(VchanProperties, BothStreamsArriveIntactUnderAnySchedule, ()) {
  const auto left_min = *ring_min();
  const auto right_min = *ring_min();
  const auto plan = vchan::server_plan(left_min, right_min).value();
  const auto up = *messages(plan.left.bytes());
  const auto down = *messages(plan.right.bytes());
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  sim::faults f;
  f.spurious_event = *rc::gen::element(0.0, 0.05);
  f.delay = *rc::gen::element(0.0, 0.3);
  RC_TAG(plan.left.order, plan.right.order);
  run(left_min, right_min, up, down, seed, f);
}

RC_GTEST_PROP(VchanProperties, SameSeedSameInterleaving, ()) {
  const auto up = *messages(1024);
  const auto down = *messages(2048);
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  const sim::faults f{.spurious_event = 0.02, .delay = 0.2};
  const auto a = run(1024, 2048, up, down, seed, f);
  const auto b = run(1024, 2048, up, down, seed, f);
  RC_ASSERT(a.trace == b.trace);
}

}  // namespace
}  // namespace xenwire::vchan
