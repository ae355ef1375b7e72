// Endpoint behaviour over the simulator with the in-memory rendezvous: setup, stream and packet I/O
// in both modes, liveness, close, persistent servers. (Asynchronous connect: connector_test.cpp.)

#include <gtest/gtest.h>
#include <unistd.h>

#include "poll_support.hpp"
#include "vchan_test_support.hpp"

namespace xenwire::vchan {
namespace {

using namespace testing;
using namespace std::chrono_literals;

using xenwire::test_support::readable;

TEST(VchanEndpoint, ServerPublishesAndWaitsClientConnects) {
  two_domains d;
  auto srv = d.serve();
  EXPECT_EQ(srv.state(), status::waiting);
  EXPECT_TRUE(srv.is_open());
  EXPECT_EQ(srv.role(), side::server);
  EXPECT_EQ(srv.read_ring_size(), 1024u);
  EXPECT_EQ(srv.write_ring_size(), 2048u);
  auto cli = d.connect();
  EXPECT_EQ(cli.role(), side::client);
  EXPECT_EQ(cli.read_ring_size(), 2048u);
  EXPECT_EQ(cli.write_ring_size(), 1024u);
  EXPECT_EQ(cli.state(), status::connected);
  EXPECT_EQ(srv.state(), status::connected);
  // The client signalled the server at the end of its setup.
  EXPECT_TRUE(readable(srv.fd()));
  EXPECT_EQ(srv.handle_events().value(), status::connected);
  EXPECT_FALSE(readable(srv.fd()));
}

TEST(VchanEndpoint, ConnectWithoutKeysWouldBlock) {
  two_domains d;
  auto cli = endpoint::connect(*d.cli, d.rdv, d.client_cfg());
  ASSERT_FALSE(cli);
  EXPECT_EQ(cli.error(), errc::would_block);
}

TEST(VchanEndpoint, StreamBothWaysNonBlocking) {
  two_domains d;
  auto srv = d.serve();
  auto cli = d.connect();
  const auto up = pattern(700, 1), down = pattern(1500, 2);
  EXPECT_EQ(cli.write(up).value(), 700u);
  EXPECT_EQ(srv.write(down).value(), 1500u);
  std::vector<std::byte> got(4096);
  EXPECT_EQ(srv.read(got).value(), 700u);
  EXPECT_TRUE(std::equal(up.begin(), up.end(), got.begin()));
  EXPECT_EQ(cli.read(got).value(), 1500u);
  EXPECT_TRUE(std::equal(down.begin(), down.end(), got.begin()));
  auto none = srv.read(got);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), errc::would_block);
}

TEST(VchanEndpoint, NonBlockingWriteTakesWhatFitsThenWouldBlock) {
  two_domains d;
  auto srv = d.serve();
  auto cli = d.connect();
  const auto big = pattern(3000);
  EXPECT_EQ(cli.write(big).value(), 1024u);  // the left ring is 1024 bytes
  auto full = cli.write(big);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), errc::would_block);
  EXPECT_EQ(cli.buffer_space().value(), 0u);
  (void)cli.handle_events();
  // The client asked to be told when the server reads: the server's read signals it.
  std::vector<std::byte> got(100);
  EXPECT_EQ(srv.read(got).value(), 100u);
  EXPECT_TRUE(readable(cli.fd()));
  EXPECT_EQ(cli.buffer_space().value(), 100u);
}

TEST(VchanEndpoint, ReaderThatCameUpShortIsSignalledOnNextWrite) {
  two_domains d;
  auto srv = d.serve();
  auto cli = d.connect();
  (void)srv.handle_events();
  std::vector<std::byte> got(16);
  EXPECT_EQ(srv.read(got).error(), errc::would_block);
  EXPECT_FALSE(readable(srv.fd()));
  EXPECT_EQ(cli.write(pattern(8)).value(), 8u);
  EXPECT_TRUE(readable(srv.fd()));
}

