// The client against xenwire's daemon over a Unix socket: every call, errors, watches,
// transactions, directory parts, dom0 operations.
#include <gtest/gtest.h>
#include <poll.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>

#include "client_fixture.hpp"
#include "xenwire/xenstore/client/helpers.hpp"

namespace xs = xenwire::xenstore;
using namespace std::chrono_literals;
using xenwire::errc;

namespace {

class ClientSocket : public ::testing::Test {
 protected:
  void SetUp() override { fx.start(); }
  xs::testing::daemon_fixture fx;
};

TEST_F(ClientSocket, WriteReadRmExists) {
  auto c = fx.connect();
  ASSERT_TRUE(c.write("/t/a", "hello"));
  EXPECT_EQ(c.read("/t/a").value(), "hello");
  ASSERT_TRUE(c.write("/t/bin", std::string("x\0y", 3)));
  EXPECT_EQ(c.read("/t/bin").value(), std::string("x\0y", 3));
  EXPECT_TRUE(c.exists("/t/a").value());
  ASSERT_TRUE(c.rm("/t/a"));
  EXPECT_FALSE(c.exists("/t/a").value());
  auto missing = c.read("/t/a");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(xs::xs_error::enoent));
  EXPECT_EQ(missing.error().message(), "ENOENT");
  EXPECT_EQ(c.try_read("/t/a").value(), std::nullopt);
}

