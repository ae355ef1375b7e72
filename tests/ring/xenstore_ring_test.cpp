#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "ring_test_support.hpp"
#include "xenwire/ring/shared_memory.hpp"
#include "xenwire/ring/xenstore_ring.hpp"

namespace xenwire::xenstore {
namespace {

using ring_test::chunk_size;
using ring_test::start_index;
using ring_test::stream_bytes;

using page = ring_test::test_page<domain_interface>;

std::vector<std::byte> text(const char* s) {
  std::vector<std::byte> v(std::strlen(s));
  std::memcpy(v.data(), s, v.size());
  return v;
}

TEST(XenstoreRing, RejectsShortOrMisalignedPage) {
  page p;
  EXPECT_EQ(guest_ring::attach(p.bytes().first(2000)).error(), errc::invalid_argument);
  EXPECT_EQ(server_ring::attach(p.bytes().subspan(1, 3000), 0).error(), errc::invalid_argument);
}

TEST(XenstoreRing, RequestAndReplyBothWays) {
  page p;
  p.layout().req_cons = p.layout().req_prod = 0xFFFFFFF0u;  // never assume indices start at 0
  p.layout().rsp_cons = p.layout().rsp_prod = 12345;
  auto guest = guest_ring::attach(p.bytes()).value();
  auto server = server_ring::attach(p.bytes(), feature::reconnection | feature::error).value();

  auto req = text("hello xenstore, a request that crosses the u32 wrap");
  auto w = guest.write(req).value();
  EXPECT_EQ(w.bytes, req.size());
  EXPECT_TRUE(w.notify);
  EXPECT_EQ(server.data_available().value(), req.size());
  std::vector<std::byte> in(2000);
  auto r = server.read(in).value();
  ASSERT_EQ(r.bytes, req.size());
  EXPECT_TRUE(r.notify);
  EXPECT_TRUE(std::equal(req.begin(), req.end(), in.begin()));

  auto rsp = text("reply");
  EXPECT_EQ(server.write(rsp).value().bytes, rsp.size());
  std::vector<std::byte> out(3);
  EXPECT_EQ(guest.read(out).value().bytes, 3u);  // partial reads are fine
  EXPECT_EQ(guest.data_available().value(), 2u);
  EXPECT_EQ(p.layout().rsp_cons, 12348u);
}

TEST(XenstoreRing, EmptyReadAsksForNoSignal) {
  page p;
  auto guest = guest_ring::attach(p.bytes()).value();
  std::vector<std::byte> out(8);
  auto r = guest.read(out).value();
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_FALSE(r.notify);
  EXPECT_EQ(guest.space().value(), ring_size);
}

TEST(XenstoreRing, ServerOnlyAddsFeatureBits) {
  page p;
  p.layout().server_features = feature::watch_depth;  // someone set a bit earlier
  auto server = server_ring::attach(p.bytes(), feature::error).value();
  server.advertise(feature::reconnection);
  auto guest = guest_ring::attach(p.bytes()).value();
  EXPECT_EQ(guest.server_features(), feature::watch_depth | feature::error | feature::reconnection);
}

TEST(XenstoreRing, HostileGuestIndicesStopTheServer) {
  page p;
  auto server = server_ring::attach(p.bytes(), feature::error).value();
  auto guest = guest_ring::attach(p.bytes()).value();
  p.layout().req_prod = 5000;  // claims 5000 bytes in a 1024-byte ring
  std::vector<std::byte> in(64);
  EXPECT_EQ(server.read(in).error(), errc::ring_corrupt);
  EXPECT_EQ(server.stopped(), ring_error::ringidx);
  EXPECT_EQ(p.layout().error, static_cast<std::uint32_t>(ring_error::ringidx));
  EXPECT_EQ(server.write(text("x")).error(), errc::ring_corrupt);  // stays stopped
  EXPECT_EQ(p.layout().req_cons, 0u);
  EXPECT_EQ(guest.server_error(), ring_error::ringidx);
  EXPECT_EQ(guest.read(in).error(), errc::ring_corrupt);
}

TEST(XenstoreRing, ServerStopForOversizedFrameIsAProtocolErrorForTheGuest) {
  page p;
  auto server = server_ring::attach(p.bytes(), feature::error).value();
  auto guest = guest_ring::attach(p.bytes()).value();
  server.stop(ring_error::proto);
  EXPECT_EQ(guest.write(text("x")).error(), errc::protocol_error);
  p.layout().error = 77;  // an error value from the future
  EXPECT_EQ(guest.write(text("x")).error(), errc::peer_closed);
}

TEST(XenstoreRing, FirstStopReasonSticks) {
  page p;
  auto server = server_ring::attach(p.bytes(), feature::error).value();
  p.layout().req_prod = 2000;
  std::vector<std::byte> in(8);
  EXPECT_EQ(server.read(in).error(), errc::ring_corrupt);
  server.stop(ring_error::proto);  // a later complaint does not rewrite the reason
  EXPECT_EQ(server.stopped(), ring_error::ringidx);
  EXPECT_EQ(p.layout().error, static_cast<std::uint32_t>(ring_error::ringidx));
  EXPECT_EQ(server.read(in).error(), errc::ring_corrupt);
}

TEST(XenstoreRing, HostileServerIndicesAreStickyForTheGuest) {
  page p;
  auto guest = guest_ring::attach(p.bytes()).value();
  p.layout().rsp_prod = 0x80000000u;
  std::vector<std::byte> out(8);
  EXPECT_EQ(guest.read(out).error(), errc::ring_corrupt);
  p.layout().rsp_prod = 0;
  EXPECT_EQ(guest.data_available().error(), errc::ring_corrupt);
}

TEST(XenstoreRing, ReconnectNeedsTheFeature) {
  page p;
  ASSERT_TRUE(server_ring::attach(p.bytes(), feature::error).has_value());
  auto guest = guest_ring::attach(p.bytes()).value();
  EXPECT_EQ(guest.request_reconnect().error(), errc::not_supported);
  EXPECT_EQ(p.layout().connection, 0u);
}

TEST(XenstoreRing, ReconnectHandshakeResetsTheRing) {
  page p;
  p.layout().req_cons = p.layout().req_prod = 900;
  p.layout().rsp_cons = p.layout().rsp_prod = 77;
  auto server = server_ring::attach(p.bytes(), feature::reconnection | feature::error).value();
  auto guest = guest_ring::attach(p.bytes()).value();
  ASSERT_EQ(guest.write(text("half a packe")).value().bytes, 12u);
  p.layout().rsp_prod = 99999;  // and a broken response index: reconnect recovers from it
  std::vector<std::byte> out(8);
  EXPECT_EQ(guest.read(out).error(), errc::ring_corrupt);
  server.stop(ring_error::ringidx);

  ASSERT_TRUE(guest.request_reconnect().has_value());
  EXPECT_EQ(p.layout().connection, static_cast<std::uint32_t>(connection_state::reconnect));
  EXPECT_FALSE(guest.reconnected());
  EXPECT_EQ(guest.write(text("x")).error(), errc::would_block);  // ignore everything until connected

  EXPECT_TRUE(server.handle_reconnect());
  EXPECT_FALSE(server.handle_reconnect());  // nothing pending any more
  EXPECT_EQ(p.layout().req_cons, 0u);
  EXPECT_EQ(p.layout().req_prod, 0u);
  EXPECT_EQ(p.layout().rsp_cons, 0u);
  EXPECT_EQ(p.layout().rsp_prod, 0u);
  EXPECT_EQ(p.layout().error, 0u);
  EXPECT_EQ(p.layout().connection, 0u);

  EXPECT_TRUE(guest.reconnected());
  auto msg = text("fresh");
  EXPECT_EQ(guest.write(msg).value().bytes, msg.size());
  std::vector<std::byte> in(16);
  ASSERT_EQ(server.read(in).value().bytes, msg.size());
  EXPECT_TRUE(std::equal(msg.begin(), msg.end(), in.begin()));
  EXPECT_EQ(server.write(msg).value().bytes, msg.size());
  EXPECT_EQ(guest.read(in).value().bytes, msg.size());
}

TEST(XenstoreRing, ServerWaitsWhileAReconnectIsPending) {
  page p;
  auto server = server_ring::attach(p.bytes(), feature::reconnection).value();
  p.layout().connection = static_cast<std::uint32_t>(connection_state::reconnect);
  std::vector<std::byte> in(8);
  EXPECT_EQ(server.read(in).error(), errc::would_block);
  auto guest = guest_ring::attach(p.bytes()).value();  // dom0less: found it already set
  EXPECT_EQ(guest.read(in).error(), errc::would_block);
  EXPECT_TRUE(server.handle_reconnect());
  EXPECT_TRUE(guest.reconnected());
  EXPECT_EQ(guest.read(in).value().bytes, 0u);
}

// Both directions, any interleaving of guest and server operations drawn by the generator, indices
// starting anywhere: each direction delivers its stream intact.
RC_GTEST_PROP(XenstoreRingProperty, BothStreamsArriveIntact, ()) {
  page p;
  p.layout().req_cons = p.layout().req_prod = *start_index();
  p.layout().rsp_cons = p.layout().rsp_prod = *start_index();
  auto guest = guest_ring::attach(p.bytes()).value();
  auto server = server_ring::attach(p.bytes(), feature::error).value();
  std::size_t sent[2] = {0, 0};
  std::vector<std::byte> got[2];
  const auto ops = *rc::gen::container<std::vector<std::pair<int, std::size_t>>>(
      rc::gen::pair(rc::gen::inRange(0, 4), chunk_size(ring_size)));
  for (auto [op, len] : ops) {
    const int dir = op / 2;  // 0: requests (guest → server), 1: responses (server → guest)
    if (op % 2 == 0) {
      auto data = stream_bytes(sent[dir], len);
      auto w = dir == 0 ? guest.write(data) : server.write(data);
      RC_ASSERT(w.has_value());
      RC_ASSERT(w->notify == (w->bytes > 0));
      sent[dir] += w->bytes;
    } else {
      std::vector<std::byte> out(len);
      auto r = dir == 0 ? server.read(out) : guest.read(out);
      RC_ASSERT(r.has_value());
      got[dir].insert(got[dir].end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(r->bytes));
    }
  }
  std::vector<std::byte> rest(ring_size);
  auto r0 = server.read(rest).value().bytes;
  got[0].insert(got[0].end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(r0));
  auto r1 = guest.read(rest).value().bytes;
  got[1].insert(got[1].end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(r1));
  RC_ASSERT(got[0] == stream_bytes(0, sent[0]));
  RC_ASSERT(got[1] == stream_bytes(0, sent[1]));
}

// Whatever a hostile guest writes to the whole page between server calls, the server never touches
// memory outside the page, and a ring it cannot trust ends with error = ringidx.
RC_GTEST_PROP(XenstoreRingProperty, ServerSurvivesAnyGuestIndices, ()) {
  page p;
  auto server = server_ring::attach(p.bytes(), feature::error).value();
  const auto steps = *rc::gen::container<std::vector<std::pair<std::uint32_t, std::uint32_t>>>(
      rc::gen::pair(rc::gen::arbitrary<std::uint32_t>(), rc::gen::inRange<std::uint32_t>(0, 2048)));
  for (auto [req_prod, rsp_cons_delta] : steps) {
    const std::uint32_t req_cons = p.layout().req_cons, rsp_prod = p.layout().rsp_prod;
    p.layout().req_prod = req_prod;
    p.layout().rsp_cons = rsp_prod - rsp_cons_delta;
    std::vector<std::byte> buf(ring_size + 1);
    auto r = server.read(buf);
    if (server.stopped() == ring_error::none) {
      RC_ASSERT(r.has_value());
      RC_ASSERT(static_cast<std::uint32_t>(req_prod - req_cons) <= ring_size);
    } else {
      RC_ASSERT(!r.has_value());
    }
    auto w = server.write(buf);
    if (server.stopped() != ring_error::none) {
      RC_ASSERT(!w.has_value());
      RC_ASSERT(p.layout().error == static_cast<std::uint32_t>(ring_error::ringidx));
    } else {
      RC_ASSERT(rsp_cons_delta <= ring_size);
    }
  }
}

}  // namespace
}  // namespace xenwire::xenstore
