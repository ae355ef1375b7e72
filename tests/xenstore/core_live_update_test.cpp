// CONTROL live-update in the core: the command is the adapter's (an effect), the requester waits
// for its answer without being read, and export_state carries what a connection had in flight
// (partial input, held input, a partly sent reply, queued events, the live-update answer itself)
// to a fresh core that sends the same bytes and hands the input back.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>

#include <cstring>
#include <map>

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

// Open transactions cross with keep_transactions: exported, written, read back by the hostile
// reader and imported into a fresh core, where the connection's next requests in them behave as if
// no update had happened.
struct carried {
  std::vector<imported_connection> opened;
  conn_id operator()(conn_id old) const {
    for (const auto& o : opened)
      if (o.stream_id == old) return o.conn;
    return 0;
  }
};

carried carry(core_harness& a, core_harness& b) {
  auto s = a.core().export_state({.socket_fd = [](conn_id c) { return static_cast<std::int32_t>(100 + c); },
                                  .keep_transactions = true});
  EXPECT_TRUE(s) << s.error().message();
  if (!s) return {};
  auto bytes = mig::write_stream(*s);
  EXPECT_TRUE(bytes);
  auto back = mig::read_stream(*bytes);
  EXPECT_TRUE(back) << back.error().message();
  if (!back) return {};
  auto opened = b.core().import_state(*back, b.now());
  EXPECT_TRUE(opened) << opened.error().message();
  EXPECT_TRUE(b.core().check());
  return {opened ? *opened : std::vector<imported_connection>{}};
}

std::vector<mig::node_record> pending_nodes(const mig::stream& s) {
  std::vector<mig::node_record> out;
  for (const auto& r : s.records)
    if (const auto* n = std::get_if<mig::node_record>(&r); n && n->conn_id != 0) out.push_back(*n);
  return out;
}

TEST(CoreLiveUpdate, AnOpenTransactionCrossesAndCommits) {
  core_harness a;
  const conn_id d0 = a.dom0();
  ASSERT_TRUE(a.write(d0, "/base/x", "1").ok());
  ASSERT_TRUE(a.write(d0, "/base/y", "2").ok());
  ASSERT_TRUE(a.write(d0, "/base/z/deep", "3").ok());
  const std::uint32_t tx = a.start(d0);
  ASSERT_NE(tx, 0U);
  EXPECT_EQ(a.read(d0, "/base/x", tx).str(), "1");
  ASSERT_TRUE(a.write(d0, "/base/y", "22", tx).ok());
  ASSERT_TRUE(a.write(d0, "/base/new/leaf", "n", tx).ok());
  ASSERT_TRUE(a.set_perms(d0, "/base/new/leaf", {"n0", "r5"}, tx).ok());
  ASSERT_TRUE(a.rm(d0, "/base/z", tx).ok());
  EXPECT_EQ(a.read(d0, "/base/absent", tx).error(), "ENOENT");

  // The document's pending nodes: written, read, and deletions with neither perms nor value.
  auto s = a.core().export_state({.keep_transactions = true});
  ASSERT_TRUE(s) << s.error().message();
  auto pending = pending_nodes(*s);
  auto find = [&](std::string_view path) -> const mig::node_record* {
    for (const auto& n : pending)
      if (n.path == path) return &n;
    return nullptr;
  };
  ASSERT_TRUE(find("/base/x"));
  EXPECT_EQ(find("/base/x")->access, mig::node_access_read);
  ASSERT_TRUE(find("/base/y"));
  EXPECT_EQ(find("/base/y")->access, mig::node_access_written);
  EXPECT_EQ(find("/base/y")->value, "22");
  ASSERT_TRUE(find("/base/z/deep"));
  EXPECT_EQ(*find("/base/z/deep"), (mig::node_record{d0, tx, 0, {}, "/base/z/deep", ""}));
  ASSERT_TRUE(find("/base/absent"));
  EXPECT_EQ(find("/base/absent")->access, 0);
  EXPECT_FALSE(find("@introduceDomain")) << "not conflicted: no doom marker";

  core_harness b;
  const carried ids = carry(a, b);
  const conn_id c = ids(d0);
  ASSERT_NE(c, 0U);
  // Inside, the transaction's view; outside, the store as it was.
  EXPECT_EQ(b.read(c, "/base/y", tx).str(), "22");
  EXPECT_EQ(b.read(c, "/base/z", tx).error(), "ENOENT");
  EXPECT_EQ(b.read(c, "/base/new/leaf", tx).str(), "n");
  EXPECT_EQ(b.read(c, "/base/y").str(), "2");
  EXPECT_EQ(b.read(c, "/base/z/deep").str(), "3");
  EXPECT_EQ(b.read(c, "/base/new").error(), "ENOENT");
  ASSERT_EQ(b.core().open_transactions().size(), 1U);

  ASSERT_TRUE(b.end(c, tx, true).ok());
  EXPECT_EQ(b.read(c, "/base/x").str(), "1");
  EXPECT_EQ(b.read(c, "/base/y").str(), "22");
  EXPECT_EQ(b.read(c, "/base/z").error(), "ENOENT");
  EXPECT_EQ(b.read(c, "/base/new/leaf").str(), "n");
  EXPECT_EQ(H::split(b.get_perms(c, "/base/new/leaf").payload), (std::vector<std::string>{"n0", "r5"}));
  EXPECT_TRUE(b.core().check());
  EXPECT_TRUE(b.core().open_transactions().empty());
}

