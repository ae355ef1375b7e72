// Deep and wide trees: no recursion on guest-shaped data, O(log n) directory updates, O(1)
// snapshots. The timing test prints; it asserts nothing about speed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "xenwire/xenstore/server/store.hpp"
#include "xenwire/xenstore/server/transaction.hpp"

namespace xenwire::xenstore {
namespace {

constexpr creator dom0{0, true};

TEST(store_scale, DroppingA100kDeepChainDoesNotRecurse) {
  // Deeper than any path allows, built directly: releasing it must not recurse through destructors.
  node_ref chain = store_node::make("leaf", {{0, perm::none}}, {}, 1);
  for (int i = 0; i < 100'000; ++i)
    chain = store_node::make({}, {{0, perm::none}}, child_map().with("n", std::move(chain)), 1);
  EXPECT_EQ(chain->subtree_size(), 100'001u);
  chain = node_ref();  // must not overflow the stack
  SUCCEED();
}

TEST(store_scale, DeepestPathThroughTheStore) {
  store s;
  std::string path;
  while (path.size() + 2 <= 3072) path += "/d";  // 1536 levels, the most a path allows
  ASSERT_TRUE(s.write(path, "bottom", dom0));
  EXPECT_EQ(s.node_count(), 1 + path.size() / 2);
  const auto snap = s.snapshot();
  auto c = s.rm("/d");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->removed.size(), path.size() / 2);
  EXPECT_TRUE(s.check());
  EXPECT_EQ(snap.read(path).value()->value(), "bottom");
}

TEST(store_scale, WideDirectoryOf100kChildren) {
  store s;
  constexpr int n = 100'000;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(s.write("/wide/c" + std::to_string(i), "", dom0));
  const auto dir = s.read("/wide").value();
  EXPECT_EQ(dir->children().size(), static_cast<std::size_t>(n));
  EXPECT_TRUE(dir->children().verify().empty());
  // Removing and re-adding in the middle keeps it balanced and sorted.
  for (int i = 0; i < n; i += 3) ASSERT_TRUE(s.rm("/wide/c" + std::to_string(i)));
  const auto after = s.read("/wide").value();
  EXPECT_EQ(after->children().size(), static_cast<std::size_t>(n - (n + 2) / 3));
  EXPECT_TRUE(after->children().verify().empty());
  EXPECT_EQ(dir->children().size(), static_cast<std::size_t>(n));  // the old version is intact
  auto r = s.check();
  EXPECT_TRUE(r) << r.error();
}

// Fills a store with `n` leaves under 1000-child directories.
void fill(store& s, int n) {
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(s.write("/f/d" + std::to_string(i / 1000) + "/n" + std::to_string(i % 1000), "v", dom0));
}

double snapshot_ns(store& s) {
  constexpr int reps = 10'000;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t sink = 0;
  for (int i = 0; i < reps; ++i) {
    auto tx = s.begin();
    sink += tx.start_generation();
    auto snap = s.snapshot();
    sink += snap.node_count();
  }
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_NE(sink, 0u);
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / reps;
}

TEST(store_scale, SnapshotCostDoesNotGrowWithTheStore) {
  store small, big;
  fill(small, 1'000);
  const auto t0 = std::chrono::steady_clock::now();
  fill(big, 1'000'000);
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_GT(big.node_count(), 1'000'000u);
  const double ns_small = snapshot_ns(small), ns_big = snapshot_ns(big);
  std::printf("[ measure  ] snapshot+TRANSACTION_START: %.0f ns at %llu nodes, %.0f ns at %llu nodes "
              "(ratio %.2f); building the big store took %.1f s\n",
              ns_small, static_cast<unsigned long long>(small.node_count()), ns_big,
              static_cast<unsigned long long>(big.node_count()), ns_big / ns_small,
              std::chrono::duration<double>(t1 - t0).count());
  // A write in a 1000-child directory of the big store, for scale.
  const auto w0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(big.write("/f/d500/n" + std::to_string(i % 1000), "w", dom0));
  const auto w1 = std::chrono::steady_clock::now();
  std::printf("[ measure  ] write at 1M nodes: %.0f ns\n",
              std::chrono::duration<double, std::nano>(w1 - w0).count() / 10'000);
}

}  // namespace
}  // namespace xenwire::xenstore