TEST(VchanEndpoint, PacketsAreAllOrNothing) {
  two_domains d;
  auto srv = d.serve();
  auto cli = d.connect();
  const auto p1 = pattern(600, 1), p2 = pattern(600, 2);
  ASSERT_TRUE(cli.send(p1));
  auto second = cli.send(p2);  // 424 bytes free: nothing is written
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), errc::would_block);
  EXPECT_EQ(srv.data_ready().value(), 600u);
  std::vector<std::byte> got(601);
  EXPECT_EQ(srv.recv(got).error(), errc::would_block);  // 601 > 600 ready: nothing is taken
  got.resize(600);
  ASSERT_TRUE(srv.recv(got));
  EXPECT_EQ(got, p1);
  ASSERT_TRUE(cli.send(p2));
  ASSERT_TRUE(srv.recv(got));
  EXPECT_EQ(got, p2);
  // Larger than the ring: can never be sent.
  EXPECT_EQ(cli.send(pattern(1025)).error(), errc::invalid_argument);
  std::vector<std::byte> huge(1025);
  EXPECT_EQ(srv.recv(huge).error(), errc::invalid_argument);
}

TEST(VchanEndpoint, GrantedRingsOfEverySizeCarryData) {
  for (std::size_t size : {4096u, 8192u, 65536u, 1u << 20}) {
    two_domains d;
    auto srv = d.serve(size, size);
    auto cli = d.connect();
    EXPECT_EQ(srv.read_ring_size(), size);
    EXPECT_EQ(cli.read_ring_size(), size);
    const auto data = pattern(size, static_cast<std::uint32_t>(size));
    ASSERT_TRUE(cli.send(data));
    ASSERT_TRUE(srv.send(data));
    std::vector<std::byte> got(size);
    ASSERT_TRUE(srv.recv(got));
    EXPECT_EQ(got, data);
    ASSERT_TRUE(cli.recv(got));
    EXPECT_EQ(got, data);
  }
}

TEST(VchanEndpoint, ServerWritesBeforeClientArrives) {
  two_domains d;
  auto srv = d.serve();
  const auto early = pattern(100);
  EXPECT_EQ(srv.write(early).value(), 100u);
  auto cli = d.connect();
  std::vector<std::byte> got(100);
  ASSERT_TRUE(cli.recv(got));
  EXPECT_EQ(got, early);
}

TEST(VchanEndpoint, CloseIsSeenAndDataSentBeforeItIsStillRead) {
  two_domains d;
  auto srv = d.serve();
  {
    auto cli = d.connect();
    EXPECT_EQ(cli.write(pattern(10)).value(), 10u);
    cli.close();
    EXPECT_FALSE(cli.is_open());
    EXPECT_EQ(cli.write(pattern(1)).error(), errc::peer_closed);
  }
  EXPECT_TRUE(readable(srv.fd()));
  EXPECT_EQ(srv.state(), status::closed);
  EXPECT_FALSE(srv.is_open());
  std::vector<std::byte> got(64);
  EXPECT_EQ(srv.read(got).value(), 10u);
  EXPECT_EQ(srv.read(got).error(), errc::peer_closed);
  EXPECT_EQ(srv.write(pattern(1)).error(), errc::peer_closed);
  srv.close();
  EXPECT_FALSE(d.rdv.lookup(d.path()).has_value());  // the server removed its keys
  EXPECT_TRUE(d.host.check_clean());
}

TEST(VchanEndpoint, ServerCloseIsSeenByClient) {
  two_domains d;
  auto srv = d.serve();
  auto cli = d.connect();
  EXPECT_EQ(srv.write(pattern(5)).value(), 5u);
  srv.close();
  EXPECT_EQ(cli.state(), status::closed);
  std::vector<std::byte> got(64);
  EXPECT_EQ(cli.read(got).value(), 5u);
  EXPECT_EQ(cli.read(got).error(), errc::peer_closed);
  cli.close();
  EXPECT_TRUE(d.host.check_clean());
}

