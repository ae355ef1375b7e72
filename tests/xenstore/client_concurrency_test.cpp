// One connection shared by many threads: replies reach their callers, watch events reach their
// watchers, and a watcher that does not read never delays a reply. Over the socket and the ring.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <atomic>
#include <future>
#include <map>
#include <set>

#include "client_fixture.hpp"

namespace xs = xenwire::xenstore;
using namespace std::chrono_literals;

namespace {

enum class via { socket, ring };

class ClientConcurrency : public ::testing::TestWithParam<via> {
 protected:
  void SetUp() override {
    // Many writes from one guest: XSA-206's rate limit would make this a test of the limiter.
    fx.start({.write_rate_limit = false});
    dom0 = fx.connect({.timeout = 20s, .watch_queue_limit = 64});
    if (GetParam() == via::ring) {
      shared = fx.guest(dom0, 5, {.timeout = 20s, .watch_queue_limit = 4096});
      prefix = "/local/domain/5/";
    } else {
      shared = fx.connect({.timeout = 20s, .watch_queue_limit = 4096});
      prefix = "/c/";
    }
  }
  xs::testing::daemon_fixture fx;
  xs::client dom0;
  xs::client shared;
  std::string prefix;
};

TEST_P(ClientConcurrency, ManyThreadsShareOneConnection) {
  constexpr int threads = 16, rounds = 60;
  std::atomic<int> mismatches{0}, errors{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const std::string key = prefix + "k" + std::to_string(t);
      for (int i = 0; i < rounds; ++i) {
        const std::string value = std::to_string(t) + ":" + std::to_string(i);
        if (!shared.write(key, value)) ++errors;
        if (i % 2 == 0) {
          auto r = shared.read(key);
          if (!r) ++errors; else if (*r != value) ++mismatches;
        } else {
          auto f = shared.call_async(xs::ops::read{key});
          auto r = f.get();
          if (!r) ++errors; else if (*r != value) ++mismatches;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_P(ClientConcurrency, WatchesFireWhileRequestsRun) {
  auto busy = shared.add_watch(prefix + "ev", {.depth = std::nullopt, .queue_limit = 8, .token = {}}).value();  // never read
  auto read_one = shared.add_watch(prefix + "ev/one").value();
  std::atomic<bool> done{false};
  std::set<std::string> seen;
  std::thread watcher([&] {
    while (!done || read_one.queued() > 0) {
      auto e = read_one.next(50ms);
      if (e && !e->overflow()) seen.insert(e->path);
    }
  });
  std::vector<std::thread> writers;
  std::atomic<int> errors{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string sub = (i % 5 == 0) ? "ev/one/" : "ev/other/";
        if (!shared.write(prefix + sub + std::to_string(t) + "-" + std::to_string(i), "x")) ++errors;
        if (!shared.read(prefix + sub + std::to_string(t) + "-" + std::to_string(i))) ++errors;
      }
    });
  }
  for (auto& th : writers) th.join();
  ASSERT_TRUE(shared.write(prefix + "ev/one/last", "x"));
  ASSERT_TRUE(shared.read(prefix + "ev/one/last"));  // the events came before this reply
  done = true;
  watcher.join();
  EXPECT_EQ(errors.load(), 0);
  // The unread watch stayed bounded and says it dropped events.
  EXPECT_LE(busy.queued(), 8u);
  std::uint64_t dropped = 0;
  while (auto e = busy.try_next()) dropped += e->dropped;
  EXPECT_GT(dropped, 0u);
  // The read watch saw each of its nodes (4 writers x 10 + last + the initial event).
  EXPECT_EQ(seen.size(), 4u * 10 + 2);
}

// Arbitrary interleavings: several threads each run a random script of blocking, future and
// callback requests on their own keys plus writes under one of several watched paths; every reply
// must carry the caller's own data and every event must reach exactly the watch it belongs to.
TEST_P(ClientConcurrency, PropertyRepliesAndEventsReachTheirOwners) {
  int run = 0;
  const bool ok = rc::check("replies and events reach their owners", [&] {
    const std::string base = prefix + "p" + std::to_string(run++) + "/";
    const auto nthreads = *rc::gen::inRange(1, 5);
    const auto nwatches = *rc::gen::inRange(1, 4);
    std::vector<std::vector<int>> scripts;
    for (int t = 0; t < nthreads; ++t) scripts.push_back(*rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 4)));
    std::vector<xs::watch> watches;
    for (int w = 0; w < nwatches; ++w) {
      watches.push_back(shared.add_watch(base + "w" + std::to_string(w)).value());
      RC_ASSERT(watches.back().next(5s).has_value());  // the registration event
    }
    std::vector<std::multiset<std::string>> expected(static_cast<std::size_t>(nwatches));
    std::mutex expected_mu;
    std::atomic<int> wrong{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < nthreads; ++t) {
      pool.emplace_back([&, t] {
        const std::string key = base + "k" + std::to_string(t);
        std::string last;
        int i = 0;
        for (int action : scripts[static_cast<std::size_t>(t)]) {
          const std::string value = std::to_string(t) + "-" + std::to_string(i++);
          switch (action) {
            case 0: {  // blocking write + read back
              if (!shared.write(key, value) || shared.read(key).value_or("") != value) ++wrong;
              break;
            }
            case 1: {  // future
              if (!shared.write(key, value) || shared.call_async(xs::ops::read{key}).get().value_or("") != value) ++wrong;
              break;
            }
            case 2: {  // callback
              if (!shared.write(key, value)) ++wrong;
              std::promise<std::string> p;
              shared.call_async(xs::ops::read{key}, xs::no_transaction,
                                [&p](xs::client_result<std::string> r) { p.set_value(r.value_or("")); });
              if (p.get_future().get() != value) ++wrong;
              break;
            }
            default: {  // an event for watch (i % nwatches)
              const int w = i % nwatches;
              const std::string node = base + "w" + std::to_string(w) + "/" + value;
              {
                std::lock_guard lk(expected_mu);
                expected[static_cast<std::size_t>(w)].insert(node);
              }
              if (!shared.write(node, "e")) ++wrong;
              break;
            }
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    RC_ASSERT(wrong.load() == 0);
    RC_ASSERT(shared.write(base + "done", "").has_value());  // a last round trip: events are in
    for (int w = 0; w < nwatches; ++w) {
      std::multiset<std::string> got;
      while (auto e = watches[static_cast<std::size_t>(w)].try_next()) {
        RC_ASSERT(!e->overflow());
        got.insert(e->path);
      }
      RC_ASSERT(got == expected[static_cast<std::size_t>(w)]);
    }
    // A guest owns at most 1000 nodes (the nodes quota): leave none behind.
    watches.clear();
    auto removed = shared.rm(base.substr(0, base.size() - 1));
    if (!removed) RC_FAIL("rm " + base + ": " + removed.error().message());
  });
  EXPECT_TRUE(ok);
}

INSTANTIATE_TEST_SUITE_P(Transports, ClientConcurrency, ::testing::Values(via::socket, via::ring),
                         [](const auto& p) { return p.param == via::socket ? "socket" : "ring"; });

}  // namespace
