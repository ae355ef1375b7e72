// The client as a guest on the simulated host: its requests travel over the Xenstore ring page and
// the event channel to xenwire's daemon (which dom0 told about the guest with INTRODUCE).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <future>
#include <set>

#include "client_fixture.hpp"
#include "xenwire/ring/xenstore_layout.hpp"
#include "xenwire/xenstore/client/helpers.hpp"

namespace xs = xenwire::xenstore;
using namespace std::chrono_literals;
using xenwire::errc;

namespace {

class ClientRing : public ::testing::Test {
 protected:
  void SetUp() override {
    fx.start();
    dom0 = fx.connect({.timeout = 10s, .watch_queue_limit = 64});
  }
  xs::testing::daemon_fixture fx;
  xs::client dom0;
};

TEST_F(ClientRing, GuestReadsWritesItsHome) {
  auto g = fx.guest(dom0, 5);
  EXPECT_TRUE(dom0.is_domain_introduced(5).value());
  ASSERT_TRUE(g.write("/local/domain/5/data", "abs"));
  ASSERT_TRUE(g.write("rel", "relative"));  // relative to /local/domain/5
  EXPECT_EQ(g.read("data").value(), "abs");
  EXPECT_EQ(dom0.read("/local/domain/5/rel").value(), "relative");
  auto kids = g.directory("/local/domain/5").value();
  std::sort(kids.begin(), kids.end());
  EXPECT_EQ(kids, (std::vector<std::string>{"data", "rel"}));
  // Outside its home, a guest has no rights by default.
  ASSERT_TRUE(dom0.write("/secret", "x"));
  ASSERT_TRUE(dom0.set_perms("/secret", {{0, xs::perm::none}}));
  EXPECT_TRUE(g.read("/secret").error().is(xs::xs_error::eacces));
  EXPECT_TRUE(g.write("/local/domain/6/x", "y").error().is(xs::xs_error::eacces));
  // Privileged ops are refused.
  EXPECT_TRUE(g.introduce(9, 0, 1).error().is(xs::xs_error::eacces));
  EXPECT_TRUE(g.get_feature().value() & xenwire::xenstore::feature::reconnection);
}

TEST_F(ClientRing, FramesLargerThanTheRing) {
  auto g = fx.guest(dom0, 5);
  std::string big(2000, 'v');  // under the node-size quota, twice the ring's size
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(g.write("big", big));
  EXPECT_EQ(g.read("big").value(), big);
  EXPECT_EQ(dom0.read("/local/domain/5/big").value(), big);
}

TEST_F(ClientRing, WatchesAndTransactionsOverTheRing) {
  auto g = fx.guest(dom0, 5);
  auto w = g.add_watch("cfg").value();
  EXPECT_EQ(w.next(2s).value().path, "cfg");  // relative watch: relative events
  ASSERT_TRUE(dom0.write("/local/domain/5/cfg/x", "1"));
  EXPECT_EQ(w.next(2s).value().path, "cfg/x");
  auto r = xs::run_transaction(g, [&](xs::tx_id tx) -> xs::client_result<void> {
    if (auto a = g.write("cfg/a", "1", tx); !a) return a;
    return g.write("cfg/b", "2", tx);
  });
  ASSERT_TRUE(r) << r.error().message();
  std::set<std::string> seen;
  for (int i = 0; i < 2; ++i) seen.insert(w.next(2s).value().path);
  EXPECT_EQ(seen, (std::set<std::string>{"cfg/a", "cfg/b"}));
  EXPECT_TRUE(g.unwatch(w));
}

TEST_F(ClientRing, ReconnectHandshakeKeepsWatchesAndDropsTransactions) {
  auto g = fx.guest(dom0, 5);
  ASSERT_TRUE(g.write("before", "1"));
  auto w = g.add_watch("watched").value();
  ASSERT_EQ(w.next(2s).value().path, "watched");
  auto tx = g.transaction_start().value();
  ASSERT_TRUE(g.reconnect());
  // The server forgot the transaction; the watch was registered again and fired.
  EXPECT_TRUE(g.transaction_end(tx, true).error().is(xs::xs_error::enoent));
  EXPECT_EQ(w.next(2s).value().path, "watched");
  ASSERT_TRUE(dom0.write("/local/domain/5/watched", "x"));
  EXPECT_EQ(w.next(2s).value().path, "watched");
  EXPECT_EQ(g.read("before").value(), "1");
}

// Issue 13 / Xen 4.21+: a non-zero evtchn_port in the page is the guest's Xenstore port.
TEST_F(ClientRing, UsesTheEvtchnPortXenWroteIntoThePage) {
  auto info = fx.host().create_domain(6, {.xenstore = true, .xenstore_domid = 0}).value();
  ASSERT_TRUE(dom0.write("/local/domain/6", ""));
  ASSERT_TRUE(dom0.set_perms("/local/domain/6", {{6, xs::perm::none}}));
  auto t = fx.host().transport(6).value();
  auto ep = t->take_xenstore().value();
  auto* iface = static_cast<xenwire::xenstore::domain_interface*>(static_cast<void*>(ep.page->bytes().data()));
  EXPECT_FALSE(xs::connect_ring(ep.page->bytes(), t->open_event_channel().value(), 0));  // no port anywhere
  std::atomic_ref<std::uint32_t>(iface->evtchn_port).store(ep.port, std::memory_order_release);
  auto conn = xs::connect_ring(std::move(ep.page), std::move(ep.events), 0);  // the caller does not know it
  ASSERT_TRUE(conn) << conn.error().message();
  ASSERT_TRUE(dom0.introduce(6, 0, *info.xenstore_port));
  auto g = xs::client::open(std::move(*conn), {.timeout = 5s}).value();
  ASSERT_TRUE(g.write("x", "1"));
  EXPECT_EQ(dom0.read("/local/domain/6/x").value(), "1");
}

TEST_F(ClientRing, ServerErrorFieldBecomesAClearError) {
  auto info = fx.host().create_domain(6, {.xenstore = true, .xenstore_domid = 0}).value();
  ASSERT_TRUE(dom0.write("/local/domain/6", ""));
  ASSERT_TRUE(dom0.set_perms("/local/domain/6", {{6, xs::perm::none}}));
  auto t = fx.host().transport(6).value();
  auto ep = t->take_xenstore().value();
  auto conn = xs::connect_ring(std::move(ep.page), std::move(ep.events), ep.port).value();
  // An oversized frame (len > 4096) is a protocol violation: the daemon stops serving the ring
  // and says why in the page's error field.
  const std::uint32_t bad[4] = {static_cast<std::uint32_t>(xs::msg_type::read), 1, 0, 5000};
  ASSERT_TRUE(conn->write_all(std::as_bytes(std::span(bad))));
  ASSERT_TRUE(dom0.introduce(6, 0, *info.xenstore_port));
  auto g = xs::client::open(std::move(conn), {.timeout = 5s, .watch_queue_limit = 4}).value();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!g.failure() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(g.failure());
  EXPECT_TRUE(g.failure()->is(errc::protocol_error)) << g.failure()->message();
  auto r = g.read("x");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::protocol_error)) << r.error().message();
}

TEST_F(ClientRing, DaemonDyingMidRequestFailsEveryCaller) {
  auto g = fx.guest(dom0, 5, {.timeout = 5s, .watch_queue_limit = 16});
  auto w = g.add_watch("w").value();
  std::vector<std::future<xs::client_result<void>>> inflight;
  for (int i = 0; i < 200; ++i) inflight.push_back(g.call_async(xs::ops::write{"n" + std::to_string(i % 10), "v"}));
  fx.stop();
  int failed = 0;
  for (auto& f : inflight) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    auto r = f.get();
    if (!r) {
      ++failed;
      EXPECT_TRUE(r.error().is(errc::peer_closed)) << r.error().message();
    }
  }
  auto after = g.read("n1");
  ASSERT_FALSE(after);
  EXPECT_TRUE(after.error().is(errc::peer_closed)) << after.error().message();
  while (w.try_next()) {
  }
  EXPECT_TRUE(w.next(2s).error().is(errc::peer_closed));
  RecordProperty("failed_in_flight", failed);
}

}  // namespace
