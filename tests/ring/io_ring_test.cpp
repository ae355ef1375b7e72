#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "ring_test_support.hpp"
#include "xenwire/ring/io_ring.hpp"

#if __has_include(<xen/io/ring.h>)
#define XENWIRE_HAVE_RING_H 1
#define __XEN_TOOLS__ 1
#define xen_mb() __sync_synchronize()
#define xen_rmb() __sync_synchronize()
#define xen_wmb() __sync_synchronize()
#include <xen/io/ring.h>
#endif

namespace xenwire::io_ring {
namespace {

struct req_t {
  std::uint64_t id;
  std::uint32_t op;
};
struct rsp_t {
  std::uint64_t id;
  std::int16_t status;
};
using geo = geometry<req_t, rsp_t>;
using front = front_ring<req_t, rsp_t>;
using back = back_ring<req_t, rsp_t>;

}  // namespace
}  // namespace xenwire::io_ring

#ifdef XENWIRE_HAVE_RING_H
DEFINE_RING_TYPES(xwt, struct xenwire::io_ring::req_t, struct xenwire::io_ring::rsp_t);
struct tiny_req {
  std::uint8_t b;
};
DEFINE_RING_TYPES(xwtiny, struct tiny_req, struct tiny_req);
struct big_req {
  std::uint8_t b[200];
};
DEFINE_RING_TYPES(xwbig, struct big_req, struct tiny_req);
#endif

namespace xenwire::io_ring {
namespace {

struct region {
  explicit region(std::size_t n = 4096) : mem(new (std::align_val_t{4096}) std::byte[n]()), size(n) {}
  ~region() { ::operator delete[](mem, std::align_val_t{4096}); }
  region(const region&) = delete;
  region& operator=(const region&) = delete;
  std::span<std::byte> bytes() { return {mem, size}; }
  shared_header& h() { return *static_cast<shared_header*>(static_cast<void*>(mem)); }
  std::byte* mem;
  std::size_t size;
};

#ifdef XENWIRE_HAVE_RING_H
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"  // ring.h's GNU statement expressions
int reference_final_check(xwt_back_ring_t* ring) {
  int work = 0;
  RING_FINAL_CHECK_FOR_REQUESTS(ring, work);
  return work;
}
#pragma GCC diagnostic pop

TEST(IoRingLayout, MatchesRingH) {
  EXPECT_EQ(offsetof(xwt_sring, req_prod), offsetof(shared_header, req_prod));
  EXPECT_EQ(offsetof(xwt_sring, req_event), offsetof(shared_header, req_event));
  EXPECT_EQ(offsetof(xwt_sring, rsp_prod), offsetof(shared_header, rsp_prod));
  EXPECT_EQ(offsetof(xwt_sring, rsp_event), offsetof(shared_header, rsp_event));
  EXPECT_EQ(offsetof(xwt_sring, ring), geo::entries_offset);
  EXPECT_EQ(sizeof(union xwt_sring_entry), geo::slot_size);
  for (std::size_t bytes : {4096u, 8192u, 16384u}) {
    EXPECT_EQ(__CONST_RING_SIZE(xwt, bytes), geo::entries(bytes)) << bytes;
    EXPECT_EQ(__CONST_RING_SIZE(xwtiny, bytes), (geometry<tiny_req, tiny_req>::entries(bytes))) << bytes;
    EXPECT_EQ(__CONST_RING_SIZE(xwbig, bytes), (geometry<big_req, tiny_req>::entries(bytes))) << bytes;
  }
}

// Our push-and-check-notify decides exactly as RING_PUSH_REQUESTS_AND_CHECK_NOTIFY does, for any batch
// sizes and any req_event a (possibly hostile) back end writes; likewise for responses.
RC_GTEST_PROP(IoRingProperty, NotifyMatchesRingHMacros, ()) {
  region ours, theirs;
  auto f = front::init(ours.bytes()).value();
  auto* s = static_cast<xwt_sring*>(static_cast<void*>(theirs.mem));
  SHARED_RING_INIT(s);
  xwt_front_ring_t ref;
  FRONT_RING_INIT(&ref, s, theirs.size);
  auto b = back::attach(ours.bytes()).value();

  const auto batches = *rc::gen::container<std::vector<std::pair<unsigned, std::uint32_t>>>(
      rc::gen::pair(rc::gen::inRange(0u, 6u), rc::gen::oneOf(rc::gen::arbitrary<std::uint32_t>(),
                                                             rc::gen::inRange<std::uint32_t>(0, 40))));
  for (auto [count, event] : batches) {
    // Keep the ring from filling: the back end answers everything before each batch.
    while (auto r = b.take_request().value()) ring_test::must(b.queue_response(rsp_t{r->id, 0}));
    (void)b.push_responses_and_check_notify();
    while (f.take_response().value()) {
    }

    for (unsigned i = 0; i < count; ++i) {
      ring_test::must(f.queue_request(req_t{i, 0}));
      ++ref.req_prod_pvt;
    }
    ours.h().req_event = event;
    s->req_event = event;
    int notify_ref = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&ref, notify_ref);
    RC_ASSERT(f.push_requests_and_check_notify() == (notify_ref != 0));
    RC_ASSERT(ours.h().req_prod == s->req_prod);
  }
}

RC_GTEST_PROP(IoRingProperty, FinalCheckMatchesRingH, (std::uint32_t pushed)) {
  region ours, theirs;
  auto f = front::init(ours.bytes()).value();
  auto b = back::attach(ours.bytes()).value();
  auto* s = static_cast<xwt_sring*>(static_cast<void*>(theirs.mem));
  SHARED_RING_INIT(s);
  xwt_back_ring_t ref;
  BACK_RING_INIT(&ref, s, theirs.size);
  const unsigned n = pushed % 5;
  for (unsigned i = 0; i < n; ++i) ring_test::must(f.queue_request(req_t{i, 0}));
  (void)f.push_requests_and_check_notify();
  s->req_prod = n;
  const int work_ref = reference_final_check(&ref);
  RC_ASSERT(b.final_check_for_requests().value() == (work_ref != 0));
  RC_ASSERT(ours.h().req_event == s->req_event);
}
#endif

TEST(IoRing, GeometryPicksThePowerOfTwoThatFits) {
  static_assert(geo::slot_size == 16);
  EXPECT_EQ(geo::entries(4096), 128u);  // (4096 - 64) / 16 = 252 → 128
  EXPECT_EQ(geo::entries(64 + 16), 1u);
  EXPECT_EQ(geo::entries(64), 0u);
  region tiny(64);
  EXPECT_EQ(front::init(tiny.bytes()).error(), errc::invalid_argument);
}

TEST(IoRing, RequestsAndResponsesRoundTrip) {
  region r;
  auto f = front::init(r.bytes()).value();
  auto b = back::attach(r.bytes()).value();
  EXPECT_EQ(r.h().req_event, 1u);
  for (std::uint64_t i = 0; i < 3; ++i) ring_test::must(f.queue_request(req_t{i, 7}));
  EXPECT_TRUE(f.push_requests_and_check_notify());  // req_event = 1 lies in (0, 3]
  EXPECT_EQ(b.unconsumed().value(), 3u);
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto q = b.take_request().value();
    ASSERT_TRUE(q.has_value());
    EXPECT_EQ(q->id, i);
    ring_test::must(b.queue_response(rsp_t{q->id, 0}));
  }
  EXPECT_EQ(b.take_request().value(), std::nullopt);
  EXPECT_EQ(b.queue_response(rsp_t{}).error(), errc::invalid_argument);  // nothing left to answer
  EXPECT_TRUE(b.push_responses_and_check_notify());
  EXPECT_FALSE(b.final_check_for_requests().value());
  EXPECT_EQ(r.h().req_event, 4u);
  for (std::uint64_t i = 0; i < 3; ++i) EXPECT_EQ(f.take_response().value()->id, i);
  EXPECT_FALSE(f.final_check_for_responses().value());
  EXPECT_EQ(r.h().rsp_event, 4u);
}

