// The rendezvous over a real Xenstore: xenwire's daemon in a thread on temporary sockets; the server
// and client domains talk to it through guest sockets (each acting as its unprivileged domain), dom0
// through the main socket. Checks libxenvchan's keys, permissions and removal, then whole vchans
// (plain, asynchronous connect, persistent server with reconnecting clients) set up through it.
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "vchan_test_support.hpp"
#include "xenwire/vchan/xenstore_rendezvous.hpp"
#include "xenwire/xenstore/daemon/xenstored.hpp"
#include "xenwire/xenstore/path.hpp"

namespace xenwire::vchan {
namespace {

using namespace testing;
using namespace std::chrono_literals;
namespace xs = xenwire::xenstore;

class XenstoreRendezvous : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "xw-vchan-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    xs::daemon_settings s;
    s.socket_path = (dir_ / "socket").string();
    s.stop_on_signals = false;
    for (domid_t d : {server_dom, client_dom, other_dom}) {
      s.guest_sockets.push_back({d, (dir_ / ("guest" + std::to_string(d))).string()});
    }
    auto created = xs::xenstored::create(std::move(s), nullptr, [](xs::log_level, std::string_view) {});
    ASSERT_TRUE(created) << created.error().message();
    daemon_ = std::move(*created);
    thread_ = std::thread([this] { (void)daemon_->run(); });
    dom0_ = open((dir_ / "socket").string());
    // Each guest's home, owned by itself (what the toolstack does).
    for (domid_t d : {server_dom, client_dom, other_dom}) {
      const auto home = xs::domain_home(d);
      ASSERT_TRUE(dom0_.write(home, ""));
      ASSERT_TRUE(dom0_.set_perms(home, {{d, xs::perm::none}}));
    }
    srv_xs_ = open(guest(server_dom));
    cli_xs_ = open(guest(client_dom));
  }
  void TearDown() override {
    srv_xs_.close();
    cli_xs_.close();
    dom0_.close();
    if (thread_.joinable()) {
      daemon_->stop();
      thread_.join();
    }
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string guest(domid_t d) const { return (dir_ / ("guest" + std::to_string(d))).string(); }
  static xs::client open(const std::string& socket) {
    auto conn = xs::connect_unix_socket(socket);
    EXPECT_TRUE(conn) << conn.error().message();
    auto c = xs::client::open(std::move(*conn), {.timeout = 5s});
    EXPECT_TRUE(c);
    return std::move(*c);
  }

  static constexpr domid_t other_dom = 9;
  std::filesystem::path dir_;
  std::unique_ptr<xs::xenstored> daemon_;
  std::thread thread_;
  xs::client dom0_, srv_xs_, cli_xs_;
};

TEST_F(XenstoreRendezvous, KeysPermissionsAndRemovalAsLibxenvchan) {
  two_domains d;
  xenstore_rendezvous srv_rdv(srv_xs_);
  auto srv = endpoint::serve(*d.srv, srv_rdv, d.server_cfg()).value();
  const auto path = d.path();
  EXPECT_EQ(dom0_.read(path + "/ring-ref").value(), std::to_string(srv.published().ring_ref));
  EXPECT_EQ(dom0_.read(path + "/event-channel").value(), std::to_string(srv.published().port));
  const xs::node_perms want{{server_dom, xs::perm::none}, {client_dom, xs::perm::read}};
  EXPECT_EQ(dom0_.get_perms(path + "/ring-ref").value(), want);
  EXPECT_EQ(dom0_.get_perms(path + "/event-channel").value(), want);
  // The client may read the keys; a third domain may not.
  xenstore_rendezvous cli_rdv(cli_xs_);
  EXPECT_EQ(cli_rdv.read(path).value(), srv.published());
  auto other_xs = open(guest(other_dom));
  xenstore_rendezvous other_rdv(other_xs);
  EXPECT_EQ(other_rdv.read(path).error(), errc::permission_denied);
  srv.close();
  EXPECT_FALSE(dom0_.exists(path).value());
  other_xs.close();
}

// Issue 13 (Qubes: leftovers pile up until listing or the node quota fails): closing a server removes
// the directories its rendezvous created once they are empty.
TEST_F(XenstoreRendezvous, CloseRemovesTheEmptyDirectoriesThePublishCreated) {
  two_domains d;
  xenstore_rendezvous srv_rdv(srv_xs_);
  const std::string home = "/local/domain/" + std::to_string(server_dom);
  for (int round = 0; round < 3; ++round) {
    auto srv = endpoint::serve(*d.srv, srv_rdv, d.server_cfg()).value();
    ASSERT_TRUE(dom0_.exists(home + "/data/vchan/" + std::to_string(client_dom)).value());
    srv.close();
    EXPECT_FALSE(dom0_.exists(home + "/data").value()) << round;  // created by the publish: gone
    EXPECT_TRUE(dom0_.exists(home).value());
  }
}

TEST_F(XenstoreRendezvous, CloseKeepsWhatExistedBeforeAndWhatASiblingStillUses) {
  two_domains d;
  const std::string home = "/local/domain/" + std::to_string(server_dom);
  const std::string cli_dir = home + "/data/vchan/" + std::to_string(client_dom);
  // The toolstack's data directory, and an unrelated key beside vchan.
  ASSERT_TRUE(dom0_.write(home + "/data", ""));
  ASSERT_TRUE(dom0_.set_perms(home + "/data", {{server_dom, xs::perm::none}}));
  // Two servers as two processes would run them: one rendezvous each.
  xenstore_rendezvous rdv_a(srv_xs_), rdv_b(srv_xs_);
  auto a = endpoint::serve(*d.srv, rdv_a, [&] { auto c = d.server_cfg(); c.path = d.path("a"); return c; }()).value();
  auto b = endpoint::serve(*d.srv, rdv_b, [&] { auto c = d.server_cfg(); c.path = d.path("b"); return c; }()).value();
  a.close();  // a created .../vchan/<cli>, but b's port is still in it
  EXPECT_FALSE(dom0_.exists(d.path("a")).value());
  EXPECT_EQ(dom0_.directory(cli_dir).value(), std::vector<std::string>{"b"});
  b.close();  // the convention levels go with the last server, whoever created them
  EXPECT_FALSE(dom0_.exists(home + "/data/vchan").value());
  EXPECT_TRUE(dom0_.exists(home + "/data").value());  // existed before: never removed
  EXPECT_EQ(dom0_.get_perms(home + "/data").value(), (xs::node_perms{{server_dom, xs::perm::none}}));
}

TEST_F(XenstoreRendezvous, CloseLeavesAnyOtherPathsParentsAlone) {
  two_domains d;
  const std::string home = "/local/domain/" + std::to_string(server_dom);
  ASSERT_TRUE(dom0_.write(home + "/svc/other", "x"));
  ASSERT_TRUE(dom0_.set_perms(home + "/svc", {{server_dom, xs::perm::none}}));
  xenstore_rendezvous srv_rdv(srv_xs_);
  auto cfg = d.server_cfg();
  cfg.path = home + "/svc/mine/chan";  // not the convention: only what this publish creates may go
  auto srv = endpoint::serve(*d.srv, srv_rdv, cfg).value();
  ASSERT_TRUE(dom0_.rm(home + "/svc/other"));
  srv.close();
  EXPECT_FALSE(dom0_.exists(home + "/svc/mine").value());  // created by the publish
  EXPECT_TRUE(dom0_.exists(home + "/svc").value());        // empty now, but not ours
}

// What the cleanup relies on: listing a directory and removing it in one transaction conflicts with a
// concurrent creation of a child, so a server publishing a sibling never loses its parents.
TEST_F(XenstoreRendezvous, ListThenRemoveInATransactionConflictsWithANewSibling) {
  const std::string dir = "/local/domain/" + std::to_string(server_dom) + "/data/vchan/9";
  ASSERT_TRUE(srv_xs_.mkdir(dir));
  auto tx = srv_xs_.transaction_start().value();
  ASSERT_EQ(srv_xs_.directory(dir, tx).value(), std::vector<std::string>{});
  ASSERT_TRUE(srv_xs_.rm(dir, tx));
  ASSERT_TRUE(dom0_.write(dir + "/other/ring-ref", "8"));  // another server publishes meanwhile
  auto end = srv_xs_.transaction_end(tx, true);
  ASSERT_FALSE(end);
  EXPECT_TRUE(end.error().is(xs::xs_error::eagain));
  EXPECT_EQ(dom0_.read(dir + "/other/ring-ref").value(), "8");
}

TEST_F(XenstoreRendezvous, WholeVchanThroughXenstore) {
  two_domains d;
  xenstore_rendezvous srv_rdv(srv_xs_), cli_rdv(cli_xs_);
  auto srv = endpoint::serve(*d.srv, srv_rdv, d.server_cfg(8192, 65536)).value();
  auto cli = endpoint::connect(*d.cli, cli_rdv, d.client_cfg()).value();
  const auto msg = pattern(5000);
  ASSERT_TRUE(cli.send(msg));
  std::vector<std::byte> got(5000);
  ASSERT_TRUE(srv.recv(got));
  EXPECT_EQ(got, msg);
  cli.close();
  srv.close();
  EXPECT_TRUE(d.host.check_clean());
}

TEST_F(XenstoreRendezvous, AsynchronousConnectWaitsOnAWatch) {
  two_domains d;
  xenstore_rendezvous srv_rdv(srv_xs_), cli_rdv(cli_xs_);
  auto started = connector::start(*d.cli, cli_rdv, d.client_cfg());
  ASSERT_TRUE(started) << started.error().message();
  auto& c = *started;
  ASSERT_GE(c.fd(), 0);  // the watch's fd: an event loop waits on it, no thread blocks
  pollfd p{c.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);  // the watch's registration event
  auto first = c.poll();
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_FALSE(first->has_value());
  EXPECT_EQ(::poll(&p, 1, 0), 0);  // drained: quiet until the server publishes
  auto served = endpoint::serve(*d.srv, srv_rdv, d.server_cfg());
  ASSERT_TRUE(served) << served.error().message();
  std::optional<endpoint> cli;
  for (int i = 0; i < 10 && !cli; ++i) {
    ASSERT_EQ(::poll(&p, 1, 2000), 1);
    auto r = c.poll();
    ASSERT_TRUE(r) << r.error().message();
    if (*r) cli.emplace(std::move(**r));
  }
  ASSERT_TRUE(cli.has_value());
  EXPECT_EQ(cli->state(), status::connected);
}

TEST_F(XenstoreRendezvous, ClientsReconnectToAPersistentServer) {
  two_domains d;
  xenstore_rendezvous srv_rdv(srv_xs_), cli_rdv(cli_xs_);
  auto cfg = d.server_cfg();
  cfg.persistent = true;
  auto srv = endpoint::serve(*d.srv, srv_rdv, cfg).value();
  for (int round = 0; round < 3; ++round) {
    auto cli = connect_wait(*d.cli, cli_rdv, d.client_cfg(), 2000ms);
    ASSERT_TRUE(cli) << round << ": " << cli.error().message();
    const auto msg = pattern(64, static_cast<std::uint32_t>(round));
    ASSERT_TRUE(cli->send(msg));
    std::vector<std::byte> got(64);
    ASSERT_TRUE(srv.recv(got));
    EXPECT_EQ(got, msg);
    cli->close();
    EXPECT_EQ(srv.state(), status::waiting);  // re-armed and re-published
  }
  srv.close();
  EXPECT_FALSE(dom0_.exists(d.path()).value());
  EXPECT_TRUE(d.host.check_clean());
}

}  // namespace
}  // namespace xenwire::vchan