TEST(CoreLiveUpdate, ATransactionThatConflictedBeforeTheUpdateStillAnswersEagain) {
  core_harness a;
  const conn_id d0 = a.dom0();
  const conn_id other = a.open_socket();
  ASSERT_TRUE(a.write(d0, "/base/x", "1").ok());
  const std::uint32_t tx = a.start(d0);
  EXPECT_EQ(a.read(d0, "/base/x", tx).str(), "1");
  ASSERT_TRUE(a.write(d0, "/base/y", "w", tx).ok());
  // The same value again: only the node's generation tells that it changed.
  ASSERT_TRUE(a.write(other, "/base/x", "1").ok());
  auto s = a.core().export_state({.keep_transactions = true});
  ASSERT_TRUE(s);
  bool marked = false;
  for (const auto& n : pending_nodes(*s)) marked |= n.path == "@introduceDomain";
  EXPECT_TRUE(marked);

  core_harness b;
  const carried ids = carry(a, b);
  const conn_id c = ids(d0);
  EXPECT_EQ(b.read(c, "/base/y", tx).str(), "w") << "its view is still readable";
  EXPECT_EQ(b.end(c, tx, true).error(), "EAGAIN");
  EXPECT_EQ(b.read(c, "/base/y").error(), "ENOENT");
  EXPECT_TRUE(b.core().check());
}

TEST(CoreLiveUpdate, AWriteAfterTheUpdateConflictsWithACarriedTransaction) {
  core_harness a;
  const conn_id d0 = a.dom0();
  const conn_id other = a.open_socket();
  ASSERT_TRUE(a.write(d0, "/base/x", "1").ok());
  const std::uint32_t tx = a.start(d0);
  EXPECT_EQ(a.read(d0, "/base/x", tx).str(), "1");
  ASSERT_TRUE(a.write(d0, "/base/y", "w", tx).ok());
  core_harness b;
  const carried ids = carry(a, b);
  ASSERT_TRUE(b.write(ids(other), "/base/x", "1").ok());
  EXPECT_EQ(b.end(ids(d0), tx, true).error(), "EAGAIN");
  EXPECT_EQ(b.read(ids(d0), "/base/y").error(), "ENOENT");
}

TEST(CoreLiveUpdate, CarriedTransactionsKeepTheirIdsAndNewOnesGetFreshOnes) {
  core_harness a;
  ASSERT_TRUE(a.introduce(5).ok());
  const conn_id ring = a.host().rings.at(5);
  const conn_id d0 = a.dom0();
  ASSERT_TRUE(a.write(ring, "data/a", "").ok());
  ASSERT_TRUE(a.write(ring, "data/b", "").ok());
  const std::uint32_t t1 = a.start(ring);
  const std::uint32_t t2 = a.start(ring);
  const std::uint32_t t3 = a.start(ring);
  ASSERT_TRUE(a.end(ring, t1, false).ok());
  ASSERT_TRUE(a.write(ring, "data/a", "x", t2).ok());  // relative, created by the guest
  ASSERT_TRUE(a.write(ring, "data/b", "y", t3).ok());
  const std::uint32_t td = a.start(d0);

  core_harness b;
  const carried ids = carry(a, b);
  const conn_id rb = ids(ring);
  ASSERT_NE(rb, 0U);
  // The domain's transaction quota counts the carried ones (C's default: 10).
  EXPECT_EQ(b.core().open_transactions().size(), 3U);
  const std::uint32_t fresh = b.start(rb);
  EXPECT_NE(fresh, 0U);
  EXPECT_NE(fresh, t2);
  EXPECT_NE(fresh, t3);
  EXPECT_GT(fresh, t3);
  EXPECT_NE(b.start(ids(d0)), td);
  ASSERT_TRUE(b.end(rb, t2, true).ok());
  ASSERT_TRUE(b.end(rb, t3, true).ok());
  EXPECT_EQ(b.read(rb, "data/a").str(), "x");
  EXPECT_EQ(H::split(b.get_perms(rb, "data/b").payload), (std::vector<std::string>{"n5"}));
  EXPECT_EQ(b.end(rb, t1, true).error(), "ENOENT") << "an ended transaction is not revived";
  EXPECT_TRUE(b.core().check());
}