TEST(IoRing, NoNotifyWhileTheBackEndIsBusy) {
  region r;
  auto f = front::init(r.bytes()).value();
  ring_test::must(f.queue_request(req_t{1, 0}));
  EXPECT_TRUE(f.push_requests_and_check_notify());
  // The back end has not run its final check yet: req_event is still 1.
  ring_test::must(f.queue_request(req_t{2, 0}));
  EXPECT_FALSE(f.push_requests_and_check_notify());
}

TEST(IoRing, FrontStopsWhenFull) {
  region r;
  auto f = front::init(r.bytes()).value();
  for (unsigned i = 0; i < f.size(); ++i) ASSERT_TRUE(f.queue_request(req_t{i, 0}).has_value());
  EXPECT_TRUE(f.full());
  EXPECT_EQ(f.queue_request(req_t{}).error(), errc::would_block);
}

TEST(IoRing, HostileRequestProducerIsStickyCorruption) {
  region r;
  auto b = back::attach(r.bytes(), 0xFFFFFFF0u).value();
  r.h().req_prod = 0xFFFFFFF0u + 129;  // one more than 128 slots
  EXPECT_EQ(b.take_request().error(), errc::ring_corrupt);
  r.h().req_prod = 0xFFFFFFF1u;
  EXPECT_EQ(b.take_request().error(), errc::ring_corrupt);
  EXPECT_EQ(b.final_check_for_requests().error(), errc::ring_corrupt);
}

