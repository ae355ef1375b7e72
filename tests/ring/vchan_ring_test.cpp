#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "ring_test_support.hpp"
#include "xenwire/ring/vchan_placement.hpp"
#include "xenwire/ring/vchan_ring.hpp"

namespace xenwire::vchan {
namespace {

using ring_test::chunk_size;
using ring_test::stream_bytes;

using page = ring_test::test_page<interface>;

TEST(VchanPlacement, InPageRingsSitWhereLibxenvchanPutsThem) {
  auto plan = plan_rings(10, 11).value();
  EXPECT_TRUE(plan.left.in_page());
  EXPECT_EQ(plan.left.page_offset, 1024u);
  EXPECT_EQ(plan.left.bytes(), 1024u);
  EXPECT_EQ(plan.right.page_offset, 2048u);
  EXPECT_EQ(plan.right.bytes(), 2048u);
  EXPECT_EQ(plan.grant_count(), 0u);
}

TEST(VchanPlacement, GrantedRingsListLeftThenRight) {
  auto plan = plan_rings(13, 12).value();
  EXPECT_EQ(plan.left.first_grant, 0u);
  EXPECT_EQ(plan.left.grant_count, 2u);
  EXPECT_EQ(plan.right.first_grant, 2u);
  EXPECT_EQ(plan.right.grant_count, 1u);
  auto mixed = plan_rings(16, 11).value();
  EXPECT_EQ(mixed.left.grant_count, 16u);
  EXPECT_TRUE(mixed.right.in_page());
  EXPECT_EQ(plan_rings(20, 20).value().grant_count(), 512u);
}

TEST(VchanPlacement, RejectsPagesThatCannotBeHonest) {
  EXPECT_EQ(plan_rings(9, 12).error(), errc::ring_corrupt);
  EXPECT_EQ(plan_rings(12, 21).error(), errc::ring_corrupt);
  EXPECT_EQ(plan_rings(10, 10).error(), errc::ring_corrupt);  // same in-page bytes
  EXPECT_EQ(plan_rings(11, 11).error(), errc::ring_corrupt);
  EXPECT_EQ(plan_rings(20, 10).error(), errc::ring_corrupt);  // 256 refs run into the ring at 1024
  EXPECT_TRUE(plan_rings(19, 10).has_value());                // 128 refs end at 536
  EXPECT_TRUE(plan_rings(20, 11).has_value());
}

TEST(VchanPlacement, ServerSizingMatchesLibxenvchan) {
  auto orders = [](std::size_t l, std::size_t r) {
    auto p = server_plan(l, r).value();
    return std::pair{p.left.order, p.right.order};
  };
  EXPECT_EQ(orders(1024, 2048), (std::pair{10u, 11u}));
  EXPECT_EQ(orders(1, 1), (std::pair{10u, 11u}));
  EXPECT_EQ(orders(2048, 1024), (std::pair{11u, 10u}));
  EXPECT_EQ(orders(2048, 65536), (std::pair{11u, 16u}));
  EXPECT_EQ(orders(1024, 65536), (std::pair{11u, 16u}));  // 11, never 10: the grant list needs room
  EXPECT_EQ(orders(65536, 1000), (std::pair{16u, 11u}));
  EXPECT_EQ(orders(4097, 1u << 20), (std::pair{13u, 20u}));
  EXPECT_EQ(server_plan(1u << 21, 1).error(), errc::invalid_argument);
}

TEST(VchanPlacement, InitAndReadBack) {
  page p;
  auto plan = server_plan(8192, 1024).value();  // 13 (2 grants) + 11 in-page
  std::vector<grant_ref_t> refs{77, 78};
  ASSERT_TRUE(init_control_page(p.bytes(), plan, refs).has_value());
  EXPECT_EQ(p.layout().left_order, 13);
  EXPECT_EQ(p.layout().right_order, 11);
  EXPECT_EQ(p.layout().cli_live, 2);
  EXPECT_EQ(p.layout().srv_live, 1);
  EXPECT_EQ(p.layout().cli_notify, notify_write);
  auto peer = read_plan(p.bytes()).value();
  EXPECT_EQ(read_grants(p.bytes(), peer.left), refs);
  EXPECT_TRUE(read_grants(p.bytes(), peer.right).empty());
  EXPECT_EQ(in_page_ring(p.bytes(), peer.right).data(), p.mem + 2048);
  EXPECT_TRUE(in_page_ring(p.bytes(), peer.left).empty());
  EXPECT_EQ(init_control_page(p.bytes(), plan, std::span(refs).first(1)).error(), errc::invalid_argument);
}

// Any orders a hostile peer writes: either rejected, or a plan whose rings and grant list fit the page
// and do not overlap.
RC_GTEST_PROP(VchanPlacementProperty, AcceptedPlansNeverOverlap, (std::uint16_t left, std::uint16_t right)) {
  page p;
  p.layout().left_order = *rc::gen::oneOf(rc::gen::just(left), rc::gen::inRange<std::uint16_t>(8, 23));
  p.layout().right_order = *rc::gen::oneOf(rc::gen::just(right), rc::gen::inRange<std::uint16_t>(8, 23));
  auto plan = read_plan(p.bytes());
  if (!plan) return;
  const std::size_t grants_end = grants_offset + plan->grant_count() * sizeof(grant_ref_t);
  RC_ASSERT(grants_end <= page_size);
  for (const ring_place* r : {&plan->left, &plan->right}) {
    RC_ASSERT(r->order >= min_order && r->order <= max_order);
    if (r->in_page()) {
      RC_ASSERT(r->page_offset >= grants_end);
      RC_ASSERT(r->page_offset + r->bytes() <= page_size);
    } else {
      RC_ASSERT(r->grant_count == ring_pages(r->order));
    }
  }
  if (plan->left.in_page() && plan->right.in_page()) {
    RC_ASSERT(plan->left.page_offset != plan->right.page_offset);
    const auto& lo = plan->left.page_offset < plan->right.page_offset ? plan->left : plan->right;
    const auto& hi = &lo == &plan->left ? plan->right : plan->left;
    RC_ASSERT(lo.page_offset + lo.bytes() <= hi.page_offset);
  }
}

// A server and a client over in-page rings (left 1024, right 2048), as libxenvchan sets them up.
struct channel {
  channel() {
    plan = server_plan(1024, 2048).value();
    ring_test::must(init_control_page(p.bytes(), plan, {}));
    const ring_data rings{in_page_ring(p.bytes(), plan.left), in_page_ring(p.bytes(), plan.right)};
    server = std::make_unique<stream>(stream::attach(role::server, p.bytes(), rings).value());
    client = std::make_unique<stream>(stream::attach(role::client, p.bytes(), rings).value());
  }
  page p;
  page_plan plan;
  std::unique_ptr<stream> server, client;
};

TEST(VchanStream, OneMappingFromRolesToRings) {
  static_assert(peer_of(role::server) == role::client && peer_of(role::client) == role::server);
  const int left = 0, right = 1;
  EXPECT_EQ(&read_side(role::server, left, right), &left);
  EXPECT_EQ(&write_side(role::server, left, right), &right);
  EXPECT_EQ(&read_side(role::client, left, right), &right);
  EXPECT_EQ(&write_side(role::client, left, right), &left);
}

TEST(VchanStream, AttachPicksEachRolesRingsItself) {
  channel ch;
  EXPECT_EQ(ch.server->reader().size(), 1024u);  // left
  EXPECT_EQ(ch.server->writer().size(), 2048u);  // right
  EXPECT_EQ(ch.client->reader().size(), 2048u);
  EXPECT_EQ(ch.client->writer().size(), 1024u);
  // The client's bytes land in the left ring's data and index, the server's in the right's.
  auto msg = stream_bytes(0, 3);
  ASSERT_EQ(ch.client->write(msg).value().bytes, 3u);
  EXPECT_EQ(ch.p.layout().left.prod, 3u);
  EXPECT_TRUE(std::equal(msg.begin(), msg.end(), ch.p.mem + ch.plan.left.page_offset));
  ASSERT_EQ(ch.server->write(msg).value().bytes, 3u);
  EXPECT_EQ(ch.p.layout().right.prod, 3u);
  EXPECT_TRUE(std::equal(msg.begin(), msg.end(), ch.p.mem + ch.plan.right.page_offset));
}

TEST(VchanStream, ClientToServerAndBack) {
  channel ch;
  auto msg = stream_bytes(0, 300);
  auto w = ch.client->write(msg).value();
  EXPECT_EQ(w.bytes, 300u);
  EXPECT_TRUE(w.notify);  // the server asked at init (cli_notify = write)
  EXPECT_EQ(ch.p.layout().cli_notify, 0);
  EXPECT_FALSE(ch.client->write(msg).value().notify);  // nobody asked again
  EXPECT_EQ(ch.p.layout().left.prod, 600u);

  std::vector<std::byte> in(300);
  auto r = ch.server->read(in).value();
  EXPECT_EQ(r.bytes, 300u);
  EXPECT_FALSE(r.notify);  // the client never asked to hear about reads
  EXPECT_EQ(in, msg);

  auto back = stream_bytes(5, 2048);
  EXPECT_EQ(ch.server->write(back).value().bytes, 2048u);  // right ring is 2048
  std::vector<std::byte> out(2048);
  EXPECT_EQ(ch.client->read(out).value().bytes, 2048u);
  EXPECT_EQ(out, back);
}

TEST(VchanStream, ShortReadRequestsAWakeOnTheNextWrite) {
  channel ch;
  ch.p.layout().cli_notify = 0;
  std::vector<std::byte> out(10);
  EXPECT_EQ(ch.server->read(out).value().bytes, 0u);
  EXPECT_EQ(ch.p.layout().cli_notify, notify_write);  // server asks the client, in the client's byte
  EXPECT_EQ(ch.p.layout().srv_notify, 0);
  EXPECT_TRUE(ch.client->write(stream_bytes(0, 4)).value().notify);
  EXPECT_EQ(ch.p.layout().cli_notify, 0);
}

TEST(VchanStream, FullRingRequestsAWakeOnTheNextRead) {
  channel ch;
  auto big = stream_bytes(0, 1500);
  auto w = ch.client->write(big).value();
  EXPECT_EQ(w.bytes, 1024u);  // left ring holds 1024
  EXPECT_EQ(ch.p.layout().srv_notify & notify_read, notify_read);
  std::vector<std::byte> in(100);
  auto r = ch.server->read(in).value();
  EXPECT_TRUE(r.notify);
  EXPECT_EQ(ch.p.layout().srv_notify & notify_read, 0);
  EXPECT_EQ(ch.client->buffer_space().value(), 100u);
}

TEST(VchanStream, LiveStates) {
  channel ch;
  EXPECT_EQ(ch.server->peer_live(), live::not_yet_connected);
  EXPECT_TRUE(ch.server->peer_open());
  EXPECT_EQ(ch.client->peer_live(), live::connected);
  ch.client->set_live(live::connected);
  EXPECT_EQ(ch.p.layout().cli_live, 1);
  ch.server->set_live(live::closed);
  EXPECT_FALSE(ch.client->peer_open());
}

TEST(VchanStream, HostileIndicesAreReportedNotAHang) {
  channel ch;
  ch.p.layout().right.prod = 4096;  // claims more than the 2048-byte ring
  std::vector<std::byte> out(16);
  EXPECT_EQ(ch.client->read(out).error(), errc::ring_corrupt);
  EXPECT_EQ(ch.client->data_ready().error(), errc::ring_corrupt);
  ch.p.layout().left.cons = 1;  // consumed a byte nobody wrote
  EXPECT_EQ(ch.client->write(stream_bytes(0, 1)).error(), errc::ring_corrupt);
}

TEST(VchanStream, RejectsWrongRingSizes) {
  page p;
  std::vector<std::byte> odd(1000);
  EXPECT_EQ(stream::attach(role::server, p.bytes(), {odd, p.bytes().subspan(2048, 2048)}).error(),
            errc::invalid_argument);
  EXPECT_EQ(stream::attach(role::server, p.bytes().first(100), ring_data{}).error(), errc::invalid_argument);
}

TEST(VchanStream, QuietPathNeverAsksForASignal) {
  channel ch;
  ch.p.layout().cli_notify = 0;
  std::vector<std::byte> out(10);
  auto r = ch.server->read_some(out).value();
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_FALSE(r.notify);
  EXPECT_EQ(ch.p.layout().cli_notify, 0);  // read() would have set notify_write here
  auto w = ch.client->write_some(stream_bytes(0, 1500)).value();
  EXPECT_EQ(w.bytes, 1024u);  // short: the left ring holds 1024
  EXPECT_FALSE(w.notify);
  EXPECT_EQ(ch.p.layout().srv_notify, 0);  // write() would have set notify_read here
  auto sent = ch.client->stage(stream_bytes(0, 1)).value();
  EXPECT_EQ(sent, 0u);
  EXPECT_EQ(ch.p.layout().srv_notify, 0);
}

TEST(VchanStream, QuietPathSignalsOnlyWhenAskedAndClearsOnlyItsBit) {
  channel ch;  // the server asked for the client's first write at init (cli_notify = write)
  ch.p.layout().cli_notify = notify_write | notify_read;
  auto w = ch.client->write_some(stream_bytes(0, 100)).value();
  EXPECT_EQ(w.bytes, 100u);
  EXPECT_TRUE(w.notify);
  EXPECT_EQ(ch.p.layout().cli_notify, notify_read);  // the read request stays for a read
  EXPECT_FALSE(ch.client->write_some(stream_bytes(100, 10)).value().notify);
  std::vector<std::byte> in(60);
  auto r = ch.server->read_some(in).value();
  EXPECT_EQ(r.bytes, 60u);
  EXPECT_FALSE(r.notify);  // the client asked nothing of the server
  EXPECT_EQ(in, stream_bytes(0, 60));
  ch.client->request_notify(notify_read);  // a client about to sleep on a full ring
  EXPECT_EQ(ch.p.layout().srv_notify, notify_read);
  r = ch.server->read_some(in).value();
  EXPECT_TRUE(r.notify);
  EXPECT_EQ(ch.p.layout().srv_notify, 0);
}

TEST(VchanStream, StagedBytesStayUnseenUntilCommitted) {
  channel ch;
  ASSERT_EQ(ch.client->stage(stream_bytes(0, 100)).value(), 100u);
  EXPECT_EQ(ch.p.layout().left.prod, 0u);
  EXPECT_EQ(ch.server->data_ready().value(), 0u);
  EXPECT_EQ(ch.p.layout().cli_notify, notify_write);  // staging takes no request either
  ASSERT_EQ(ch.client->stage(stream_bytes(500, 80)).value(), 80u);  // copies over the first
  auto none = ch.client->commit(0);
  EXPECT_EQ(none.bytes, 0u);
  EXPECT_FALSE(none.notify);
  EXPECT_EQ(ch.p.layout().cli_notify, notify_write);
  auto c = ch.client->commit(60);
  EXPECT_EQ(c.bytes, 60u);
  EXPECT_TRUE(c.notify);  // the server's request from init
  EXPECT_EQ(ch.p.layout().left.prod, 60u);
  std::vector<std::byte> in(100);
  EXPECT_EQ(ch.server->read_some(in).value().bytes, 60u);
  EXPECT_TRUE(std::equal(in.begin(), in.begin() + 60, stream_bytes(500, 60).begin()));
}

TEST(VchanStream, QuietPathReportsHostileIndices) {
  channel ch;
  ch.p.layout().right.prod = 4096;  // claims more than the 2048-byte ring
  std::vector<std::byte> out(16);
  EXPECT_EQ(ch.client->read_some(out).error(), errc::ring_corrupt);
  ch.p.layout().right.prod = 0;
  EXPECT_EQ(ch.client->read_some(out).error(), errc::ring_corrupt);  // sticky
  ch.p.layout().left.cons = 1;  // consumed a byte nobody wrote
  EXPECT_EQ(ch.client->stage(stream_bytes(0, 1)).error(), errc::ring_corrupt);
  EXPECT_EQ(ch.client->write_some(stream_bytes(0, 1)).error(), errc::ring_corrupt);
  EXPECT_EQ(ch.p.layout().left.prod, 0u);
}

// The quiet path with its caller's waiting (vchan::endpoint's): a side that moved nothing asks for
// a signal, looks again and sleeps only if there is still nothing. Any interleaving on one
// direction: the stream arrives intact, a sleeper is always signalled by the peer's next transfer,
// and the two sides never sleep at once.
RC_GTEST_PROP(VchanStreamProperty, QuietPathIntactAndWakesEverySleeper, ()) {
  channel ch;
  const bool client_writes = *rc::gen::arbitrary<bool>();
  stream& writer = client_writes ? *ch.client : *ch.server;
  stream& reader = client_writes ? *ch.server : *ch.client;
  const std::size_t size = client_writes ? 1024 : 2048;
  const auto ops = *rc::gen::container<std::vector<std::pair<bool, std::size_t>>>(
      rc::gen::pair(rc::gen::arbitrary<bool>(), chunk_size(size)));
  std::size_t sent = 0;
  std::vector<std::byte> got;
  bool reader_sleeps = false, writer_sleeps = false;
  for (auto [is_write, len] : ops) {
    if (is_write && !writer_sleeps) {
      const auto staged = writer.stage(stream_bytes(sent, len)).value();
      const auto w = writer.commit(staged);
      sent += w.bytes;
      if (w.bytes > 0 && reader_sleeps) {
        RC_ASSERT(w.notify);
        reader_sleeps = false;
      }
      if (w.bytes == 0 && len > 0) {
        writer.request_notify(notify_read);
        writer_sleeps = writer.buffer_space().value() == 0;
      }
    } else if (!is_write && !reader_sleeps) {
      std::vector<std::byte> out(len);
      const auto r = reader.read_some(out).value();
      got.insert(got.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(r.bytes));
      if (r.bytes > 0 && writer_sleeps) {
        RC_ASSERT(r.notify);
        writer_sleeps = false;
      }
      if (r.bytes == 0 && len > 0) {
        reader.request_notify(notify_write);
        reader_sleeps = reader.data_ready().value() == 0;
      }
    }
    RC_ASSERT(!(reader_sleeps && writer_sleeps));
  }
  std::vector<std::byte> rest(size);
  auto r = reader.read_some(rest).value();
  got.insert(got.end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(r.bytes));
  RC_ASSERT(got == stream_bytes(0, sent));
}

// Any interleaving on one direction: the stream arrives intact, and a side that came up short (and so
// asked for a wake-up) is always signalled by the peer's next transfer: no lost wake-ups.
RC_GTEST_PROP(VchanStreamProperty, StreamIntactAndNoLostWakeups, ()) {
  channel ch;
  const bool client_writes = *rc::gen::arbitrary<bool>();
  stream& writer = client_writes ? *ch.client : *ch.server;
  stream& reader = client_writes ? *ch.server : *ch.client;
  const std::size_t size = client_writes ? 1024 : 2048;
  const auto ops = *rc::gen::container<std::vector<std::pair<bool, std::size_t>>>(
      rc::gen::pair(rc::gen::arbitrary<bool>(), chunk_size(size)));
  std::size_t sent = 0;
  std::vector<std::byte> got;
  bool reader_waits = false, writer_waits = false;
  for (auto [is_write, len] : ops) {
    if (is_write) {
      auto w = writer.write(stream_bytes(sent, len)).value();
      if (w.bytes > 0 && reader_waits) {
        RC_ASSERT(w.notify);
        reader_waits = false;
      }
      if (w.bytes < len) writer_waits = true;
      sent += w.bytes;
    } else {
      std::vector<std::byte> out(len);
      auto r = reader.read(out).value();
      if (r.bytes > 0 && writer_waits) {
        RC_ASSERT(r.notify);
        writer_waits = false;
      }
      if (r.bytes < len) reader_waits = true;
      got.insert(got.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(r.bytes));
    }
  }
  std::vector<std::byte> rest(size);
  auto r = reader.read(rest).value();
  got.insert(got.end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(r.bytes));
  RC_ASSERT(got == stream_bytes(0, sent));
}

}  // namespace
}  // namespace xenwire::vchan
