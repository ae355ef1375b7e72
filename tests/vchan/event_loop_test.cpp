// poll_set: many vchans and plain fds in one epoll loop, and handlers that change the set while a
// batch is being dispatched.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <optional>

#include "vchan_test_support.hpp"
#include "xenwire/vchan/event_loop.hpp"

namespace xenwire::vchan {
namespace {

using namespace testing;
using namespace std::chrono_literals;

// A pipe whose read end is readable (one byte in it) until closed.
struct ready_pipe {
  ready_pipe() {
    EXPECT_EQ(::pipe(fds), 0);
    EXPECT_EQ(::write(fds[1], "x", 1), 1);
  }
  ~ready_pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  ready_pipe(const ready_pipe&) = delete;
  ready_pipe& operator=(const ready_pipe&) = delete;
  int in() const { return fds[0]; }
  int fds[2] = {-1, -1};
};

TEST(VchanPollSet, DrivesManyVchans) {
  constexpr int n = 8;
  sim::host host;
  ASSERT_TRUE(host.create_domain(server_dom));
  ASSERT_TRUE(host.create_domain(client_dom));
  auto st = host.transport(server_dom).value();
  auto ct = host.transport(client_dom).value();
  memory_rendezvous rdv;
  std::vector<endpoint> servers, clients;
  servers.reserve(n);
  for (int i = 0; i < n; ++i) {
    const auto path = default_path(server_dom, client_dom, "p" + std::to_string(i));
    servers.push_back(endpoint::serve(*st, rdv, {.client = client_dom, .path = path, .io = testing::non_blocking()}).value());
    clients.push_back(endpoint::connect(*ct, rdv, {.server = server_dom, .path = path, .io = testing::non_blocking()}).value());
  }
  auto loop = poll_set::create().value();
  std::vector<std::size_t> received(n, 0);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(loop.add(servers[static_cast<std::size_t>(i)], [&, i](endpoint& ep, status) {
      std::array<std::byte, 256> buf;
      for (;;) {
        auto r = ep.read(buf);
        if (!r) break;
        received[static_cast<std::size_t>(i)] += *r;
      }
    }));
  }
  // Each client writes a different amount; the loop drains them all.
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < n; ++i) {
      (void)clients[static_cast<std::size_t>(i)].write(pattern(static_cast<std::size_t>(10 * (i + 1))));
    }
    while (loop.run_once(0ms).value() > 0) {
    }
  }
  for (int i = 0; i < n; ++i) EXPECT_EQ(received[static_cast<std::size_t>(i)], 200u * static_cast<std::size_t>(i + 1)) << i;
  for (auto& s : servers) ASSERT_TRUE(loop.remove(s));
}

TEST(VchanPollSet, PlainFdsShareTheLoop) {
  auto loop = poll_set::create().value();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  int calls = 0;
  ASSERT_TRUE(loop.add_fd(fds[0], [&] {
    char c;
    EXPECT_EQ(::read(fds[0], &c, 1), 1);  // level-triggered: the handler consumes
    ++calls;
  }));
  EXPECT_EQ(loop.add_fd(fds[0], [] {}).error(), errc::invalid_argument);  // once per fd
  EXPECT_EQ(loop.add_fd(-1, [] {}).error(), errc::invalid_argument);
  EXPECT_EQ(loop.size(), 1u);
  EXPECT_EQ(loop.run_once(0ms).value(), 0u);
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  EXPECT_EQ(loop.run_once(1000ms).value(), 1u);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(loop.run_once(0ms).value(), 0u);
  ASSERT_TRUE(loop.remove_fd(fds[0]));
  EXPECT_EQ(loop.remove_fd(fds[0]).error(), errc::invalid_argument);
  ASSERT_EQ(::write(fds[1], "y", 1), 1);
  EXPECT_EQ(loop.run_once(0ms).value(), 0u);  // removed: not watched any more
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(VchanPollSet, HandlerRemovingAnotherReadyEntrySkipsIt) {
  // Both fds are ready in the same batch; whichever handler runs first removes the other, which
  // must then not run (its entry used to be freed while the batch still pointed at it).
  auto loop = poll_set::create().value();
  ready_pipe a, b;
  int calls = 0;
  auto handler = [&](int own, int other) {
    return [&, own, other] {
      ++calls;
      char c;
      EXPECT_EQ(::read(own, &c, 1), 1);
      EXPECT_TRUE(loop.remove_fd(other));
    };
  };
  ASSERT_TRUE(loop.add_fd(a.in(), handler(a.in(), b.in())));
  ASSERT_TRUE(loop.add_fd(b.in(), handler(b.in(), a.in())));
  EXPECT_EQ(loop.run_once(1000ms).value(), 1u);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(loop.size(), 1u);
  EXPECT_EQ(loop.run_once(0ms).value(), 0u);
}

TEST(VchanPollSet, HandlerMayRemoveItselfAndItsEndpoint) {
  // A server handler that sees its client go away removes and destroys its own endpoint: the
  // handler's captures must outlive the call, and a second ready endpoint still gets its turn.
  two_domains d;
  std::optional<endpoint> srv1 = d.serve();
  const auto path2 = d.path("second");
  auto srv2 = endpoint::serve(*d.srv, d.rdv, {.client = client_dom, .path = path2, .io = non_blocking()}).value();
  auto cli1 = d.connect();
  auto cli2 = endpoint::connect(*d.cli, d.rdv, {.server = server_dom, .path = path2, .io = non_blocking()}).value();
  auto loop = poll_set::create().value();
  const std::string tag(64, 'k');  // heap-allocated capture: destroyed early, ASan would see the read
  int first_calls = 0, second_calls = 0;
  ASSERT_TRUE(loop.add(*srv1, [&, tag](endpoint& ep, status) {
    ++first_calls;
    ASSERT_TRUE(loop.remove(ep));
    srv1.reset();
    EXPECT_EQ(tag.size(), 64u);  // still alive after its entry left the set
  }));
  ASSERT_TRUE(loop.add(srv2, [&](endpoint& ep, status) {
    ++second_calls;
    std::array<std::byte, 16> buf;
    while (ep.read(buf)) {
    }
  }));
  cli1.close();
  ASSERT_TRUE(cli2.write(pattern(8)));
  for (int i = 0; i < 100 && (first_calls == 0 || second_calls == 0); ++i) ASSERT_TRUE(loop.run_once(100ms));
  EXPECT_EQ(first_calls, 1);
  EXPECT_GE(second_calls, 1);
  EXPECT_EQ(loop.size(), 1u);
  ASSERT_TRUE(loop.remove(srv2));
}

}  // namespace
}  // namespace xenwire::vchan