TEST(IoRing, RequestProducerMovingBackwardsIsCorruption) {
  region r;
  auto f = front::init(r.bytes()).value();
  auto b = back::attach(r.bytes()).value();
  for (unsigned i = 0; i < 4; ++i) ring_test::must(f.queue_request(req_t{i, 0}));
  (void)f.push_requests_and_check_notify();
  ASSERT_TRUE(b.take_request().value().has_value());
  ASSERT_TRUE(b.take_request().value().has_value());
  r.h().req_prod = 1;  // behind what we already took
  EXPECT_EQ(b.take_request().error(), errc::ring_corrupt);
}

TEST(IoRing, BackEndStopsTakingWhenResponsesWouldNotFit) {
  region r;
  auto b = back::attach(r.bytes()).value();
  r.h().req_prod = 128;  // a full ring of requests: honest
  for (unsigned i = 0; i < 128; ++i) ASSERT_TRUE(b.take_request().value().has_value());
  EXPECT_EQ(b.unconsumed().value(), 0u);
  ring_test::must(b.queue_response(rsp_t{}));
  (void)b.push_responses_and_check_notify();
  EXPECT_EQ(b.unconsumed().value(), 0u);  // req_prod still 128: nothing new
}

TEST(IoRing, HostileResponseProducerIsCorruption) {
  region r;
  auto f = front::init(r.bytes()).value();
  ring_test::must(f.queue_request(req_t{1, 0}));
  (void)f.push_requests_and_check_notify();
  r.h().rsp_prod = 2;  // two responses to one request
  EXPECT_EQ(f.take_response().error(), errc::ring_corrupt);
}

// Random interleavings of both ends, indices starting anywhere: every request reaches the back end in
// order and every response comes back in order.
RC_GTEST_PROP(IoRingProperty, RequestsAndResponsesFlowInOrder, ()) {
  region r;
  const auto start = *ring_test::start_index();
  r.h().req_prod = r.h().rsp_prod = start;
  auto f = front::attach(r.bytes(), start).value();
  auto b = back::attach(r.bytes(), start).value();
  std::uint64_t next_req = 0, next_seen = 0, next_rsp = 0;
  std::deque<std::uint64_t> to_answer;
  const auto ops = *rc::gen::container<std::vector<std::pair<int, unsigned>>>(
      rc::gen::pair(rc::gen::inRange(0, 4), rc::gen::inRange(0u, 200u)));
  for (auto [op, n] : ops) {
    switch (op) {
      case 0:
        for (unsigned i = 0; i < n && !f.full(); ++i) ring_test::must(f.queue_request(req_t{next_req++, 0}));
        (void)f.push_requests_and_check_notify();
        break;
      case 1:
        for (unsigned i = 0; i < n; ++i) {
          auto q = b.take_request().value();
          if (!q) break;
          RC_ASSERT(q->id == next_seen++);
          to_answer.push_back(q->id);
        }
        break;
      case 2:
        for (unsigned i = 0; i < n && !to_answer.empty(); ++i) {
          ring_test::must(b.queue_response(rsp_t{to_answer.front(), 0}));
          to_answer.pop_front();
        }
        (void)b.push_responses_and_check_notify();
        break;
      default:
        while (auto p = f.take_response().value()) RC_ASSERT(p->id == next_rsp++);
        break;
    }
  }
  RC_ASSERT(next_rsp <= next_seen);
  RC_ASSERT(next_seen <= next_req);
}

// A hostile front end writes any req_prod: never out of bounds (the region is exactly one page),
// and an impossible one always ends in the sticky error.
RC_GTEST_PROP(IoRingProperty, HostileRequestIndices, ()) {
  region r;
  const auto start = *ring_test::start_index();
  auto b = back::attach(r.bytes(), start).value();
  bool corrupt = false;
  const auto steps = *rc::gen::container<std::vector<std::uint32_t>>(
      rc::gen::oneOf(rc::gen::arbitrary<std::uint32_t>(), rc::gen::inRange<std::uint32_t>(0, 260)));
  for (std::uint32_t delta : steps) {
    const std::uint32_t answered = b.rsp_prod_pvt(), taken = b.req_cons();
    r.h().req_prod = answered + delta;
    auto q = b.take_request();
    corrupt = corrupt || delta > b.size() || delta < taken - answered;
    if (corrupt) {
      RC_ASSERT(!q.has_value());
      RC_ASSERT(q.error() == errc::ring_corrupt);
    } else {
      RC_ASSERT(q.has_value());
      if (*q) ring_test::must(b.queue_response(rsp_t{}));  // answer so the ring keeps moving
      (void)b.push_responses_and_check_notify();
    }
  }
}

}  // namespace
}  // namespace xenwire::io_ring
