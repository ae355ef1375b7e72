// The shared epoll loop (daemon, vchan, randomd): readiness callbacks, deadlines, removal during a
// batch (also by a nested run), stop from another thread and from a signal.
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <thread>

#include "xenwire/base/event_loop.hpp"

using steady = xenwire::event_loop::clock;
using namespace std::chrono_literals;

namespace {

xenwire::unique_fd make_eventfd() { return xenwire::unique_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)); }
void signal_fd(int fd) {
  const std::uint64_t one = 1;
  ASSERT_EQ(::write(fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
}
void drain_fd(int fd) {
  std::uint64_t v = 0;
  (void)!::read(fd, &v, sizeof v);
}

}  // namespace

TEST(EventLoop, DispatchesReadyFds) {
  auto loop = xenwire::event_loop::create();
  ASSERT_TRUE(loop);
  auto a = make_eventfd(), b = make_eventfd();
  int a_calls = 0, b_calls = 0;
  ASSERT_TRUE((*loop)->add(a.get(), EPOLLIN, [&](std::uint32_t ev) { ++a_calls; EXPECT_TRUE(ev & EPOLLIN); drain_fd(a.get()); }));
  ASSERT_TRUE((*loop)->add(b.get(), EPOLLIN, [&](std::uint32_t) { ++b_calls; drain_fd(b.get()); }));
  EXPECT_FALSE((*loop)->add(a.get(), EPOLLIN, [](std::uint32_t) {}));  // twice is a caller bug
  signal_fd(a.get());
  ASSERT_TRUE((*loop)->run_once(steady::now() + 1s));
  EXPECT_EQ(a_calls, 1);
  EXPECT_EQ(b_calls, 0);
}

TEST(EventLoop, ReturnsAtTheDeadline) {
  auto loop = xenwire::event_loop::create();
  ASSERT_TRUE(loop);
  const auto t0 = steady::now();
  ASSERT_TRUE((*loop)->run_once(t0 + 30ms));
  EXPECT_GE(steady::now() - t0, 30ms);
  ASSERT_TRUE((*loop)->run_once(t0 - 1s));  // already due: no wait
}

TEST(EventLoop, AFdRemovedEarlierInTheBatchIsNotDispatched) {
  auto loop = xenwire::event_loop::create();
  ASSERT_TRUE(loop);
  auto a = make_eventfd(), b = make_eventfd();
  int calls = 0;
  // Whichever runs first removes the other: exactly one handler runs.
  ASSERT_TRUE((*loop)->add(a.get(), EPOLLIN, [&](std::uint32_t) { ++calls; (*loop)->remove(b.get()); }));
  ASSERT_TRUE((*loop)->add(b.get(), EPOLLIN, [&](std::uint32_t) { ++calls; (*loop)->remove(a.get()); }));
  signal_fd(a.get());
  signal_fd(b.get());
  ASSERT_TRUE((*loop)->run_once(steady::now() + 1s));
  EXPECT_EQ(calls, 1);
}

TEST(EventLoop, AHandlerMayRemoveItself) {
  auto loop = xenwire::event_loop::create();
  ASSERT_TRUE(loop);
  auto a = make_eventfd();
  int calls = 0;
  std::array<int, 8> big_capture{};  // forces the handler onto the heap
  ASSERT_TRUE((*loop)->add(a.get(), EPOLLIN, [&, big_capture](std::uint32_t) {
    (*loop)->remove(a.get());
    calls += 1 + big_capture[0];
  }));
  signal_fd(a.get());
  ASSERT_TRUE((*loop)->run_once(steady::now() + 1s));
  ASSERT_TRUE((*loop)->run_once(steady::now() + 10ms));
  EXPECT_EQ(calls, 1);
}

TEST(EventLoop, StopFromAnotherThreadWakesTheWait) {
  auto loop = xenwire::event_loop::create();
  ASSERT_TRUE(loop);
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    (*loop)->stop();
  });
  const auto t0 = steady::now();
  while (!(*loop)->stopping()) ASSERT_TRUE((*loop)->run_once(std::nullopt));
  stopper.join();
  EXPECT_LT(steady::now() - t0, 5s);
  EXPECT_FALSE((*loop)->stop_signal());
}