TEST_F(ClientSocket, MkdirAndDirectory) {
  auto c = fx.connect();
  ASSERT_TRUE(c.mkdir("/d/x"));
  ASSERT_TRUE(c.mkdir("/d/x"));  // idempotent
  ASSERT_TRUE(c.write("/d/y", "1"));
  auto kids = c.directory("/d").value();
  std::sort(kids.begin(), kids.end());
  EXPECT_EQ(kids, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(c.directory("/nope").error().is(xs::xs_error::enoent));
  EXPECT_TRUE(c.read("bad//path").error().is(xs::xs_error::einval));
}

TEST_F(ClientSocket, DirectoryFallsBackToPartsOnE2big) {
  auto c = fx.connect();
  std::vector<std::string> names;
  for (int i = 0; i < 150; ++i) names.push_back("child-with-a-rather-long-name-" + std::to_string(i));
  // One transaction: quicker than 150 round trips of their own.
  ASSERT_TRUE(xs::run_transaction(c, [&](xs::tx_id tx) -> xs::client_result<void> {
    for (const auto& n : names)
      if (auto r = c.write("/big/" + n, "", tx); !r) return r;
    return {};
  }));
  auto plain = c.call(xs::ops::directory{"/big"});
  ASSERT_FALSE(plain);
  EXPECT_TRUE(plain.error().is(xs::xs_error::e2big));
  auto kids = c.directory("/big").value();
  std::sort(kids.begin(), kids.end());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(kids, names);
}

TEST_F(ClientSocket, Permissions) {
  auto c = fx.connect();
  ASSERT_TRUE(c.write("/p", "v"));
  const xs::node_perms perms = {{7, xs::perm::read}, {3, xs::perm::write}, {4, xs::perm::both}};
  ASSERT_TRUE(c.set_perms("/p", perms));
  EXPECT_EQ(c.get_perms("/p").value(), perms);
  EXPECT_TRUE(c.get_perms("/none").error().is(xs::xs_error::enoent));
}

TEST_F(ClientSocket, TransactionsCommitAbortAndConflict) {
  auto c = fx.connect();
  auto tx = c.transaction_start().value();
  ASSERT_NE(tx, 0u);
  ASSERT_TRUE(c.write("/tx/a", "1", tx));
  EXPECT_FALSE(c.exists("/tx/a").value());
  ASSERT_TRUE(c.transaction_end(tx, true));
  EXPECT_EQ(c.read("/tx/a").value(), "1");

  tx = c.transaction_start().value();
  ASSERT_TRUE(c.write("/tx/a", "2", tx));
  ASSERT_TRUE(c.transaction_end(tx, false));
  EXPECT_EQ(c.read("/tx/a").value(), "1");

  // A read node changed by someone else: commit fails with EAGAIN.
  tx = c.transaction_start().value();
  ASSERT_EQ(c.read("/tx/a", tx).value(), "1");
  ASSERT_TRUE(c.write("/tx/b", "x", tx));
  ASSERT_TRUE(c.write("/tx/a", "other"));
  EXPECT_TRUE(c.transaction_end(tx, true).error().is(xs::xs_error::eagain));
  EXPECT_TRUE(c.transaction_end(12345, true).error().is(xs::xs_error::enoent));
}

TEST_F(ClientSocket, TransactionRunnerRetriesOnConflict) {
  auto c = fx.connect();
  auto other = fx.connect();
  ASSERT_TRUE(c.write("/ctr", "0"));
  int runs = 0;
  auto r = xs::run_transaction(c, [&](xs::tx_id tx) -> xs::client_result<int> {
    ++runs;
    auto v = c.read("/ctr", tx);
    if (!v) return xs::client_fail(v.error());
    if (runs == 1) {
      if (auto w = other.write("/ctr", "10"); !w) return xs::client_fail(w.error());  // conflict
    }
    const int n = std::stoi(*v) + 1;
    if (auto w = c.write("/ctr", std::to_string(n), tx); !w) return xs::client_fail(w.error());
    return n;
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 11);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(c.read("/ctr").value(), "11");

  // Always conflicting: gives up after max_attempts with EAGAIN.
  runs = 0;
  auto never = xs::run_transaction(
      c,
      [&](xs::tx_id tx) -> xs::client_result<void> {
        ++runs;
        (void)c.read("/ctr", tx);
        (void)c.write("/ctr/x", "y", tx);
        return other.write("/ctr", std::to_string(runs));
      },
      {.max_attempts = 3, .initial_backoff = 1ms, .max_backoff = 2ms});
  ASSERT_FALSE(never);
  EXPECT_TRUE(never.error().is(xs::xs_error::eagain));
  EXPECT_EQ(runs, 3);

  // Other errors abort at once.
  runs = 0;
  auto bad = xs::run_transaction(c, [&](xs::tx_id tx) -> xs::client_result<std::string> {
    ++runs;
    return c.read("/missing", tx);
  });
  EXPECT_TRUE(bad.error().is(xs::xs_error::enoent));
  EXPECT_EQ(runs, 1);
}

// An event loop waits on the watch's fd instead of a thread blocking in next().
TEST_F(ClientSocket, WatchFdWakesAPollLoop) {
  auto c = fx.connect();
  auto w = c.add_watch("/pf").value();
  ASSERT_GE(w.fd(), 0);
  pollfd p{w.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);  // the registration event
  EXPECT_EQ(w.try_next().value().path, "/pf");
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  ASSERT_TRUE(c.write("/pf/x", "1"));
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  EXPECT_EQ(w.try_next().value().path, "/pf/x");
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  EXPECT_EQ(xs::watch{}.fd(), -1);
}

TEST_F(ClientSocket, WatchFiresAndUnwatchToleratesGone) {
  auto c = fx.connect();
  auto w = c.add_watch("/w").value();
  auto first = w.next(2s).value();
  EXPECT_EQ(first.path, "/w");  // registration fires once
  ASSERT_TRUE(c.write("/w/a", "1"));
  EXPECT_EQ(w.next(2s).value().path, "/w/a");
  ASSERT_TRUE(c.rm("/w/a"));
  EXPECT_EQ(w.next(2s).value().path, "/w/a");
  EXPECT_TRUE(w.next(50ms).error().is(errc::timed_out));

  // Gone on the server already (RESET_WATCHES): unwatch still succeeds.
  ASSERT_TRUE(c.reset_watches());
  EXPECT_TRUE(c.unwatch(w));
  EXPECT_FALSE(w);
  EXPECT_TRUE(w.next(10ms).error().is(errc::invalid_argument));

  // Duplicate token: EEXIST locally.
  auto a = c.add_watch("/w", {.depth = std::nullopt, .queue_limit = 0, .token = "tok"}).value();
  EXPECT_TRUE(c.add_watch("/w2", {.depth = std::nullopt, .queue_limit = 0, .token = "tok"}).error().is(xs::xs_error::eexist));
  EXPECT_EQ(a.token(), "tok");
}

TEST_F(ClientSocket, WatchDepth) {
  auto c = fx.connect();
  auto w = c.add_watch("/dp", {.depth = 1, .queue_limit = 0, .token = {}}).value();
  EXPECT_EQ(w.next(2s).value().path, "/dp");
  ASSERT_TRUE(c.write("/dp/a/b/c", "deep"));  // creates /dp/a (depth 1) too, but the event names /dp/a/b/c
  ASSERT_TRUE(c.write("/dp/x", "shallow"));
  // Only /dp/x is within depth 1.
  auto e = w.next(2s).value();
  EXPECT_EQ(e.path, "/dp/x");
}

TEST_F(ClientSocket, BoundedWatchQueueSignalsOverflow) {
  auto c = fx.connect();
  auto w = c.add_watch("/q", {.depth = std::nullopt, .queue_limit = 4, .token = {}}).value();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.write("/q/n" + std::to_string(i), "v"));
  // All 21 events (1 initial + 20) have arrived once a later reply has.
  ASSERT_TRUE(c.read("/q/n0"));
  EXPECT_LE(w.queued(), 4u);
  std::vector<std::string> got;
  std::uint64_t dropped = 0;
  while (auto e = w.try_next()) {
    if (e->overflow()) {
      dropped += e->dropped;
    } else {
      got.push_back(e->path);
    }
  }
  EXPECT_EQ(got.size() + dropped, 21u);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(got.front(), "/q");
  // The queue works again afterwards.
  ASSERT_TRUE(c.write("/q/after", "v"));
  EXPECT_EQ(w.next(2s).value().path, "/q/after");
}

TEST_F(ClientSocket, WaitFor) {
  auto c = fx.connect();
  auto writer = fx.connect();
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    (void)writer.write("/ready", "no");
    std::this_thread::sleep_for(20ms);
    (void)writer.write("/ready", "yes");
  });
  auto v = xs::wait_for(c, "/ready", [](const std::optional<std::string>& s) { return s == "yes"; }, 5s);
  t.join();
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(**v, "yes");
  auto gone = xs::wait_for(c, "/never", [](const std::optional<std::string>& s) { return s.has_value(); }, 100ms);
  EXPECT_TRUE(gone.error().is(errc::timed_out));
  // Absence can be waited for too.
  auto absent = xs::wait_for(c, "/never", [](const std::optional<std::string>& s) { return !s; }, 1s);
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->has_value());
}

