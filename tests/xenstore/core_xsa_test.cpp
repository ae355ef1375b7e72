// One regression test per server-side Xenstore security advisory class (protocol notes, section 7).
// Each ends with the core's consistency check (fixture TearDown).
#include "core_fixture.hpp"

namespace xenwire::xenstore::testing {
namespace {

using H = core_harness;
using Xsa = CoreTest;

std::string raw_header(std::uint32_t type, std::uint32_t req, std::uint32_t tx, std::uint32_t len) {
  std::string s(header_size, '\0');
  header hd{type, req, tx, len};
  std::memcpy(s.data(), &hd, sizeof hd);
  return s;
}

// Counts nodes under `path` (itself included) by walking with DIRECTORY as dom0.
long long count_nodes(core_harness& h, const std::string& path) {
  long long n = 0;
  std::vector<std::string> todo{path};
  while (!todo.empty()) {
    std::string p = todo.back();
    todo.pop_back();
    auto r = h.directory(h.dom0(), p);
    if (r.is_error()) continue;
    ++n;
    for (auto& c : H::split(r.payload))
      if (!c.empty()) todo.push_back(p == "/" ? "/" + c : p + "/" + c);
  }
  return n;
}

TEST_F(Xsa, Xsa38_72_OversizedFramesDropTheConnectionWithoutCrashing) {
  auto d0 = h.dom0();
  h.write(d0, "/still", "here");
  ASSERT_TRUE(h.introduce(5).ok());
  auto ring = h.host().rings[5];
  h.take_drops();
  for (std::uint32_t len : {4097u, 65536u, 0xFFFFFFFFu}) {
    auto victim = h.open_socket();
    std::string f = raw_header(static_cast<std::uint32_t>(msg_type::write), 1, 0, len);
    auto r = core().feed(victim, std::as_bytes(std::span(f.data(), f.size())), h.now());
    EXPECT_FALSE(r) << len;
    auto drops = h.take_drops();
    ASSERT_EQ(drops.size(), 1u);
    EXPECT_EQ(drops[0], (std::pair<conn_id, drop_reason>{victim, drop_reason::protocol_error}));
    // Further input on a dropping connection is ignored, not parsed.
    std::string ok = frame_of(msg_type::read, H::z("/still"), 2);
    (void)core().feed(victim, std::as_bytes(std::span(ok.data(), ok.size())), h.now());
    EXPECT_FALSE(core().wants_input(victim, h.now()));
    core().close(victim, h.now());
  }
  // A guest ring too; the payload limit is exactly 4096.
  std::string f = raw_header(static_cast<std::uint32_t>(msg_type::read), 1, 0, 4097);
  EXPECT_FALSE(core().feed(ring, std::as_bytes(std::span(f.data(), f.size())), h.now()));
  EXPECT_EQ(h.take_drops().size(), 1u);
  auto g = h.guest(6);
  std::string max_ok = H::z("x") + std::string(4094, 'v');
  ASSERT_EQ(max_ok.size(), 4096u);
  EXPECT_EQ(h.request(g, msg_type::write, max_ok).error(), "ENOSPC");  // node-size, but parsed fine
  EXPECT_TRUE(h.protocol_errors().empty());
  EXPECT_EQ(h.read(d0, "/still").payload, "here");
}

TEST_F(Xsa, Xsa115_WatchEventsNeverLeakUnreadableNodes) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  // Xen 4.22 lets every domain read @releaseDomain by default: restrict it to dom0 again, as before 4.22.
  ASSERT_TRUE(h.set_perms(d0, "@releaseDomain", {"n0"}).ok());
  h.write(d0, "/vm/uuid/secret", "s");
  h.watch(g, "/", "all");
  h.watch(g, "/vm", "vm");
  h.watch(g, "/vm/uuid/secret", "exact");
  h.watch(g, "@introduceDomain", "in");
  h.watch(g, "@releaseDomain", "out");
  // A transaction id on WATCH is ignored, not honoured (it would hide the watch in a transaction).
  auto tx = h.start(g);
  EXPECT_TRUE(h.request(g, msg_type::watch, H::z("/vm/other") + H::z("tx"), tx).ok());
  h.end(g, tx, false);
  ev(g);
  h.write(d0, "/vm/uuid/secret", "s2");
  h.write(d0, "/vm/other", "o");
  h.set_perms(d0, "/vm/uuid/secret", {"n0", "r6"});
  h.rm(d0, "/vm");
  h.introduce(9);
  h.release(9);
  EXPECT_EQ(ev(g), EV{});
  EXPECT_EQ(core().stats().watch_events > 0, true);
}

TEST_F(Xsa, Xsa206_WriteFloodSlowsOnlyTheFlooder) {
  auto g5 = h.guest(5);
  auto g6 = h.guest(6);
  std::string flood;
  for (int i = 0; i < 100; ++i) flood += frame_of(msg_type::write, wpayload("f", std::to_string(i)), 1);
  auto fed = core().feed(g5, std::as_bytes(std::span(flood.data(), flood.size())), h.now());
  ASSERT_TRUE(fed);
  h.drain(g5);
  EXPECT_LT(*fed, flood.size());
  EXPECT_FALSE(core().wants_input(g5, h.now()));
  // The other guest and dom0 are unaffected.
  EXPECT_TRUE(core().wants_input(g6, h.now()));
  EXPECT_TRUE(h.write(g6, "x", "1").ok());
  EXPECT_TRUE(h.write(h.dom0(), "/y", "1").ok());
  // Over time the flooder gets through, at the configured rate.
  std::size_t done = *fed;
  for (int step = 0; step < 100 && done < flood.size(); ++step) {
    h.advance(std::chrono::milliseconds(100));
    auto more = core().feed(g5, std::as_bytes(std::span(flood.data() + done, flood.size() - done)), h.now());
    ASSERT_TRUE(more);
    done += *more;
    h.drain(g5);
  }
  EXPECT_EQ(done, flood.size());
}

TEST_F(Xsa, Xsa272_QuotasAreNeverSkipped) {
  auto g = h.guest(5);
  ASSERT_TRUE(set_quota(5, "nodes", 5).ok());
  // One WRITE that would create many parents at once.
  EXPECT_EQ(h.write(g, "a/b/c/d/e/f", "").error(), "ENOSPC");
  EXPECT_EQ(h.read(g, "a").error(), "ENOENT");
  // Nor through a transaction's commit.
  auto tx = h.start(g);
  h.write(g, "t1", "", tx);
  h.write(g, "t2", "", tx);
  auto tx2 = h.start(g);
  h.write(g, "u1", "", tx2);
  h.write(g, "u2", "", tx2);
  h.write(g, "u3", "", tx2);
  EXPECT_TRUE(h.end(g, tx, true).ok());
  EXPECT_EQ(h.end(g, tx2, true).error(), "ENOSPC");
  EXPECT_LE(usage(5, "nodes"), 5);
  // Nor through mkdir.
  EXPECT_TRUE(h.mkdir(g, "m1").ok());
  EXPECT_TRUE(h.mkdir(g, "m2").ok());
  EXPECT_EQ(h.mkdir(g, "m3").error(), "ENOSPC");
  EXPECT_EQ(usage(5, "nodes"), 5);
}

TEST_F(Xsa, Xsa322_417_483_ReusedDomidSeesNothingOfTheOldDomain) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  auto old = h.host().rings[5];
  h.write(old, "data/secret", "old");
  h.write(d0, "/vm/5", "");
  h.set_perms(d0, "/vm/5", {"n5"});
  h.write(d0, "/shared", "s");
  h.set_perms(d0, "/shared", {"n0", "b5"});
  h.watch(old, "/shared", "oldwatch");
  h.start(old);
  ASSERT_TRUE(set_quota(5, "nodes", 7).ok());
  ASSERT_TRUE(set_quota(5, "watches", 1).ok());
  ASSERT_TRUE(h.release(5).ok());
  h.take_drops();
  core().close(old, h.now());

