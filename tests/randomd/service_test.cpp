// randomd end to end over the simulator: xenwire's xenstored, randomd in dom0, guests on rings.
#include <algorithm>
#include <cstring>
#include <set>

#include "randomd_test_support.hpp"

namespace xenwire::randomd::testing {
namespace {

bool all_zero(const std::vector<std::byte>& v) {
  return std::all_of(v.begin(), v.end(), [](std::byte b) { return b == std::byte{0}; });
}

TEST_F(randomd_host, GuestFetchesEntropy) {
  start();
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  auto& g = *guests[0];
  fetch_stats fs;
  auto a = fetch_entropy(g.xs, *g.transport, 64, 5s, {.stats = &fs});
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->size(), 64u);
  EXPECT_FALSE(all_zero(*a));
  EXPECT_EQ(fs.bytes, 64u);
  EXPECT_EQ(fs.requests, 1u);
  auto b = fetch_entropy(g.xs, *g.transport, 64, 5s);  // reconnects to the persistent server
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_NE(*a, *b);
  const auto st = randomd().stats();
  EXPECT_EQ(st.entropy_bytes, 128u);
  EXPECT_EQ(st.servers_started, 1u);  // one server, two connections
  EXPECT_EQ(st.connections, 2u);
  finish(guests);
}

// Nothing waits for the loop's tick: with a one-minute watch_poll, discovery (the guest's request
// node), the vchan traffic and stop() all wake randomd through its poll_set.
TEST_F(randomd_host, WatchEventsAndStopWakeTheLoopWithoutATick) {
  server_config cfg;
  cfg.watch_poll = std::chrono::minutes(1);
  start(cfg);
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  const auto t0 = std::chrono::steady_clock::now();
  auto a = fetch_entropy(guests[0]->xs, *guests[0]->transport, 64, 5s);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  const auto t1 = std::chrono::steady_clock::now();
  finish(guests);  // stops randomd: must not wait for the minute
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 10s);
}

TEST_F(randomd_host, LargeFetchIsChunkedAndStreamsThroughSmallRings) {
  start(budget(1 << 20, 1 << 16, 8192));
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  fetch_stats fs;
  auto a = fetch_entropy(guests[0]->xs, *guests[0]->transport, 20000, 5s, {.chunk = 8192, .stats = &fs});
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->size(), 20000u);
  EXPECT_EQ(fs.requests, 3u);  // 8192 + 8192 + 3616, each larger than the 2048-byte ring
  EXPECT_GE(randomd().stats().vchan_bytes_out, 20000u + 3 * response_header_size);
  finish(guests);
}

TEST_F(randomd_host, RateLimitAnswersWithRetryAfterAndFetchWaitsPolitely) {
  start(budget(1000, 2048, 2048));
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  auto c = connect(*guests[0]);
  auto first = c.fetch(2048, 2s);  // the whole burst
  ASSERT_TRUE(first) << first.error().message();
  // The bucket is empty: 1000 bytes need about a second.
  const auto h = round_trip(c.channel(), request{.id = 42, .length = 1000});
  EXPECT_EQ(h.status, response_status::rate_limited);
  EXPECT_EQ(h.id, 42u);
  EXPECT_EQ(h.length, 0u);
  EXPECT_GE(h.detail, 500u);
  EXPECT_LE(h.detail, 1000u);
  // A fetch that cannot wait that long gives up with a typed error instead of hammering.
  auto quick = c.fetch(1000, 100ms);
  ASSERT_FALSE(quick);
  EXPECT_EQ(quick.error().code, fetch_errc::rate_limited);
  EXPECT_EQ(quick.error().status, response_status::rate_limited);
  // One that can wait gets it after the retry-after.
  fetch_stats fs;
  fetch_options o{.stats = &fs};
  c.close();  // one client at a time per server: the next connection waits for the re-arm
  auto c2 = connect(*guests[0], o);
  const auto t0 = std::chrono::steady_clock::now();
  auto later = c2.fetch(1000, 5s);
  ASSERT_TRUE(later) << later.error().message();
  EXPECT_GE(fs.rate_limited, 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  EXPECT_GE(randomd().stats().rate_limited, 3u);
  EXPECT_EQ(randomd().stats().entropy_bytes, 3048u);  // nothing beyond the budget
  c2.close();
  finish(guests);
}

TEST_F(randomd_host, ManyGuestsAtOnce) {
  start();
  constexpr unsigned n = 8;
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  for (unsigned i = 1; i <= n; ++i) guests.push_back(guest(static_cast<domid_t>(i)));
  std::vector<fetch_result<std::vector<std::byte>>> got(n, tl::unexpected(fetch_error{fetch_errc::timed_out, {}, std::nullopt}));
  std::vector<fetch_stats> fs(n);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      got[i] = fetch_entropy(guests[i]->xs, *guests[i]->transport, 4096, 10s, {.stats = &fs[i]});
    });
  for (auto& t : threads) t.join();
  std::set<std::vector<std::byte>> distinct;
  std::uint64_t limited = 0;
  for (unsigned i = 0; i < n; ++i) {
    ASSERT_TRUE(got[i]) << "dom " << i + 1 << ": " << got[i].error().message();
    EXPECT_EQ(got[i]->size(), 4096u);
    distinct.insert(*got[i]);
    limited += fs[i].rate_limited;
  }
  EXPECT_EQ(distinct.size(), n);
  // Default budget: burst 2048 then 4096 B/s, so each guest waited at least once.
  EXPECT_GE(limited, n);
  const auto st = randomd().stats();
  EXPECT_EQ(st.entropy_bytes, n * 4096u);
  EXPECT_EQ(st.servers_started, n);
  finish(guests);
}

