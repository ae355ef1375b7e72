// CONTROL live-update in the core: the command is the adapter's (an effect), the requester waits
// for its answer without being read, and export_state carries what a connection had in flight
// (partial input, held input, a partly sent reply, queued events, the live-update answer itself)
// to a fresh core that sends the same bytes and hands the input back.
#include <gtest/gtest.h>

#include <algorithm>

#include <cstring>

#include "core_harness.hpp"
#include "xenwire/xenstore/migration/stream.hpp"

namespace xenwire::xenstore::testing {
namespace {

namespace mig = xenwire::xenstore::migration;
using H = core_harness;

std::string frame(msg_type type, std::uint32_t req_id, std::string_view payload) {
  std::string out;
  (void)encode(out, header{static_cast<std::uint32_t>(type), req_id, 0, 0}, payload);
  return out;
}

std::size_t feed(server_core& core, conn_id c, std::string_view bytes, time_point now) {
  auto r = core.feed(c, std::as_bytes(std::span(bytes.data(), bytes.size())), now);
  EXPECT_TRUE(r);
  return r ? *r : 0;
}

std::string take_output(server_core& core, conn_id c, std::size_t at_most, time_point now) {
  std::string out;
  while (out.size() < at_most) {
    auto o = core.peek_output(c);
    if (o.empty()) break;
    const std::size_t n = std::min(o.size(), at_most - out.size());
    out.append(reinterpret_cast<const char*>(o.data()), n);
    core.consume_output(c, n, now);
  }
  return out;
}

TEST(CoreLiveUpdate, TheAdapterAnswersAndTheRequesterWaitsUnread) {
  core_harness h;
  const conn_id d0 = h.dom0();
  h.send_raw(d0, static_cast<std::uint32_t>(msg_type::control), 7, 0, H::z("live-update") + H::z("-f") + H::z("/bin/x"));
  ASSERT_EQ(h.host().live_updates.size(), 1U);
  const auto lu = h.host().live_updates[0];
  EXPECT_EQ(lu.conn, d0);
  EXPECT_EQ(lu.cmd, effect::live_update::command::binary);
  EXPECT_EQ(lu.value, "/bin/x");
  EXPECT_FALSE(h.try_reply(d0, 7));
  // Meanwhile the connection is not read: a READ sent now is answered after the live-update.
  h.send_raw(d0, static_cast<std::uint32_t>(msg_type::read), 8, 0, H::z("/"));
  EXPECT_FALSE(h.try_reply(d0, 8));
  EXPECT_FALSE(h.core().wants_input(d0, h.now()));
  ASSERT_TRUE(h.core().complete_live_update(lu.token, "OK", h.now()));
  h.pump(d0);
  auto r = h.try_reply(d0, 7);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok());
  EXPECT_TRUE(h.try_reply(d0, 8));
  EXPECT_FALSE(h.core().complete_live_update(lu.token, "OK", h.now())) << "a token answers once";
}

TEST(CoreLiveUpdate, SyntaxIsCheckedAsCDoes) {
  core_harness h;
  const conn_id d0 = h.dom0();
  auto lu = [&](std::vector<std::string> args) {
    std::string payload = H::z("live-update");
    for (auto& a : args) payload += H::z(a);
    return h.request(d0, msg_type::control, payload);
  };
  for (auto bad : std::vector<std::vector<std::string>>{{"-a", "x"}, {"-c"}, {"-f", "a", "b"}, {"-s", "-x"}, {"-s", "-t"},
                                                        {"-b", "100"}, {"-d", "1", "x"}, {"--help"}})
    EXPECT_EQ(lu(bad).error(), "EINVAL") << bad[0];
  EXPECT_TRUE(h.host().live_updates.empty());
  h.send_raw(d0, static_cast<std::uint32_t>(msg_type::control), 50, 0,
             H::z("live-update") + H::z("-s") + H::z("-t") + H::z("12x") + H::z("-F"));
  ASSERT_EQ(h.host().live_updates.size(), 1U);
  const auto& e = h.host().live_updates[0];
  EXPECT_EQ(e.cmd, effect::live_update::command::start);
  EXPECT_EQ(e.timeout, 12U);
  EXPECT_TRUE(e.force);
}

TEST(CoreLiveUpdate, OnlyPrivilegedConnectionsAndATokenDiesWithItsConnection) {
  core_harness h;
  const conn_id g = h.guest(5);
  EXPECT_EQ(h.request(g, msg_type::control, H::z("live-update") + H::z("-a")).error(), "EACCES");
  EXPECT_TRUE(h.host().live_updates.empty());
  EXPECT_EQ(h.request(h.dom0(), msg_type::control, H::z("live-update")).error(), "EINVAL");

  const conn_id other = h.open_socket();
  h.send_raw(other, static_cast<std::uint32_t>(msg_type::control), 1, 0, H::z("live-update") + H::z("-a"));
  ASSERT_EQ(h.host().live_updates.size(), 1U);
  h.core().close(other, h.now());
  EXPECT_FALSE(h.core().complete_live_update(h.host().live_updates[0].token, "OK", h.now()));
  EXPECT_TRUE(h.core().check());
}

TEST(CoreLiveUpdate, OpenTransactionsAreListedWithTheirStart) {
  core_harness h;
  const conn_id d0 = h.dom0();
  const auto t0 = h.now();
  ASSERT_NE(h.start(d0), 0U);
  h.advance(std::chrono::milliseconds(1500));
  ASSERT_TRUE(h.introduce(5).ok());
  const conn_id ring = h.host().rings.at(5);
  ASSERT_NE(h.start(ring), 0U);
  auto open = h.core().open_transactions();
  ASSERT_EQ(open.size(), 2U);
  EXPECT_EQ(open[0].conn, d0);
  EXPECT_EQ(open[0].started, t0);
  EXPECT_EQ(open[1].domid, 5);
  EXPECT_EQ(open[1].started, t0 + std::chrono::milliseconds(1500));
  // Export refuses them unless told to leave them out.
  EXPECT_EQ(h.core().export_state().error(), make_error_code(errc::would_block));
  auto dropped = h.core().export_state({.drop_transactions = true});
  ASSERT_TRUE(dropped) << dropped.error().message();
  for (const auto& r : dropped->records) EXPECT_FALSE(std::holds_alternative<mig::transaction_record>(r));
}

TEST(CoreLiveUpdate, InFlightBytesCrossToAFreshCore) {
  const auto now = clock::now();
  server_core a;
  const conn_id c = a.open({conn_kind::socket, 0, false}, now);
  // Output: two replies and a watch event queued, the first reply partly sent.
  ASSERT_EQ(feed(a, c, frame(msg_type::watch, 1, H::z("/w") + H::z("tok")), now), 16U + 7U);
  ASSERT_EQ(feed(a, c, frame(msg_type::write, 2, H::z("/w/x") + "v"), now), 16U + 6U);
  // The live-update request, answered into the stream.
  ASSERT_EQ(feed(a, c, frame(msg_type::control, 3, H::z("live-update") + H::z("-s")), now), 16U + 15U);
  std::vector<core_effect> effects = a.take_effects();
  live_update_token token = 0;
  for (auto& e : effects)
    if (auto* lu = std::get_if<effect::live_update>(&e)) token = lu->token;
  ASSERT_NE(token, 0U);
  const std::string sent = take_output(a, c, 5, now);  // 5 bytes of the WATCH reply's header
  // Input: half a frame read by the core, more held by the adapter.
  const std::string next = frame(msg_type::read, 4, H::z("/w/x"));
  ASSERT_EQ(feed(a, c, std::string_view(next).substr(0, 10), now), 0U) << "not read while awaiting";

  std::size_t unsent_before = 0;
  {
    auto o = a.peek_output(c);
    unsent_before = o.size();
    ASSERT_GT(unsent_before, 0U);
  }
  auto s = a.export_state({.socket_fd = [](conn_id) { return 9; },
                           .held_input = [&](conn_id) { return std::string_view(next); },
                           .answer = std::make_pair(token, std::string("OK"))});
  ASSERT_TRUE(s) << s.error().message();
  auto bytes = mig::write_stream(*s);
  ASSERT_TRUE(bytes);
  auto back = mig::read_stream(*bytes);
  ASSERT_TRUE(back);

  server_core b;
  auto opened = b.import_state(*back, now);
  ASSERT_TRUE(opened) << opened.error().message();
  ASSERT_EQ(opened->size(), 1U);
  EXPECT_EQ((*opened)[0].unprocessed_input, next);
  const conn_id nc = (*opened)[0].conn;
  ASSERT_TRUE(b.check());
  // What the new core sends completes exactly what the old one had started.
  std::string rest = take_output(b, nc, 1 << 16, now);
  std::string all = sent + rest;
  std::string expect = frame(msg_type::watch, 1, H::z("OK")) + frame(msg_type::watch_event, 0, H::z("/w") + H::z("tok")) +
                       frame(msg_type::watch_event, 0, H::z("/w/x") + H::z("tok")) +
                       frame(msg_type::write, 2, H::z("OK")) + frame(msg_type::control, 3, H::z("OK"));
  EXPECT_EQ(all, expect);
  // The handed-back input is a normal request to the new core.
  ASSERT_EQ(feed(b, nc, (*opened)[0].unprocessed_input, now), next.size());
  EXPECT_EQ(take_output(b, nc, 1 << 16, now), frame(msg_type::read, 4, "v"));
}

TEST(CoreLiveUpdate, AMalformedUnsentOutputIsRefused) {
  mig::stream s{{mig::stream_version::v1, mig::byte_order::little}, {}};
  mig::connection_record c;
  c.spec = mig::socket_spec{5};
  c.unsent_output = std::string(10, 'x');  // shorter than a header
  s.records = {mig::global_record{}, c, mig::node_record{0, 0, 0, {{0, perm::none}}, "/", ""}, mig::end_record{}};
  server_core b;
  EXPECT_FALSE(b.import_state(s, clock::now()));
}

TEST(CoreLiveUpdate, TwoRingsForOneDomainOrAReservedDomidAreRefused) {
  auto stream_with = [](std::vector<mig::ring_spec> rings) {
    mig::stream s{{mig::stream_version::v1, mig::byte_order::little}, {mig::global_record{}}};
    std::uint32_t id = 1;
    for (const auto& r : rings) {
      mig::connection_record c;
      c.conn_id = id++;
      c.spec = r;
      s.records.push_back(c);
    }
    s.records.push_back(mig::node_record{0, 0, 0, {{0, perm::none}}, "/", ""});
    s.records.push_back(mig::end_record{});
    return s;
  };
  server_core ok;
  EXPECT_TRUE(ok.import_state(stream_with({mig::ring_spec{5}, mig::ring_spec{6}}), clock::now()));
  server_core twice;
  EXPECT_FALSE(twice.import_state(stream_with({mig::ring_spec{5}, mig::ring_spec{5}}), clock::now()));
  server_core reserved;
  EXPECT_FALSE(reserved.import_state(stream_with({mig::ring_spec{domid_first_reserved}}), clock::now()));
}

// The stream's store is the store: a ring's domain is introduced without the home a fresh
// introduction makes (C xenstored's own dom0 ring has no /local/domain/0).
TEST(CoreLiveUpdate, ImportedRingsIntroduceTheirDomainsWithoutMakingHomes) {
  mig::stream s{{mig::stream_version::v1, mig::byte_order::little}, {mig::global_record{}}};
  mig::connection_record dom0_ring, guest_ring;
  dom0_ring.conn_id = 1;
  dom0_ring.spec = mig::ring_spec{0};
  guest_ring.conn_id = 2;
  guest_ring.spec = mig::ring_spec{5};
  s.records.push_back(dom0_ring);
  s.records.push_back(guest_ring);
  s.records.push_back(mig::node_record{0, 0, 0, {{0, perm::none}}, "/", ""});
  s.records.push_back(mig::end_record{});
  server_core core;
  ASSERT_TRUE(core.import_state(s, clock::now()));
  auto domains = core.introduced_domains();
  std::sort(domains.begin(), domains.end());
  EXPECT_EQ(domains, (std::vector<domid_t>{0, 5}));
  auto again = core.export_state({.version = mig::stream_version::v1});
  ASSERT_TRUE(again) << again.error().message();
  for (const auto& r : again->records) {
    if (const auto* n = std::get_if<mig::node_record>(&r)) {
      EXPECT_EQ(n->path.rfind("/local", 0), std::string::npos) << n->path;
    }
  }
}

}  // namespace
}  // namespace xenwire::xenstore::testing