  ASSERT_TRUE(h.introduce(5).ok());
  auto fresh = h.host().rings[5];
  ASSERT_NE(fresh, old);
  EXPECT_EQ(h.read(fresh, "data/secret").error(), "ENOENT");
  EXPECT_EQ(h.read(d0, "/vm/5").error(), "ENOENT");
  EXPECT_EQ(h.read(fresh, "/shared").error(), "EACCES");
  EXPECT_EQ(h.get_perms(d0, "/shared").payload, std::string("n0\0", 3));
  EXPECT_EQ(usage(5, "nodes"), 1);  // only the fresh home
  EXPECT_EQ(usage(5, "watches"), 0);
  EXPECT_EQ(usage(5, "transactions"), 0);
  EXPECT_EQ(usage(5, "outstanding"), 0);
  EXPECT_EQ(get_quota(5, "nodes").str(), get_quota("nodes").str());
  EXPECT_EQ(get_quota(5, "watches").str(), get_quota("watches").str());
  EXPECT_TRUE(h.watch(fresh, "a", "1").ok());
  EXPECT_TRUE(h.watch(fresh, "b", "2").ok());
  ev(fresh);
  h.write(d0, "/shared", "again");
  EXPECT_EQ(ev(fresh), EV{});
}

TEST_F(Xsa, Xsa323_PathLengthIsCheckedAfterPrefixing) {
  auto g = h.guest(5);
  auto d0 = h.dom0();
  std::string rel(2048, 'r');
  EXPECT_TRUE(h.write(g, rel, "").ok());
  EXPECT_EQ(h.write(g, rel + "r", "").error(), "EINVAL");
  // The same node by its absolute name: the quota counts what follows the home prefix.
  EXPECT_TRUE(h.write(g, "/local/domain/5/" + rel, "x").ok());
  EXPECT_EQ(h.write(g, "/local/domain/5/" + rel + "r", "").error(), "EINVAL");
  // Outside any home the whole length counts for a guest, but not for dom0.
  std::string outside = "/" + std::string(2048, 'o');
  EXPECT_EQ(h.read(g, outside).error(), "EINVAL");
  EXPECT_EQ(h.read(d0, outside).error(), "ENOENT");
  // Another domain's home counts like one's own.
  EXPECT_EQ(h.read(g, "/local/domain/6/" + rel).error(), "EACCES");
  EXPECT_EQ(h.read(g, "/local/domain/6/" + rel + "r").error(), "EINVAL");
  // Absolute limit after prefixing.
  EXPECT_EQ(h.read(d0, "/" + std::string(3072, 'a')).error(), "EINVAL");
  EXPECT_EQ(h.read(d0, "/" + std::string(3071, 'a')).error(), "ENOENT");
}