TEST(VchanEndpoint, BlockingCallsTimeOutAndReturnOnClose) {
  two_domains d;
  auto srv = d.serve(1024, 2048, blocking_for(20ms));
  auto cli = d.connect(blocking_for(20ms));
  std::vector<std::byte> got(8);
  EXPECT_EQ(cli.read(got).error(), errc::timed_out);
  EXPECT_EQ(srv.recv(got).error(), errc::timed_out);
  ASSERT_TRUE(srv.send(pattern(2048)));
  EXPECT_EQ(srv.send(pattern(1)).error(), errc::timed_out);
  cli.close();
  srv.set_io({.mode = io_mode::blocking});  // no timeout: must return because the peer is gone
  EXPECT_EQ(srv.read(got).error(), errc::peer_closed);
}

TEST(VchanEndpoint, PeerDeathIsSeenAsCloseAndHostIsCleanAfter) {
  two_domains d;
  auto srv = d.serve(1024, 2048, {.mode = io_mode::blocking});
  auto cli = d.connect();
  ASSERT_TRUE(d.host.destroy_domain(client_dom));
  std::vector<std::byte> got(8);
  EXPECT_EQ(srv.read(got).error(), errc::peer_closed);  // blocking, no timeout: must not hang
  EXPECT_EQ(srv.state(), status::closed);
  srv.close();
  cli.close();
  EXPECT_TRUE(d.host.check_clean());
}

TEST(VchanEndpoint, PersistentServerTakesANewClient) {
  two_domains d;
  auto cfg = d.server_cfg();
  cfg.persistent = true;
  auto srv = endpoint::serve(*d.srv, d.rdv, cfg).value();
  const keys first = srv.published();
  for (int round = 0; round < 3; ++round) {
    auto cli = d.connect();
    const auto msg = pattern(50, static_cast<std::uint32_t>(round));
    ASSERT_TRUE(cli.send(msg));
    std::vector<std::byte> got(50);
    ASSERT_TRUE(srv.recv(got));
    EXPECT_EQ(got, msg);
    cli.close();
    EXPECT_TRUE(srv.is_open());  // re-armed: waiting for the next client
    EXPECT_EQ(srv.state(), status::waiting);
    EXPECT_NE(srv.published(), first);
    // A client holding the old keys is refused: that page is not waiting for a client any more.
    auto stale = endpoint::connect(*d.cli, first, d.client_cfg());
    ASSERT_FALSE(stale);
  }
  srv.close();
  EXPECT_TRUE(d.host.check_clean());
}

// A persistent server never re-arms inside write()/send(): bytes written for a client that has left
// fail with peer_closed instead of landing in the next client's fresh ring.
TEST(VchanEndpoint, PersistentServerWritesNeverReachTheNextClient) {
  two_domains d;
  auto cfg = d.server_cfg();
  cfg.persistent = true;
  cfg.io.mode = io_mode::non_blocking;
  auto srv = endpoint::serve(*d.srv, d.rdv, cfg).value();
  {
    auto cli = d.connect();
    ASSERT_TRUE(srv.send(pattern(8, 1)));
    std::vector<std::byte> got(8);
    ASSERT_TRUE(cli.recv(got));
    cli.close();
  }
  // The client left with nothing unread: the old code re-armed here and wrote into the new ring.
  const auto secret = pattern(16, 7);
  auto w = srv.write(secret);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error(), errc::peer_closed);
  auto s = srv.send(secret);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), errc::peer_closed);
  // Re-arming is explicit (state()/handle_events()); the next client finds an empty ring.
  EXPECT_EQ(srv.state(), status::waiting);
  auto next = d.connect();
  next.set_io({.mode = io_mode::non_blocking});
  EXPECT_EQ(next.data_ready().value(), 0u);
  std::vector<std::byte> buf(16);
  auto r = next.read(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::would_block);
}

}  // namespace
}  // namespace xenwire::vchan
