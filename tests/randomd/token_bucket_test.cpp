#include <gtest/gtest.h>

#include "xenwire/randomd/token_bucket.hpp"

namespace xenwire::randomd {
namespace {

using namespace std::chrono_literals;
using clock = token_bucket::clock;

TEST(RandomdTokenBucket, BurstThenRateWithExactRetryAfter) {
  const auto t0 = clock::time_point{} + 1h;
  token_bucket b({.rate = 1000, .burst = 2000}, t0);
  EXPECT_EQ(b.available(t0), 2000u);
  EXPECT_FALSE(b.take(1500, t0));
  EXPECT_FALSE(b.take(500, t0));
  auto wait = b.take(100, t0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 100ms);  // 100 bytes at 1000 B/s
  EXPECT_EQ(b.available(t0 + 50ms), 50u);
  EXPECT_EQ(*b.take(100, t0 + 50ms), 50ms);
  EXPECT_FALSE(b.take(100, t0 + 100ms));
  EXPECT_EQ(b.available(t0 + 100ms), 0u);
}

TEST(RandomdTokenBucket, NeverExceedsBurstAndRefusesTooMuch) {
  const auto t0 = clock::time_point{} + 1h;
  token_bucket b({.rate = 1000, .burst = 500}, t0);
  EXPECT_EQ(b.available(t0 + 1h), 500u);
  EXPECT_EQ(*b.take(501, t0 + 1h), token_bucket::never_ms);
  EXPECT_EQ(b.available(t0 + 1h), 500u);  // a refused take takes nothing
}

TEST(RandomdTokenBucket, ClockGoingBackwardsAddsNothingAndWaitIsAtLeastOneMs) {
  const auto t0 = clock::time_point{} + 1h;
  token_bucket b({.rate = 1'000'000, .burst = 10}, t0);
  EXPECT_FALSE(b.take(10, t0));
  EXPECT_EQ(b.available(t0 - 1s), 0u);
  EXPECT_EQ(*b.take(1, t0), 1ms);
  token_bucket z({.rate = 0, .burst = 10}, t0);
  EXPECT_FALSE(z.take(10, t0));
  EXPECT_EQ(*z.take(1, t0 + 1h), token_bucket::never_ms);
}

}  // namespace
}  // namespace xenwire::randomd