TEST_F(Xsa, Xsa324_HugeWatchTokenNeverProducesAnOversizedEvent) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  std::string token(4096 - 2 - 2, 't');  // "a\0<token>\0" = 4096
  ASSERT_TRUE(h.watch(g, "a", token).ok());
  h.drain(g);
  h.events(g);
  // Feed writes on behalf of dom0 that fire the watch with longer paths; check raw frames.
  h.write(d0, "/local/domain/5/a/longer/path", "x");
  h.write(g, "a/b", "y");
  std::string out;
  for (auto o = core().peek_output(g); !o.empty(); o = core().peek_output(g)) {
    out.append(reinterpret_cast<const char*>(o.data()), o.size());
    core().consume_output(g, o.size(), h.now());
  }
  while (out.size() >= header_size) {
    header hd;
    std::memcpy(&hd, out.data(), sizeof hd);
    EXPECT_LE(hd.len, xenstore::payload_max);
    out.erase(0, header_size + std::min<std::size_t>(hd.len, out.size() - header_size));
  }
  EXPECT_EQ(ev(g), EV{});
  EXPECT_GE(core().stats().events_dropped, 2u);
  EXPECT_TRUE(h.write(g, "still-works", "1").ok());
}

TEST_F(Xsa, Xsa325_NoSpuriousReleaseDomainWhenABadGuestIsDropped) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  auto ring = h.host().rings[5];
  h.watch(d0, "@releaseDomain", "out");
  ev(d0);
  h.take_drops();
  std::string f = raw_header(static_cast<std::uint32_t>(msg_type::read), 1, 0, 5000);
  EXPECT_FALSE(core().feed(ring, std::as_bytes(std::span(f.data(), f.size())), h.now()));
  auto drops = h.take_drops();
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].second, drop_reason::protocol_error);
  // The adapter closes the misbehaving connection; the domain itself is still alive.
  core().close(ring, h.now());
  EXPECT_EQ(ev(d0), EV{}) << "closing a dropped ring must not fire @releaseDomain";
  // When it really dies, watchers learn of it exactly once.
  core().domain_died(5, h.now());
  EXPECT_EQ(ev(d0), (EV{{"@releaseDomain", "out"}}));
}

