// A watch's bounded queue on its own (no daemon): order, overflow markers, limits (XSA-349).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "poll_support.hpp"
#include "../../xenstore/src/client/client_core.hpp"

namespace xs = xenwire::xenstore;
using namespace std::chrono_literals;

namespace {

std::vector<xs::watch_event> drain(xs::detail::watch_state& w) {
  std::vector<xs::watch_event> out;
  while (auto e = w.try_next()) out.push_back(*e);
  return out;
}

TEST(WatchQueue, KeepsOrderUnderTheLimit) {
  xs::detail::watch_state w("/a", "t", std::nullopt, 3);
  w.push("/a/1");
  w.push("/a/2");
  auto got = drain(w);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "/a/1");
  EXPECT_EQ(got[1].path, "/a/2");
}

TEST(WatchQueue, OverflowBecomesOneMarkerInPlace) {
  xs::detail::watch_state w("/a", "t", std::nullopt, 2);
  for (int i = 0; i < 5; ++i) w.push("/e" + std::to_string(i));
  auto first = w.try_next().value();
  EXPECT_EQ(first.path, "/e0");
  w.push("/late");  // one slot free: the marker takes it, and counts /late too
  auto got = drain(w);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "/e1");
  EXPECT_TRUE(got[1].overflow());
  EXPECT_EQ(got[1].dropped, 4u);
  w.push("/later");  // empty again: delivered
  EXPECT_EQ(w.try_next().value().path, "/later");
  EXPECT_FALSE(w.try_next());
}

TEST(WatchQueue, EndedQueueDrainsThenFails) {
  xs::detail::watch_state w("/a", "t", std::nullopt, 2);
  w.push("/x");
  w.end(xenwire::make_error_code(xenwire::errc::peer_closed));
  w.push("/ignored");
  EXPECT_EQ(w.next(10ms).value().path, "/x");
  EXPECT_TRUE(w.next(10ms).error().is(xenwire::errc::peer_closed));
}

using xenwire::test_support::readable;

TEST(WatchQueue, FdIsReadableExactlyWhileSomethingWaits) {
  xs::detail::watch_state w("/a", "t", std::nullopt, 1);
  ASSERT_GE(w.ready_fd, 0);
  EXPECT_FALSE(readable(w.ready_fd));
  w.push("/a/1");
  w.push("/a/2");  // over the limit: counted for a marker
  EXPECT_TRUE(readable(w.ready_fd));
  EXPECT_EQ(w.try_next().value().path, "/a/1");
  EXPECT_TRUE(readable(w.ready_fd));  // the pending marker
  EXPECT_TRUE(w.try_next().value().overflow());
  EXPECT_FALSE(readable(w.ready_fd));
  EXPECT_FALSE(w.try_next());
  w.end(xenwire::make_error_code(xenwire::errc::peer_closed));
  EXPECT_TRUE(readable(w.ready_fd));  // next() would return the end at once
}

// Whatever the limit and the interleaving of pushes and pops: the queue never holds more than the
// limit, and every pushed event is either delivered (in order) or counted by a marker.
RC_GTEST_PROP(WatchQueue, EveryEventDeliveredOrCounted, ()) {
  const auto limit = *rc::gen::inRange<std::size_t>(1, 8);
  const auto script = *rc::gen::container<std::vector<bool>>(rc::gen::arbitrary<bool>());  // true: push
  xs::detail::watch_state w("/a", "t", std::nullopt, limit);
  std::uint64_t pushed = 0, delivered = 0, dropped = 0;
  long last = -1;
  auto take = [&](const xs::watch_event& e) {
    if (e.overflow()) {
      dropped += e.dropped;
      return;
    }
    const long n = std::stol(e.path.substr(1));
    RC_ASSERT(n > last);
    last = n;
    ++delivered;
  };
  for (bool push : script) {
    if (push) {
      w.push("/" + std::to_string(pushed++));
    } else if (auto e = w.try_next()) {
      take(*e);
    }
    std::lock_guard lk(w.mu);
    RC_ASSERT(w.queue.size() <= limit);
    RC_ASSERT(readable(w.ready_fd) == (!w.queue.empty() || w.unreported_drops > 0));
  }
  while (auto e = w.try_next()) take(*e);
  RC_ASSERT(delivered + dropped == pushed);
}

}  // namespace