TEST_F(randomd_host, GuestDyingMidRequestDoesNotDisturbOthers) {
  start(budget(1 << 20, 4096, 4096));
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  guests.push_back(guest(2));
  auto victim = connect(*guests[0]);
  // A response larger than the ring: randomd writes what fits and waits for the guest to read.
  victim.channel().set_io({.mode = vchan::io_mode::blocking, .timeout = 5s});
  ASSERT_TRUE(victim.channel().send(encode(request{.id = 1, .length = 4096})));
  ASSERT_TRUE(eventually([&] { return randomd().stats().vchan_bytes_out >= 1024; }));
  ASSERT_TRUE(host->crash(1));
  // randomd notices (the vchan closes, then @releaseDomain) and forgets the guest.
  EXPECT_TRUE(eventually([&] { return randomd().stats().guests_released == 1; }));
  EXPECT_TRUE(eventually([&] { return randomd().serving() == 0; }));
  EXPECT_GE(randomd().stats().dropped_responses, 1u);
  auto keys = host->dom0().exists(keys_path(0, 1));
  ASSERT_TRUE(keys);
  EXPECT_FALSE(*keys);
  // The survivor is served as usual.
  auto ok = fetch_entropy(guests[1]->xs, *guests[1]->transport, 3000, 5s);
  ASSERT_TRUE(ok) << ok.error().message();
  victim.close();
  guests[0]->xs.close();
  guests[0].reset();
  finish(guests);
}

TEST_F(randomd_host, NoEntropyByteEverAppearsInTheStore) {
  start();
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  std::vector<std::vector<std::byte>> delivered;
  for (domid_t d = 1; d <= 3; ++d) {
    guests.push_back(guest(d));
    auto c = connect(*guests.back());
    for (int i = 0; i < 2; ++i) {
      auto got = c.fetch(1024, 5s);
      ASSERT_TRUE(got) << got.error().message();
      delivered.push_back(std::move(*got));
    }
    // Keep the connection open: the keys and the request are in the store now.
  }
  const auto nodes = host->dump_store();
  ASSERT_GT(nodes.size(), 10u);
  bool saw_keys = false, saw_request = false;
  for (const auto& [path, value] : nodes) {
    saw_keys |= path == keys_path(0, 2) + "/ring-ref";
    saw_request |= path == request_path(3);
    for (const auto& secret : delivered)
      for (std::size_t i = 0; i + 8 <= secret.size(); ++i) {
        const std::string_view window(reinterpret_cast<const char*>(secret.data() + i), 8);
        ASSERT_EQ(value.find(window), std::string::npos) << "entropy found in " << path;
      }
  }
  EXPECT_TRUE(saw_keys);
  EXPECT_TRUE(saw_request);
  finish(guests);
}

TEST_F(randomd_host, WithdrawingTheRequestClosesTheServer) {
  start();
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(4));
  auto got = fetch_entropy(guests[0]->xs, *guests[0]->transport, 16, 5s);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_TRUE(guests[0]->xs.rm(request_path(4)));
  EXPECT_TRUE(eventually([&] {
    auto e = host->dom0().exists(keys_path(0, 4));
    return e && !*e;
  }));
  EXPECT_TRUE(eventually([&] { return randomd().serving() == 0; }));
  // Asking again gets a new server.
  auto again = fetch_entropy(guests[0]->xs, *guests[0]->transport, 16, 5s);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(randomd().stats().servers_started, 2u);
  finish(guests);
}

TEST_F(randomd_host, NoServerMeansTimeout) {
  start();
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  auto got = fetch_entropy(guests[0]->xs, *guests[0]->transport, 16, 200ms, {.server = 9});
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, fetch_errc::timed_out);
  finish(guests);
}

}  // namespace
}  // namespace xenwire::randomd::testing