TEST_F(Xsa, Xsa326_UnreadResponsesAndEventStormsAreBoundedByTheMemoryQuota) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  const std::uint32_t quota_bytes = 20000;
  ASSERT_TRUE(set_quota(5, "memory", quota_bytes).ok());
  h.watch(g, "storm", "t");
  h.drain(g);
  h.events(g);
  std::string value(1000, 'v');
  h.write(d0, "/local/domain/5/storm", "");
  h.set_perms(d0, "/local/domain/5/storm", {"n0", "r5"});  // dom0's nodes: not the guest's memory
  h.drain(g);
  h.events(g);
  auto dropped = core().stats().events_dropped;
  for (int i = 0; i < 2000; ++i) h.write(d0, "/local/domain/5/storm/n" + std::to_string(i), "x");
  EXPECT_LE(usage(5, "memory"), quota_bytes);
  EXPECT_GT(core().stats().events_dropped, dropped);
  // Big unread replies: the guest stops being read rather than the queue growing without bound.
  h.write(d0, "/local/domain/5/big", std::string(2000, 'b'));
  h.set_perms(d0, "/local/domain/5/big", {"n0", "r5"});
  std::string burst;
  for (int i = 0; i < 100; ++i) burst += frame_of(msg_type::read, H::z("big"), 1);
  auto fed = core().feed(g, std::as_bytes(std::span(burst.data(), burst.size())), h.now());
  ASSERT_TRUE(fed);
  EXPECT_LT(*fed, burst.size());
  EXPECT_LE(usage(5, "memory"), quota_bytes + 4096 + 16);
  h.drain(g);
  h.events(g);
}

TEST_F(Xsa, Xsa330_ResetWatchesCannotBypassTheWatchQuota) {
  auto g = h.guest(5);
  ASSERT_TRUE(set_quota(5, "watches", 3).ok());
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(h.watch(g, "w" + std::to_string(i), "t").ok());
    EXPECT_EQ(h.watch(g, "w9", "t").error(), "ENOSPC");
    EXPECT_EQ(usage(5, "watches"), 3);
    EXPECT_TRUE(h.request(g, msg_type::reset_watches, "").ok());
    EXPECT_EQ(usage(5, "watches"), 0);
  }
  // Also across connections of the same domain and connection resets.
  auto g2 = h.guest(5);
  for (int i = 0; i < 3; ++i) h.watch(g2, "v" + std::to_string(i), "t");
  core().reset(g, h.now());
  EXPECT_EQ(h.watch(g, "x", "t").error(), "ENOSPC");
}

TEST_F(Xsa, Xsa352_OnlyThePrivilegedMayChangeTheOwner) {
  auto d0 = h.dom0();
  auto g5 = h.guest(5);
  auto dm = h.guest(6);
  h.write(g5, "node", "");
  EXPECT_EQ(h.set_perms(g5, "node", {"n6"}).error(), "EPERM");
  EXPECT_EQ(h.set_perms(g5, "node", {"n0"}).error(), "EPERM");
  ASSERT_TRUE(h.request(d0, msg_type::set_target, H::z("6") + H::z("5")).ok());
  EXPECT_EQ(h.set_perms(dm, "/local/domain/5/node", {"n6"}).error(), "EPERM");
  EXPECT_EQ(H::split(h.get_perms(d0, "/local/domain/5/node").payload)[0], "n5");
  EXPECT_TRUE(h.set_perms(d0, "/local/domain/5/node", {"n6"}).ok());
  // Write access is not owner access.
  h.write(d0, "/w", "");
  h.set_perms(d0, "/w", {"n0", "b5"});
  EXPECT_EQ(h.set_perms(g5, "/w", {"n0", "b5", "r6"}).error(), "EACCES");
}

