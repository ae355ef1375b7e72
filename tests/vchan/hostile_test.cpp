// Hostile peers: a raw "peer" writes the shared control page directly. Where libxenvchan would read
// "no data" forever, the endpoint enters status::failed with a typed error that every later call
// reports.
#include <gtest/gtest.h>

#include "vchan_test_support.hpp"
#include "xenwire/ring/vchan_placement.hpp"

namespace xenwire::vchan {
namespace {

using namespace testing;
using vchan::interface;

// A connected server facing a raw client that plays by the rules until the test says otherwise.
struct hostile_client : two_domains {
  hostile_client(std::size_t read_min = 1024, std::size_t write_min = 2048) : srv(serve(read_min, write_min)) {
    const keys k = srv.published();
    events = cli->open_event_channel().value();
    port = events->bind_interdomain(server_dom, k.port).value();
    ctl = map_control();
    page = ctl->bytes();
    *at<std::uint8_t>(page, offsetof(interface, cli_live)) = 1;
    EXPECT_EQ(srv.state(), status::connected);
  }
  void expect_failed(std::error_code why) {
    EXPECT_EQ(srv.state(), status::failed);
    EXPECT_EQ(srv.error(), why);
    std::vector<std::byte> buf(8);
    EXPECT_EQ(srv.read(buf).error(), why);
    EXPECT_EQ(srv.write(buf).error(), why);
    EXPECT_EQ(srv.recv(buf).error(), why);
    EXPECT_EQ(srv.send(buf).error(), why);
    EXPECT_FALSE(srv.is_open());
  }
  endpoint srv;
  std::unique_ptr<event_channel> events;
  evtchn_port_t port = 0;
  std::unique_ptr<mapped_pages> ctl;
  std::span<std::byte> page;
};

TEST(VchanHostileClient, ProducerIndexBeyondRing) {
  hostile_client h;
  *at<std::uint32_t>(h.page, offsetof(interface, left) + 4) = 5000;  // left.prod: 5000 > 1024 bytes
  std::vector<std::byte> buf(8);
  EXPECT_EQ(h.srv.read(buf).error(), errc::ring_corrupt);
  // Sticky: putting the index back does not heal it.
  *at<std::uint32_t>(h.page, offsetof(interface, left) + 4) = 0;
  h.expect_failed(errc::ring_corrupt);
}

TEST(VchanHostileClient, ConsumerIndexBeyondWhatWasWritten) {
  hostile_client h;
  *at<std::uint32_t>(h.page, offsetof(interface, right)) = 100;  // right.cons ahead of prod (0)
  EXPECT_EQ(h.srv.write(pattern(4)).error(), errc::ring_corrupt);
  h.expect_failed(errc::ring_corrupt);
}

TEST(VchanHostileClient, BlockingServerDoesNotHangOnCorruptIndex) {
  hostile_client h;
  h.srv.set_io({.mode = io_mode::blocking});
  *at<std::uint32_t>(h.page, offsetof(interface, left) + 4) = 0x80000000u;
  std::vector<std::byte> buf(8);
  EXPECT_EQ(h.srv.read(buf).error(), errc::ring_corrupt);
}

TEST(VchanHostileClient, OrdersChangedAfterSetup) {
  for (std::size_t field : {offsetof(interface, left_order), offsetof(interface, right_order)}) {
    hostile_client h;
    *at<std::uint16_t>(h.page, field) = 12;
    std::vector<std::byte> buf(8);
    EXPECT_EQ(h.srv.read(buf).error(), errc::ring_corrupt);
    h.expect_failed(errc::ring_corrupt);
  }
}

TEST(VchanHostileClient, GrantListRewritten) {
  hostile_client h(65536, 65536);
  *at<std::uint32_t>(h.page, vchan::grants_offset + 4 * 3) ^= 0x10;
  h.expect_failed(errc::protocol_error);
}

TEST(VchanHostileClient, LiveByteOutOfRange) {
  hostile_client h;
  *at<std::uint8_t>(h.page, offsetof(interface, cli_live)) = 9;
  h.expect_failed(errc::protocol_error);
}

TEST(VchanHostileClient, LiveByteGoingBackToNotConnected) {
  hostile_client h;
  *at<std::uint8_t>(h.page, offsetof(interface, cli_live)) = 2;
  h.expect_failed(errc::protocol_error);
}

TEST(VchanHostileClient, ScribbledNotifyBitsOnlyCostSignals) {
  hostile_client h;
  *at<std::uint8_t>(h.page, offsetof(interface, srv_notify)) = 0xff;
  EXPECT_EQ(h.srv.write(pattern(10)).value(), 10u);
  EXPECT_EQ(h.srv.state(), status::connected);
}

TEST(VchanHostileClient, EventChannelClosedWhileLiveByteSaysConnected) {
  hostile_client h;
  h.srv.set_io({.mode = io_mode::blocking});
  ASSERT_TRUE(h.events->unbind(h.port));
  std::vector<std::byte> buf(8);
  EXPECT_EQ(h.srv.read(buf).error(), errc::peer_closed);  // would hang without the port check
}

// A raw server: shares a control page (and ring pages) with contents the test chooses.
struct hostile_server : two_domains {
  hostile_server() {
    events = srv->open_event_channel().value();
    port = events->bind_unbound(client_dom).value();
    ctl = srv->grants().share(client_dom, 1, access::read_write).value();
    page = ctl->bytes();
  }
  void publish() { ASSERT_TRUE(rdv.publish(path(), server_dom, client_dom, {ctl->refs()[0], port})); }
  // A well-formed page with the given plan and refs.
  void init(unsigned left, unsigned right, std::vector<grant_ref_t> refs) {
    auto plan = vchan::plan_rings(left, right).value();
    ASSERT_TRUE(vchan::init_control_page(page, plan, refs));
  }
  result<endpoint> connect_client() { return endpoint::connect(*cli, rdv, client_cfg()); }
  std::unique_ptr<event_channel> events;
  evtchn_port_t port = 0;
  std::unique_ptr<shared_pages> ctl;
  std::span<std::byte> page;
};

TEST(VchanHostileServer, OrdersOutOfRange) {
  for (auto [l, r] : {std::pair<std::uint16_t, std::uint16_t>{9, 11}, {10, 21}, {10, 10}, {11, 11}, {0xffff, 12}}) {
    hostile_server h;
    h.init(10, 11, {});
    *at<std::uint16_t>(h.page, offsetof(interface, left_order)) = l;
    *at<std::uint16_t>(h.page, offsetof(interface, right_order)) = r;
    h.publish();
    auto c = h.connect_client();
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), errc::ring_corrupt) << l << "," << r;
    EXPECT_TRUE(h.host.check_clean(client_dom));
  }
}

