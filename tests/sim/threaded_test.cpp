// Real threads on one host: a two-thread ping-pong over sim event channels and a shared page,
// parallel churn in separate domains, and wake-ups of blocked waiters by closure and death.
// Labelled `concurrent`: CI runs these under ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "sim_test_support.hpp"
#include "xenwire/sim/host.hpp"

namespace xenwire::sim {
namespace {

using test_support::error_of;
using namespace std::chrono_literals;

std::atomic_ref<std::uint32_t> word(std::span<std::byte> bytes, std::size_t index) {
  return std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(bytes.data() + index * 4));
}

TEST(SimThreaded, PingPongOverEventChannels) {
  host h;
  ASSERT_TRUE(h.create_domain(1));
  ASSERT_TRUE(h.create_domain(2));
  auto t1 = h.transport(1).value();
  auto t2 = h.transport(2).value();
  auto page = t1->grants().share(2, 1, access::read_write).value();
  auto view = t2->grants().map(1, page->refs(), access::read_write).value();
  auto ch = test_support::connect(*t1, *t2);
  constexpr std::uint32_t rounds = 20000;

  std::thread server([&] {  // dom2: echoes word 0 into word 1
    for (std::uint32_t i = 1; i <= rounds; ++i) {
      auto got = ch.b->wait(10s);
      ASSERT_TRUE(got) << got.error().message();
      ASSERT_EQ(*got, ch.pb);
      ASSERT_EQ(word(view->bytes(), 0).load(), i);
      word(view->bytes(), 1).store(i);
      ASSERT_TRUE(ch.b->notify(ch.pb));
    }
  });
  for (std::uint32_t i = 1; i <= rounds; ++i) {  // dom1
    word(page->bytes(), 0).store(i);
    ASSERT_TRUE(ch.a->notify(ch.pa));
    auto got = ch.a->wait(10s);
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_EQ(word(page->bytes(), 1).load(), i);
  }
  server.join();
  ch = {};
  view.reset();
  page.reset();
  EXPECT_TRUE(h.check_clean());
}

TEST(SimThreaded, ParallelDomainsChurn) {
  host h;
  constexpr int threads = 4;
  for (int d = 1; d <= threads; ++d) ASSERT_TRUE(h.create_domain(static_cast<domid_t>(d)));
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int d = 1; d <= threads; ++d) {
    workers.emplace_back([&, d] {
      auto t = h.transport(static_cast<domid_t>(d)).value();
      const auto peer = static_cast<domid_t>(d % threads + 1);
      auto ev = t->open_event_channel().value();
      for (int i = 0; i < 300; ++i) {
        auto shared = t->grants().share(domid_self, 2, access::read_write);
        auto to_peer = t->grants().share(peer, 1, access::read_only);
        if (!shared || !to_peer) {
          ++failures;
          continue;
        }
        auto mapped = t->grants().map(domid_self, (*shared)->refs(), access::read_only);
        if (!mapped || (*mapped)->bytes().size() != 2 * page_size) ++failures;
        auto a = ev->bind_unbound(domid_self);
        auto b = a ? ev->bind_interdomain(domid_self, *a) : a;
        if (!a || !b || !ev->notify(*b) || !ev->unbind(*a) || !ev->unbind(*b)) ++failures;
        while (auto p = ev->pending()) {
          if (!*p) break;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(h.check_clean());
}

TEST(SimThreaded, PeerDeathWakesABlockedWaiter) {
  host h;
  ASSERT_TRUE(h.create_domain(1));
  ASSERT_TRUE(h.create_domain(2));
  auto t1 = h.transport(1).value();
  auto t2 = h.transport(2).value();
  auto ch = test_support::connect(*t1, *t2);
  std::thread waiter([&] {
    auto got = ch.b->wait(-1ms);  // forever, until dom1 dies
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, ch.pb);
    EXPECT_EQ(ch.b->state(ch.pb).value(), port_state::peer_closed);
  });
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(h.destroy_domain(1));
  waiter.join();
}

TEST(SimThreaded, OwnDeathWakesABlockedWaiter) {
  host h;
  ASSERT_TRUE(h.create_domain(1));
  auto t1 = h.transport(1).value();
  auto ev = t1->open_event_channel().value();
  ASSERT_TRUE(ev->bind_unbound(0));
  std::thread waiter([&] { EXPECT_EQ(error_of(ev->wait(-1ms)), errc::domain_dying); });
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(h.destroy_domain(1));
  waiter.join();
  EXPECT_TRUE(h.check_clean());
}

}  // namespace
}  // namespace xenwire::sim