TEST_F(Xsa, Xsa353_RootIsChecked) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  EXPECT_EQ(h.read(g, "/").error(), "EACCES");
  EXPECT_EQ(h.directory(g, "/").error(), "EACCES");
  EXPECT_EQ(h.get_perms(g, "/").error(), "EACCES");
  EXPECT_EQ(h.write(g, "/", "x").error(), "EACCES");
  EXPECT_EQ(h.mkdir(g, "/").error(), "EACCES");
  EXPECT_EQ(h.rm(g, "/").error(), "EACCES");
  EXPECT_EQ(h.set_perms(g, "/", {"n5"}).error(), "EACCES");
  EXPECT_EQ(h.write(g, "/newtop", "x").error(), "EACCES");
  EXPECT_EQ(h.rm(d0, "/").error(), "EINVAL");
  EXPECT_TRUE(h.mkdir(d0, "/").ok());
  EXPECT_EQ(h.get_perms(d0, "/").payload, std::string("n0\0", 3));
  EXPECT_FALSE(h.directory(d0, "/").is_error());
}

TEST_F(Xsa, Xsa414_415_421_440_AccountingNeverDrifts) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  auto g2 = h.guest(5);
  auto home = [&] { return count_nodes(h, "/local/domain/5"); };
  // Create-then-delete inside a transaction.
  auto tx = h.start(g);
  h.write(g, "tmp/a/b", "1", tx);
  h.rm(g, "tmp", tx);
  EXPECT_TRUE(h.end(g, tx, true).ok());
  EXPECT_EQ(usage(5, "nodes"), home());
  // A conflicting transaction that created and deleted nodes.
  h.write(g, "c", "0");
  tx = h.start(g);
  h.read(g, "c", tx);
  h.write(g, "x/y/z", "1", tx);
  h.rm(g, "x/y", tx);
  h.write(g, "c", "1");
  EXPECT_EQ(h.end(g, tx, true).error(), "EAGAIN");
  EXPECT_EQ(usage(5, "nodes"), home());
  // A failing request inside a transaction (quota), then commit.
  ASSERT_TRUE(set_quota(5, "nodes", static_cast<std::uint32_t>(home() + 2)).ok());
  tx = h.start(g);
  h.write(g, "q1", "", tx);
  h.write(g, "q2", "", tx);
  EXPECT_EQ(h.write(g, "q3", "", tx).error(), "ENOSPC");
  EXPECT_TRUE(h.end(g, tx, true).ok());
  EXPECT_EQ(usage(5, "nodes"), home());
  ASSERT_TRUE(set_quota(5, "nodes", 1000).ok());
  // Concurrent rm (XSA-440): a transaction deletes a subtree another connection also deletes.
  h.write(g, "sub/a/b", "");
  tx = h.start(g);
  h.rm(g, "sub", tx);
  h.rm(g2, "sub/a");
  auto end = h.end(g, tx, true);
  EXPECT_TRUE(end.ok() || end.error() == "EAGAIN") << end.payload;
  EXPECT_EQ(h.read(g, "sub/a").error(), "ENOENT");
  EXPECT_EQ(h.read(g, "sub").is_error(), end.ok());
  EXPECT_EQ(usage(5, "nodes"), home());
  // dom0 removing a guest's nodes, and a transaction aborted after writing.
  h.write(g, "d0rm/a", "");
  h.rm(d0, "/local/domain/5/d0rm");
  tx = h.start(g);
  h.write(g, "aborted/a", "", tx);
  h.end(g, tx, false);
  EXPECT_EQ(usage(5, "nodes"), home());
  EXPECT_EQ(usage(5, "transactions"), 0);
  EXPECT_TRUE(control("check").ok());
}