TEST_F(ClientSocket, DomainOpsQuotasFeaturesControl) {
  auto c = fx.connect();
  EXPECT_EQ(c.get_domain_path(7).value(), "/local/domain/7");
  EXPECT_FALSE(c.is_domain_introduced(7).value());
  EXPECT_TRUE(c.release(7).error().is(xs::xs_error::enoent));
  EXPECT_TRUE(c.resume(7).error().is(xs::xs_error::enoent));
  EXPECT_TRUE(c.set_target(7, 8).error().is(xs::xs_error::enoent));
  auto names = c.quota_names().value();
  EXPECT_NE(std::find(names.begin(), names.end(), "nodes"), names.end());
  EXPECT_EQ(c.get_quota("nodes").value(), 1000u);
  ASSERT_TRUE(c.set_quota("nodes", 500));
  EXPECT_EQ(c.get_quota("nodes").value(), 500u);
  EXPECT_TRUE(c.get_quota("bogus").error().is(xs::xs_error::einval));
  EXPECT_EQ(c.get_feature().value(), 15u);
  ASSERT_TRUE(c.set_feature(9, 2));
  EXPECT_EQ(c.get_feature(9).value(), 2u);
  EXPECT_TRUE(c.control("check"));
  EXPECT_NE(c.control("help").value().find("check"), std::string::npos);
  ASSERT_TRUE(c.write("/raw", "r"));
  auto raw = c.request(xs::msg_type::read, std::string("/raw\0", 5));
  ASSERT_TRUE(raw) << raw.error().message();
  EXPECT_EQ(raw->payload, "r");
  EXPECT_EQ(raw->hdr.type, static_cast<std::uint32_t>(xs::msg_type::read));
}