TEST(CoreLiveUpdate, ADoomedTransactionImportsEvenWhenItsReplayCannotBeRedone) {
  core_harness a;
  const conn_id d0 = a.dom0();
  ASSERT_TRUE(a.introduce(5).ok());
  const conn_id ring = a.host().rings.at(5);
  ASSERT_TRUE(a.request(d0, msg_type::set_quota, H::z("5") + H::z("transaction-nodes") + H::z("3")).ok());
  ASSERT_TRUE(a.write(ring, "data/big/a", "1").ok());
  const std::uint32_t tx = a.start(ring);
  ASSERT_TRUE(a.rm(ring, "data/big", tx).ok());  // data, data/big, data/big/a: the quota's 3
  // The subtree grows meanwhile: removing it again would touch 5 nodes.
  ASSERT_TRUE(a.write(d0, "/local/domain/5/data/big/b", "2").ok());
  ASSERT_TRUE(a.write(d0, "/local/domain/5/data/big/c", "3").ok());
  core_harness b;
  const carried ids = carry(a, b);
  ASSERT_NE(ids(ring), 0U);
  EXPECT_EQ(b.end(ids(ring), tx, true).error(), "EAGAIN");
  EXPECT_EQ(b.read(ids(d0), "/local/domain/5/data/big/c").str(), "3");
  EXPECT_TRUE(b.core().check());
}

// Every node below `path`: value and perms.
void dump(core_harness& h, conn_id c, const std::string& path, std::map<std::string, std::string>& out) {
  auto r = h.read(c, path);
  if (r.is_error()) return;
  out[path] = r.payload + "|" + h.get_perms(c, path).payload;
  for (const auto& kid : H::split(h.directory(c, path).payload))
    if (!kid.empty()) dump(h, c, path + "/" + kid, out);
}

// Random requests in a transaction, random writes by another connection before the update and
// after it (the same in both cores): the carried transaction commits, or answers EAGAIN, as the
// original would have, to the same store. One exception, on the safe side: a transaction that had
// conflicted before the update stays doomed, while the original may commit if the conflict undid
// itself (a node it found absent was created, then removed again: C compares generations only at
// commit).
RC_GTEST_PROP(CoreLiveUpdate, ACarriedTransactionCommitsAsTheOriginalWould, ()) {
  const std::vector<std::string> paths{"/t/a", "/t/a/b", "/t/c", "/t/c/d", "/t/e", "/t/e/f/g"};
  core_harness a;
  const conn_id d0 = a.dom0();
  const conn_id other = a.open_socket();
  RC_ASSERT(a.write(d0, "/t/a", "1").ok());
  RC_ASSERT(a.write(d0, "/t/c/d", "2").ok());
  auto random_request = [&](core_harness& h, conn_id c, std::uint32_t tx, int kind, std::size_t p, int v) {
    const std::string& path = paths[p % paths.size()];
    switch (kind) {
      case 0: (void)h.write(c, path, std::to_string(v), tx); break;
      case 1: (void)h.rm(c, path, tx); break;
      case 2: (void)h.read(c, path, tx); break;
      case 3: (void)h.mkdir(c, path, tx); break;
      default: (void)h.set_perms(c, path, {"n0", v == 0 ? "r5" : "w6"}, tx); break;
    }
  };
  struct step {
    int kind;
    std::size_t path;
    int value;
  };
  auto steps = [](int most) {
    std::vector<step> out(*rc::gen::inRange<std::size_t>(0, static_cast<std::size_t>(most)));
    for (auto& s : out)
      s = {*rc::gen::inRange(0, 5), *rc::gen::inRange<std::size_t>(0, 6), *rc::gen::inRange(0, 2)};
    return out;
  };
  const std::uint32_t tx = a.start(d0);
  RC_ASSERT(tx != 0U);
  for (const auto& s : steps(10)) random_request(a, d0, tx, s.kind, s.path, s.value);
  for (const auto& s : steps(3)) random_request(a, other, 0, s.kind, s.path, s.value);

  auto exported = a.core().export_state({.keep_transactions = true});
  RC_ASSERT(static_cast<bool>(exported));
  bool doomed = false;
  for (const auto& n : pending_nodes(*exported)) doomed |= n.path == "@introduceDomain";

  core_harness b;
  const carried ids = carry(a, b);
  RC_ASSERT(ids(d0) != 0U);
  for (const auto& s : steps(3)) {
    random_request(a, other, 0, s.kind, s.path, s.value);
    random_request(b, ids(other), 0, s.kind, s.path, s.value);
  }
  const auto was = a.end(d0, tx, true);
  const auto now = b.end(ids(d0), tx, true);
  std::map<std::string, std::string> da, db;
  dump(a, d0, "/t", da);
  dump(b, ids(d0), "/t", db);
  if (doomed) {
    RC_ASSERT(now.error() == "EAGAIN");
    if (!was.is_error()) return;  // the conflict undid itself in the original
  }
  RC_ASSERT(was.is_error() == now.is_error());
  RC_ASSERT(was.error() == now.error());
  RC_ASSERT(da == db);
  RC_ASSERT(static_cast<bool>(b.core().check()));
}

}  // namespace
}  // namespace xenwire::xenstore::testing