TEST_F(Xsa, Xsa416_MemoryIsHeldOnlyUntilTheResponseIsRead) {
  auto g = h.guest(5);
  h.write(g, "v", std::string(1000, 'v'));
  auto base = usage(5, "memory");
  std::string burst;
  for (int i = 0; i < 10; ++i) burst += frame_of(msg_type::read, H::z("v"), 1);
  ASSERT_TRUE(core().feed(g, std::as_bytes(std::span(burst.data(), burst.size())), h.now()));
  EXPECT_GE(usage(5, "memory"), base + 10 * 1000);
  EXPECT_EQ(usage(5, "outstanding"), 10);
  h.drain(g);
  EXPECT_EQ(usage(5, "memory"), base);
  EXPECT_EQ(usage(5, "outstanding"), 0);
  // Partial consumption keeps the rest accounted.
  ASSERT_TRUE(core().feed(g, std::as_bytes(std::span(burst.data(), burst.size())), h.now()));
  auto out = core().peek_output(g);
  core().consume_output(g, out.size() / 2, h.now());
  EXPECT_GT(usage(5, "memory"), base);
  h.drain(g);
  EXPECT_EQ(usage(5, "memory"), base);
}

TEST_F(Xsa, Xsa418_DeepTreesNeverRecurse) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  ASSERT_TRUE(set_quota(5, "nodes", 0).ok());
  std::string deep = "d";
  while (deep.size() + 2 <= 2048) deep += "/d";
  ASSERT_TRUE(h.write(g, deep, "bottom").ok());
  h.watch(g, "d", "t");
  h.watch(d0, "/local/domain/5/" + deep, "bottom");
  EXPECT_GT(usage(5, "nodes"), 1000);
  EXPECT_TRUE(core().check());
  EXPECT_TRUE(h.rm(g, "d").ok());
  auto evs = ev(d0);
  EXPECT_NE(std::find(evs.begin(), evs.end(), event{"/local/domain/5/" + deep, "bottom"}), evs.end());
  // And dom0's maximum-length absolute path, removed with the domain.
  std::string abs = "/local/domain/5/e";
  while (abs.size() + 2 <= 3072) abs += "/e";
  ASSERT_TRUE(h.write(d0, abs, "x").ok());
  EXPECT_TRUE(core().check());
  core().domain_died(5, h.now());
  EXPECT_EQ(h.read(d0, "/local/domain/5").error(), "ENOENT");
}

TEST_F(Xsa, Xsa419_NodesOutsideTheHomeGoWithTheDomain) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  auto ring = h.host().rings[5];
  h.write(d0, "/backend", "");
  h.set_perms(d0, "/backend", {"n0", "b5"});
  ASSERT_TRUE(h.write(ring, "/backend/vif/5/0", "guest-made").ok());
  EXPECT_EQ(H::split(h.get_perms(d0, "/backend/vif").payload)[0], "n5");
  h.release(5);
  EXPECT_EQ(h.read(d0, "/backend/vif").error(), "ENOENT");
  EXPECT_FALSE(h.read(d0, "/backend").is_error());
}

TEST_F(Xsa, Xsa420_NumbersAndLengthsAreNeverTruncated) {
  auto d0 = h.dom0();
  auto g5 = h.guest(5);
  h.write(d0, "/t", "");
  // 65541 and 4294967301 would truncate to 5 in 16 or 32 bits.
  EXPECT_EQ(h.set_perms(d0, "/t", {"n0", "r65541"}).error(), "EINVAL");
  EXPECT_EQ(h.set_perms(d0, "/t", {"n0", "r4294967301"}).error(), "EINVAL");
  EXPECT_EQ(h.read(g5, "/t").error(), "EACCES");
  EXPECT_EQ(h.request(d0, msg_type::introduce, H::z("65541") + H::z("1") + H::z("3")).error(), "EINVAL");
  EXPECT_TRUE(h.host().rings.empty());
  EXPECT_EQ(h.request(d0, msg_type::release, H::z("65541")).error(), "EINVAL");
  EXPECT_EQ(h.request(d0, msg_type::get_domain_path, H::z("65541")).error(), "EINVAL");
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("65541")).error(), "EINVAL");
  EXPECT_EQ(h.request(d0, msg_type::watch, H::z("/t") + H::z("d") + H::z("4294967297")).error(), "EINVAL");
  EXPECT_EQ(h.request(d0, msg_type::directory_part, H::z("/t") + H::z("4294967296")).error(), "EINVAL");
  EXPECT_EQ(set_quota(5, "nodes", 0).ok(), true);
  EXPECT_EQ(h.request(d0, msg_type::set_quota, H::z("5") + H::z("nodes") + H::z("4294967297")).error(), "EINVAL");
  EXPECT_EQ(h.request(d0, msg_type::set_quota, H::z("65541") + H::z("nodes") + H::z("1")).error(), "EINVAL");
  // Lengths: a path longer than any limit is refused by length, not cut down.
  EXPECT_EQ(h.write(g5, std::string(4000, 'a'), "").error(), "EINVAL");
  EXPECT_EQ(h.read(g5, std::string(2049, 'a')).error(), "EINVAL");
}

