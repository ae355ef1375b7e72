// connector and connect_wait over the simulator with the in-memory rendezvous: waiting for the
// server's keys without blocking, skipping a dead server's stale keys, the blocking helper's timeout.

#include <gtest/gtest.h>

#include <optional>

#include "poll_support.hpp"
#include "vchan_test_support.hpp"

namespace xenwire::vchan {
namespace {

using namespace testing;
using namespace std::chrono_literals;

using xenwire::test_support::readable;

TEST(VchanEndpoint, ConnectorWaitsForKeysWithoutBlocking) {
  two_domains d;
  auto c = connector::start(*d.cli, d.rdv, d.client_cfg()).value();
  ASSERT_GE(c.fd(), 0);
  EXPECT_FALSE(c.poll().value().has_value());
  EXPECT_FALSE(readable(c.fd()));
  auto srv = d.serve();
  EXPECT_TRUE(readable(c.fd()));
  auto cli = c.poll().value();
  ASSERT_TRUE(cli.has_value());
  EXPECT_EQ(cli->state(), status::connected);
  ASSERT_TRUE(cli->send(pattern(3)));
  std::vector<std::byte> got(3);
  ASSERT_TRUE(srv.recv(got));
}

TEST(VchanEndpoint, ConnectorSkipsStaleKeysOfADeadServer) {
  two_domains d;
  auto srv = d.serve();
  // The server crashes: its keys stay in the store (its code never ran close()).
  ASSERT_TRUE(d.host.destroy_domain(server_dom));
  ASSERT_TRUE(d.rdv.lookup(d.path()).has_value());
  auto c = connector::start(*d.cli, d.rdv, d.client_cfg()).value();
  EXPECT_FALSE(c.poll().value().has_value());
  EXPECT_FALSE(c.poll().value().has_value());  // the same stale keys are not tried again
  srv.close();
  EXPECT_TRUE(d.host.check_clean());
}

TEST(VchanEndpoint, ConnectWaitReturnsOnceServerAppears) {
  two_domains d;
  std::optional<endpoint> srv;
  auto early = connect_wait(*d.cli, d.rdv, d.client_cfg(), 10ms);
  EXPECT_EQ(early.error(), errc::timed_out);
  srv = d.serve();
  auto cli = connect_wait(*d.cli, d.rdv, d.client_cfg(), 1000ms);
  ASSERT_TRUE(cli) << cli.error().message();
}

}  // namespace
}  // namespace xenwire::vchan