TEST_F(ClientSocket, AsyncFuturesAndCallbacks) {
  auto c = fx.connect();
  ASSERT_TRUE(c.write("/as", "v"));
  auto f1 = c.call_async(xs::ops::read{"/as"});
  auto f2 = c.call_async(xs::ops::read{"/missing"});
  auto f3 = c.call_async(xs::ops::directory{"/"});
  EXPECT_EQ(f1.get().value(), "v");
  EXPECT_TRUE(f2.get().error().is(xs::xs_error::enoent));
  EXPECT_TRUE(f3.get());
  std::promise<std::string> p;
  c.call_async(xs::ops::read{"/as"}, xs::no_transaction, [&](xs::client_result<std::string> r) { p.set_value(r.value()); });
  EXPECT_EQ(p.get_future().get(), "v");
}

TEST_F(ClientSocket, ServerDyingFailsEveryCallerAndWatch) {
  auto c = fx.connect({.timeout = 5s, .watch_queue_limit = 16});
  auto w = c.add_watch("/x").value();
  ASSERT_TRUE(c.write("/x", "1"));
  fx.stop();
  auto r = c.read("/x");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::peer_closed)) << r.error().message();
  auto f = c.call_async(xs::ops::read{"/x"});
  EXPECT_TRUE(f.get().error().is(errc::peer_closed));
  // Queued events stay readable, then the watch reports the end.
  while (w.try_next()) {
  }
  EXPECT_TRUE(w.next(1s).error().is(errc::peer_closed));
  ASSERT_TRUE(c.failure());
  // Unwatching after death is fine.
  EXPECT_TRUE(w.unwatch());
}

TEST_F(ClientSocket, ReconnectToARestartedDaemon) {
  auto c = fx.connect({.timeout = 5s, .watch_queue_limit = 16});
  auto w = c.add_watch("/rc").value();
  ASSERT_EQ(w.next(1s).value().path, "/rc");
  fx.stop();
  EXPECT_FALSE(c.read("/rc"));
  fx.start();
  // The watch was ended with the connection; a new one is needed after a failure...
  ASSERT_TRUE(c.reconnect()) ;
  ASSERT_TRUE(c.write("/rc", "back"));
  EXPECT_EQ(c.read("/rc").value(), "back");
  // ...but a live reconnect keeps watches: they are registered again and fire at once.
  auto w2 = c.add_watch("/rc2").value();
  ASSERT_EQ(w2.next(1s).value().path, "/rc2");
  ASSERT_TRUE(c.reconnect());
  EXPECT_EQ(w2.next(2s).value().path, "/rc2");
  ASSERT_TRUE(c.write("/rc2/a", "1"));
  EXPECT_EQ(w2.next(2s).value().path, "/rc2/a");
}

TEST_F(ClientSocket, TimeoutOnAServerThatDoesNotAnswer) {
  // A listening socket nobody serves: the request is written but never answered.
  fx.stop();
  const std::string path = (fx.dir() / "silent").string();
  int lfd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(lfd, static_cast<const sockaddr*>(static_cast<const void*>(&addr)), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 1), 0);
  auto conn = xs::connect_unix_socket(path);
  ASSERT_TRUE(conn);
  auto c = xs::client::open(std::move(*conn), {.timeout = 100ms, .watch_queue_limit = 1}).value();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.read("/x");
  EXPECT_TRUE(r.error().is(errc::timed_out));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  ::close(lfd);
}

TEST(ClientConnect, MissingSocketIsATransportError) {
  auto conn = xs::connect_unix_socket("/nonexistent/xenstored/socket");
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error(), std::errc::no_such_file_or_directory);
}

TEST(ClientConnect, DefaultSocketPathFollowsLibxenstore) {
  ::setenv("XENSTORED_PATH", "/a/b", 1);
  EXPECT_EQ(xs::default_socket_path(), "/a/b");
  ::setenv("XENSTORED_PATH", "", 1);
  ::setenv("XENSTORED_RUNDIR", "/run/x", 1);
  EXPECT_EQ(xs::default_socket_path(), "/run/x/socket");
  ::unsetenv("XENSTORED_RUNDIR");
  ::unsetenv("XENSTORED_PATH");
  EXPECT_EQ(xs::default_socket_path(), "/var/run/xenstored/socket");
}

}  // namespace