TEST_F(Xsa, Xsa425_DoubleReleaseIsHarmless) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  auto ring = h.host().rings[5];
  h.watch(ring, "x", "t");
  h.start(ring);
  h.write(ring, "x", "1");
  h.watch(d0, "@releaseDomain", "out");
  ev(d0);
  EXPECT_TRUE(h.release(5).ok());
  EXPECT_EQ(h.release(5).error(), "ENOENT");
  core().domain_died(5, h.now());
  core().close(ring, h.now());
  core().close(ring, h.now());
  EXPECT_EQ(h.release(5).error(), "ENOENT");
  auto evs = ev(d0);
  EXPECT_EQ(std::count(evs.begin(), evs.end(), event{"@releaseDomain", "out"}), 1);
  EXPECT_EQ(h.host().released, (std::vector<domid_t>{5}));
}

TEST_F(Xsa, Xsa481_LocalDomainTrailingSlashIsEinvalAndTheConnectionGoesOn) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  for (conn_id c : {d0, g}) {
    EXPECT_EQ(h.read(c, "/local/domain/").error(), "EINVAL");
    EXPECT_EQ(h.write(c, "/local/domain/", "x").error(), "EINVAL");
    EXPECT_EQ(h.mkdir(c, "/local/domain/").error(), "EINVAL");
    EXPECT_EQ(h.rm(c, "/local/domain/").error(), "EINVAL");
    EXPECT_EQ(h.directory(c, "/local/domain/").error(), "EINVAL");
    EXPECT_EQ(h.get_perms(c, "/local/domain/").error(), "EINVAL");
    EXPECT_EQ(h.set_perms(c, "/local/domain/", {"n0"}).error(), "EINVAL");
    EXPECT_EQ(h.watch(c, "/local/domain/", "t").error(), "EINVAL");
    EXPECT_EQ(h.read(c, "/local/domain/x/").error(), "EINVAL");
  }
  EXPECT_TRUE(h.protocol_errors().empty());
  EXPECT_TRUE(h.take_drops().empty());
  EXPECT_FALSE(h.directory(d0, "/local/domain").is_error());
  EXPECT_TRUE(h.write(g, "ok", "1").ok());
}

TEST_F(Xsa, Xsa484_ResetWatchesInsideATransaction) {
  auto g = h.guest(5);
  h.watch(g, "w", "t");
  auto tx = h.start(g);
  auto tx2 = h.start(g);
  h.write(g, "in-tx", "1", tx);
  auto r = h.request(g, msg_type::reset_watches, "", tx);
  EXPECT_TRUE(r.ok()) << r.payload;
  EXPECT_EQ(usage(5, "transactions"), 0);
  EXPECT_EQ(usage(5, "watches"), 0);
  EXPECT_EQ(h.write(g, "after", "1", tx).error(), "ENOENT");
  EXPECT_EQ(h.end(g, tx, true).error(), "ENOENT");
  EXPECT_EQ(h.end(g, tx2, true).error(), "ENOENT");
  EXPECT_EQ(h.read(g, "in-tx").error(), "ENOENT");
  EXPECT_NE(h.start(g), 0u);
  // Twice in a row, and with an unknown transaction id.
  EXPECT_TRUE(h.request(g, msg_type::reset_watches, "", 999).ok());
  EXPECT_TRUE(h.request(g, msg_type::reset_watches, "").ok());
  EXPECT_TRUE(h.write(g, "ok", "1").ok());
}

}  // namespace
}  // namespace xenwire::xenstore::testing