TEST(VchanHostileServer, GrantListOverlappingInPageRing) {
  hostile_server h;
  // Left 1 MiB (256 refs: the list ends at 24 + 1024 bytes) with an in-page right ring at 1024.
  h.init(10, 11, {});
  *at<std::uint16_t>(h.page, offsetof(interface, left_order)) = 20;
  *at<std::uint16_t>(h.page, offsetof(interface, right_order)) = 10;
  h.publish();
  EXPECT_EQ(h.connect_client().error(), errc::ring_corrupt);
}

TEST(VchanHostileServer, DuplicateOrSelfReferencingGrants) {
  {
    hostile_server h;
    auto ring = h.srv->grants().share(client_dom, 1, access::read_write).value();
    h.init(12, 12, {ring->refs()[0], ring->refs()[0]});  // both rings on one page
    h.publish();
    EXPECT_EQ(h.connect_client().error(), errc::protocol_error);
  }
  {
    hostile_server h;
    h.init(12, 11, {h.ctl->refs()[0]});  // the write ring is the control page itself
    h.publish();
    EXPECT_EQ(h.connect_client().error(), errc::protocol_error);
  }
}

TEST(VchanHostileServer, UnmappableGrant) {
  hostile_server h;
  h.init(12, 11, {0xdead});
  h.publish();
  EXPECT_EQ(h.connect_client().error(), errc::bad_grant_ref);
  EXPECT_TRUE(h.host.check_clean(client_dom));
}

TEST(VchanHostileServer, PageAlreadyTakenIsStale) {
  hostile_server h;
  h.init(10, 11, {});
  *at<std::uint8_t>(h.page, offsetof(interface, cli_live)) = 1;
  h.publish();
  EXPECT_EQ(h.connect_client().error(), errc::peer_closed);
}

struct connected_hostile_server : hostile_server {
  connected_hostile_server() {
    init(10, 11, {});
    publish();
    auto c = connect_client();
    EXPECT_TRUE(c);
    client.emplace(std::move(*c));
  }
  std::optional<endpoint> client;
};

TEST(VchanHostileServer, IndicesOutOfRangeAfterSetup) {
  connected_hostile_server h;
  *at<std::uint32_t>(h.page, offsetof(interface, right) + 4) = 4097;  // right.prod > 2048
  std::vector<std::byte> buf(8);
  EXPECT_EQ(h.client->read(buf).error(), errc::ring_corrupt);
  EXPECT_EQ(h.client->state(), status::failed);
  EXPECT_EQ(h.client->write(buf).error(), errc::ring_corrupt);
}

TEST(VchanHostileServer, OrdersChangedAfterSetup) {
  connected_hostile_server h;
  *at<std::uint16_t>(h.page, offsetof(interface, right_order)) = 12;
  EXPECT_EQ(h.client->write(pattern(3)).error(), errc::ring_corrupt);
}

TEST(VchanHostileServer, SrvLiveOutOfRange) {
  connected_hostile_server h;
  *at<std::uint8_t>(h.page, offsetof(interface, srv_live)) = 2;
  EXPECT_EQ(h.client->state(), status::failed);
  EXPECT_EQ(h.client->error(), errc::protocol_error);
}

TEST(VchanHostileServer, GrantListRewrittenAfterSetup) {
  hostile_server h;
  auto ring = h.srv->grants().share(client_dom, 1, access::read_write).value();
  h.init(12, 11, {ring->refs()[0]});
  h.publish();
  auto c = h.connect_client().value();
  *at<std::uint32_t>(h.page, vchan::grants_offset) += 1;
  EXPECT_EQ(c.state(), status::failed);
  EXPECT_EQ(c.error(), errc::protocol_error);
}

}  // namespace
}  // namespace xenwire::vchan