TEST(EventLoop, SigtermStopsTheLoop) {
  static constexpr int sigs[] = {SIGTERM, SIGINT};
  ASSERT_TRUE(xenwire::block_signals(sigs));  // this test's process only: gtest runs each test alone under ctest
  auto loop = xenwire::event_loop::create();
  ASSERT_TRUE(loop);
  ASSERT_TRUE((*loop)->stop_on_signals(sigs));
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  const auto t0 = steady::now();
  while (!(*loop)->stopping() && steady::now() - t0 < 5s) ASSERT_TRUE((*loop)->run_once(steady::now() + 1s));
  EXPECT_TRUE((*loop)->stopping());
  EXPECT_EQ((*loop)->stop_signal(), SIGTERM);
}

TEST(EventLoop, CountsOnlyTheCallersHandlers) {
  auto loop = xenwire::event_loop::create();
  ASSERT_TRUE(loop);
  auto a = make_eventfd(), b = make_eventfd();
  ASSERT_TRUE((*loop)->add(a.get(), EPOLLIN, [&](std::uint32_t) { drain_fd(a.get()); }));
  ASSERT_TRUE((*loop)->add(b.get(), EPOLLIN, [&](std::uint32_t) { drain_fd(b.get()); }));
  EXPECT_EQ((*loop)->size(), 2u);
  EXPECT_TRUE((*loop)->contains(a.get()));
  signal_fd(a.get());
  signal_fd(b.get());
  auto n = (*loop)->run_once(1000ms);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  (*loop)->stop();  // the wake fd's handler runs, but is not the caller's
  (*loop)->remove(b.get());
  EXPECT_EQ((*loop)->size(), 1u);
  EXPECT_FALSE((*loop)->contains(b.get()));
}

TEST(EventLoop, ZeroTimeoutOnlyLooks) {
  auto loop = xenwire::event_loop::create();
  ASSERT_TRUE(loop);
  auto a = make_eventfd();
  int calls = 0;
  ASSERT_TRUE((*loop)->add(a.get(), EPOLLIN, [&](std::uint32_t) { ++calls; drain_fd(a.get()); }));
  const auto t0 = steady::now();
  auto n = (*loop)->run_once(0ms);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  EXPECT_LT(steady::now() - t0, 500ms);
  signal_fd(a.get());
  ASSERT_TRUE((*loop)->run_once(0ms));
  EXPECT_EQ(calls, 1);
}

// A handler that runs the loop again (as a blocking helper inside a callback may) and, in that
// nested run, has its own entry removed: the outer call must not touch the freed handler.
TEST(EventLoop, NestedRunKeepsARemovedRunningHandlerAlive) {
  auto loop = xenwire::event_loop::create();
  ASSERT_TRUE(loop);
  auto a = make_eventfd(), b = make_eventfd();
  int a_calls = 0, b_calls = 0;
  std::array<int, 8> big_capture{};  // forces the handlers onto the heap, where ASan sees a use after free
  ASSERT_TRUE((*loop)->add(b.get(), EPOLLIN, [&, big_capture](std::uint32_t) {
    b_calls += 1 + big_capture[0];
    drain_fd(b.get());
    (*loop)->remove(a.get());  // a's handler is the one running the nested loop
  }));
  ASSERT_TRUE((*loop)->add(a.get(), EPOLLIN, [&, big_capture](std::uint32_t) {
    drain_fd(a.get());
    signal_fd(b.get());
    ASSERT_TRUE((*loop)->run_once(1000ms));
    a_calls += 1 + big_capture[0];  // still alive: retired, not destroyed, while the outer batch runs
  }));
  signal_fd(a.get());
  ASSERT_TRUE((*loop)->run_once(1000ms));
  EXPECT_EQ(a_calls, 1);
  EXPECT_EQ(b_calls, 1);
  EXPECT_FALSE((*loop)->contains(a.get()));
}
