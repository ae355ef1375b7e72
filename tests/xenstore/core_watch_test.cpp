// WATCH / UNWATCH / RESET_WATCHES and event fan-out through the core (tools/xenstored/watch.c rules).
#include "core_fixture.hpp"

namespace xenwire::xenstore::testing {
namespace {

using H = core_harness;
using CoreWatch = CoreTest;

TEST_F(CoreWatch, RegisteringFiresOnceWithTheWatchedPath) {
  auto d0 = h.dom0();
  EXPECT_TRUE(h.watch(d0, "/a", "tok").ok());
  EXPECT_EQ(ev(d0), (EV{{"/a", "tok"}}));  // even though /a does not exist
  EXPECT_EQ(ev(d0), EV{});
}

TEST_F(CoreWatch, DuplicatePathAndTokenIsEexistOtherTokenIsFine) {
  auto d0 = h.dom0();
  EXPECT_TRUE(h.watch(d0, "/a", "t").ok());
  EXPECT_EQ(h.watch(d0, "/a", "t").error(), "EEXIST");
  EXPECT_TRUE(h.watch(d0, "/a", "u").ok());
  EXPECT_TRUE(h.watch(d0, "/b", "t").ok());
  // Another connection may use the same path and token.
  auto other = h.open_socket();
  EXPECT_TRUE(h.watch(other, "/a", "t").ok());
}

TEST_F(CoreWatch, WriteFiresNodeAndEveryAncestorWatchWithTheNodePath) {
  auto d0 = h.dom0();
  for (auto p : {"/", "/a", "/a/b", "/a/b/c", "/a/b/c/d", "/ab", "/a/bc"}) h.watch(d0, p, std::string("w") + p);
  ev(d0);
  EXPECT_TRUE(h.write(d0, "/a/b/c", "v").ok());
  EXPECT_EQ(sorted(ev(d0)), sorted(EV{{"/a/b/c", "w/"}, {"/a/b/c", "w/a"}, {"/a/b/c", "w/a/b"}, {"/a/b/c", "w/a/b/c"}}));
}

TEST_F(CoreWatch, MkdirAndSetPermsFireToo) {
  auto d0 = h.dom0();
  h.watch(d0, "/m", "t");
  ev(d0);
  EXPECT_TRUE(h.mkdir(d0, "/m/x").ok());
  EXPECT_EQ(ev(d0), (EV{{"/m/x", "t"}}));
  EXPECT_TRUE(h.set_perms(d0, "/m/x", {"n0", "r5"}).ok());
  EXPECT_EQ(ev(d0), (EV{{"/m/x", "t"}}));
  // MKDIR of an existing node changes nothing and fires nothing.
  EXPECT_TRUE(h.mkdir(d0, "/m/x").ok());
  EXPECT_EQ(ev(d0), EV{});
}

TEST_F(CoreWatch, FailedRequestsFireNothing) {
  auto d0 = h.dom0();
  h.watch(d0, "/", "t");
  ev(d0);
  EXPECT_EQ(h.rm(d0, "/nope/deeper").error(), "ENOENT");
  EXPECT_EQ(h.write(d0, "/bad//path", "x").error(), "EINVAL");
  EXPECT_EQ(h.set_perms(d0, "/nope", {"n0"}).error(), "ENOENT");
  EXPECT_EQ(ev(d0), EV{});
}

TEST_F(CoreWatch, RmFiresRemovedRootSubtreeAndEachRemovedDescendantExactly) {
  auto d0 = h.dom0();
  h.write(d0, "/a/b/c/d", "1");
  h.write(d0, "/a/b/e", "2");
  for (auto p : {"/", "/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/b/e", "/a/b/c/d/none", "/a/x"})
    h.watch(d0, p, std::string("w") + p);
  ev(d0);
  EXPECT_TRUE(h.rm(d0, "/a/b").ok());
  EXPECT_EQ(sorted(ev(d0)), sorted(EV{{"/a/b", "w/"},
                                      {"/a/b", "w/a"},
                                      {"/a/b", "w/a/b"},
                                      {"/a/b/c", "w/a/b/c"},
                                      {"/a/b/c/d", "w/a/b/c/d"},
                                      {"/a/b/e", "w/a/b/e"}}));
  // RM of an absent node whose parent exists succeeds and fires nothing.
  EXPECT_TRUE(h.rm(d0, "/a/b").ok());
  EXPECT_EQ(ev(d0), EV{});
}

TEST_F(CoreWatch, DepthLimitsTheSubtree) {
  auto d0 = h.dom0();
  EXPECT_TRUE(h.request(d0, msg_type::watch, H::z("/d") + H::z("d0") + H::z("0")).ok());
  EXPECT_TRUE(h.request(d0, msg_type::watch, H::z("/d") + H::z("d1") + H::z("1")).ok());
  EXPECT_TRUE(h.request(d0, msg_type::watch, H::z("/") + H::z("r1") + H::z("1")).ok());
  EXPECT_EQ(sorted(ev(d0)), sorted(EV{{"/d", "d0"}, {"/d", "d1"}, {"/", "r1"}}));
  h.write(d0, "/d", "");
  EXPECT_EQ(sorted(ev(d0)), sorted(EV{{"/d", "d0"}, {"/d", "d1"}, {"/d", "r1"}}));
  h.write(d0, "/d/x", "");
  EXPECT_EQ(ev(d0), (EV{{"/d/x", "d1"}}));
  h.write(d0, "/d/x/y", "");
  EXPECT_EQ(ev(d0), EV{});
  // Depth counts on removal too: only the removed nodes within depth of a watch fire it.
  h.rm(d0, "/d/x");
  EXPECT_EQ(ev(d0), (EV{{"/d/x", "d1"}}));
}

TEST_F(CoreWatch, DepthNeedsTheWatchDepthFeature) {
  // Domain 9's feature word set before it exists: no WATCHDEPTH.
  EXPECT_TRUE(h.request(h.dom0(), msg_type::set_feature, H::z("9") + H::z("0")).ok());
  auto g = h.guest(9);
  EXPECT_EQ(h.request(g, msg_type::watch, H::z("x") + H::z("t") + H::z("0")).error(), "EINVAL");
  EXPECT_TRUE(h.watch(g, "x", "t").ok());
  auto g2 = h.guest(10);  // default features include WATCHDEPTH
  EXPECT_TRUE(h.request(g2, msg_type::watch, H::z("x") + H::z("t") + H::z("0")).ok());
}

TEST_F(CoreWatch, RelativeWatchesGetRelativePaths) {
  auto g = h.guest(5);
  auto d0 = h.dom0();
  EXPECT_TRUE(h.watch(g, "data", "rel").ok());
  EXPECT_TRUE(h.watch(g, "/local/domain/5/data", "abs").ok());
  EXPECT_EQ(sorted(ev(g)), sorted(EV{{"data", "rel"}, {"/local/domain/5/data", "abs"}}));
  EXPECT_TRUE(h.write(g, "data/x", "1").ok());
  EXPECT_EQ(sorted(ev(g)), sorted(EV{{"data/x", "rel"}, {"/local/domain/5/data/x", "abs"}}));
  h.write(d0, "/local/domain/5/data/y", "2");
  EXPECT_EQ(sorted(ev(g)), sorted(EV{{"data/y", "rel"}, {"/local/domain/5/data/y", "abs"}}));
  EXPECT_TRUE(h.unwatch(g, "data", "rel").ok());
  EXPECT_TRUE(h.unwatch(g, "/local/domain/5/data", "abs").ok());
}

TEST_F(CoreWatch, GuestNeverSeesEventsForNodesItCannotReadNorTheirParent) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  h.write(d0, "/secret/x", "s");
  h.write(d0, "/pub/x", "p");
  h.set_perms(d0, "/pub", {"n0", "r5"});
  h.set_perms(d0, "/pub/x", {"n0", "r5"});
  EXPECT_TRUE(h.watch(g, "/", "root").ok());
  ev(g);
  h.write(d0, "/secret/x", "s2");
  h.write(d0, "/secret/y", "s3");
  h.rm(d0, "/secret");
  EXPECT_EQ(ev(g), EV{});
  h.write(d0, "/pub/x", "p2");
  EXPECT_EQ(ev(g), (EV{{"/pub/x", "root"}}));
  // A node it cannot read under a parent it can: C lets the event through (parent rule).
  h.write(d0, "/pub/hidden", "h");
  h.set_perms(d0, "/pub/hidden", {"n0"});
  ev(g);
  h.write(d0, "/pub/hidden", "h2");
  EXPECT_EQ(ev(g), (EV{{"/pub/hidden", "root"}}));
  // Neither node nor parent readable.
  h.write(d0, "/pub/hidden/deeper", "d");
  EXPECT_EQ(ev(g), EV{});
}

TEST_F(CoreWatch, OldPermsCountOnAPermsChange) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  h.write(d0, "/p", "v");
  h.set_perms(d0, "/p", {"n0", "r5"});
  h.watch(g, "/p", "t");
  ev(g);
  // Losing access: the watcher still learns of the change that took it away.
  EXPECT_TRUE(h.set_perms(d0, "/p", {"n0"}).ok());
  EXPECT_EQ(ev(g), (EV{{"/p", "t"}}));
  h.write(d0, "/p", "w");
  EXPECT_EQ(ev(g), EV{});
  // Gaining access: new perms count.
  EXPECT_TRUE(h.set_perms(d0, "/p", {"n0", "r5"}).ok());
  EXPECT_EQ(ev(g), (EV{{"/p", "t"}}));
}

TEST_F(CoreWatch, RemovalOfReadableNodeFiresForGuest) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  h.write(d0, "/p/q", "v");
  h.set_perms(d0, "/p", {"n0", "r5"});
  h.set_perms(d0, "/p/q", {"n0", "r5"});
  h.watch(g, "/p", "t");
  h.watch(g, "/p/q", "u");
  ev(g);
  EXPECT_TRUE(h.rm(d0, "/p").ok());
  EXPECT_EQ(sorted(ev(g)), sorted(EV{{"/p", "t"}, {"/p/q", "u"}}));
}

TEST_F(CoreWatch, TransactionEventsOnlyOnCommit) {
  auto d0 = h.dom0();
  auto w = h.open_socket();
  h.watch(w, "/t", "t");
  ev(w);
  auto tx = h.start(d0);
  ASSERT_NE(tx, 0u);
  h.write(d0, "/t/a", "1", tx);
  h.mkdir(d0, "/t/b", tx);
  EXPECT_EQ(ev(w), EV{});
  EXPECT_TRUE(h.end(d0, tx, true).ok());
  EXPECT_EQ(sorted(ev(w)), sorted(EV{{"/t/a", "t"}, {"/t/b", "t"}}));
  // Abort: nothing.
  tx = h.start(d0);
  h.write(d0, "/t/c", "1", tx);
  EXPECT_TRUE(h.end(d0, tx, false).ok());
  EXPECT_EQ(ev(w), EV{});
  // Conflict (EAGAIN): nothing from the transaction, only the conflicting write's own event.
  tx = h.start(d0);
  h.read(d0, "/t/a", tx);
  h.write(d0, "/t/d", "1", tx);
  h.write(d0, "/t/a", "2");
  EXPECT_EQ(ev(w), (EV{{"/t/a", "t"}}));
  EXPECT_EQ(h.end(d0, tx, true).error(), "EAGAIN");
  EXPECT_EQ(ev(w), EV{});
  EXPECT_EQ(h.read(d0, "/t/d").error(), "ENOENT");
}

TEST_F(CoreWatch, TransactionEventsArriveBeforeTheEndReply) {
  auto d0 = h.dom0();
  h.watch(d0, "/o", "t");
  ev(d0);
  auto tx = h.start(d0);
  h.write(d0, "/o/x", "1", tx);
  // Feed TRANSACTION_END directly and decode the raw output in order.
  std::string frame = frame_of(msg_type::transaction_end, std::string_view("T\0", 2), 42, tx);
  ASSERT_TRUE(core().feed(d0, std::as_bytes(std::span(frame.data(), frame.size())), h.now()));
  std::vector<std::uint32_t> order;
  std::string out;
  for (auto o = core().peek_output(d0); !o.empty(); o = core().peek_output(d0)) {
    out.append(reinterpret_cast<const char*>(o.data()), o.size());
    core().consume_output(d0, o.size(), h.now());
  }
  while (out.size() >= header_size) {
    header hd;
    std::memcpy(&hd, out.data(), sizeof hd);
    order.push_back(hd.type);
    out.erase(0, header_size + hd.len);
  }
  EXPECT_EQ(order, (std::vector<std::uint32_t>{static_cast<std::uint32_t>(msg_type::watch_event),
                                               static_cast<std::uint32_t>(msg_type::transaction_end)}));
}

TEST_F(CoreWatch, IntroduceAndReleaseSpecialWatchesForPrivilegedWatchers) {
  auto d0 = h.dom0();
  h.watch(d0, "@introduceDomain", "in");
  h.watch(d0, "@releaseDomain", "out");
  h.watch(d0, "@releaseDomain/7", "out7");
  EXPECT_EQ(sorted(ev(d0)), sorted(EV{{"@introduceDomain", "in"}, {"@releaseDomain", "out"}, {"@releaseDomain/7", "out7"}}));
  EXPECT_TRUE(h.introduce(7).ok());
  EXPECT_EQ(ev(d0), (EV{{"@introduceDomain", "in"}}));
  EXPECT_TRUE(h.introduce(8).ok());
  EXPECT_EQ(ev(d0), (EV{{"@introduceDomain", "in"}}));
  EXPECT_TRUE(h.release(8).ok());
  EXPECT_EQ(ev(d0), (EV{{"@releaseDomain", "out"}}));
  EXPECT_TRUE(h.release(7).ok());
  EXPECT_EQ(sorted(ev(d0)), sorted(EV{{"@releaseDomain", "out"}, {"@releaseDomain/7", "out7"}}));
}

TEST_F(CoreWatch, ReleaseDomainWithDepthSeesEveryDomid) {
  auto d0 = h.dom0();
  EXPECT_TRUE(h.request(d0, msg_type::watch, H::z("@releaseDomain") + H::z("any") + H::z("1")).ok());
  ev(d0);
  h.introduce(7);
  h.release(7);
  EXPECT_EQ(ev(d0), (EV{{"@releaseDomain/7", "any"}}));
}

TEST_F(CoreWatch, SpecialWatchesReachGuestsOnlyWhenGranted) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  // Xen 4.22 lets every domain read @releaseDomain by default: restrict it to dom0 again, as before 4.22.
  ASSERT_TRUE(h.set_perms(d0, "@releaseDomain", {"n0"}).ok());
  h.watch(g, "@introduceDomain", "in");
  h.watch(g, "@releaseDomain", "out");
  ev(g);
  h.introduce(7);
  h.release(7);
  EXPECT_EQ(ev(g), EV{});
  EXPECT_EQ(h.set_perms(g, "@introduceDomain", {"n5"}).error(), "EACCES");
  EXPECT_TRUE(h.set_perms(d0, "@introduceDomain", {"n0", "r5"}).ok());
  EXPECT_TRUE(h.set_perms(d0, "@releaseDomain", {"n0", "r5"}).ok());
  EXPECT_EQ(h.get_perms(g, "@introduceDomain").payload, std::string("n0\0r5\0", 6));
  h.introduce(7);
  EXPECT_EQ(ev(g), (EV{{"@introduceDomain", "in"}}));
  h.release(7);
  EXPECT_EQ(ev(g), (EV{{"@releaseDomain", "out"}}));
}

TEST_F(CoreWatch, IdenticalQueuedEventsAreNotDuplicated) {
  auto d0 = h.dom0();
  auto w = h.open_socket();
  // Two watches with the same token both match /a/b: one event "/a/b\0t\0".
  h.watch(w, "/a", "t");
  h.watch(w, "/a/b", "t");
  ev(w);
  h.write(d0, "/a/b", "1");
  h.write(d0, "/a/b", "2");  // still unread: identical event not queued again
  EXPECT_EQ(ev(w), (EV{{"/a/b", "t"}}));
  h.write(d0, "/a/b", "3");  // the previous one was read: queued again
  EXPECT_EQ(ev(w), (EV{{"/a/b", "t"}}));
}

TEST_F(CoreWatch, OversizedEventsAreDroppedOthersStillFlow) {
  auto d0 = h.dom0();
  auto w = h.open_socket();
  // WATCH payload "/a\0<token>\0" is exactly 4096 bytes, so the registration event fits.
  std::string token(4096 - 4 - 1, 'T');
  ASSERT_TRUE(h.watch(w, "/a", token).ok());
  EXPECT_EQ(ev(w).size(), 1u);
  h.watch(w, "/a", "small");
  ev(w);
  auto dropped = core().stats().events_dropped;
  h.write(d0, "/a/bb", "x");  // "/a/bb\0<token>\0" is 4099 bytes: dropped
  EXPECT_EQ(ev(w), (EV{{"/a/bb", "small"}}));
  EXPECT_EQ(core().stats().events_dropped, dropped + 1);
}

TEST_F(CoreWatch, UnreadEventsOfGuestsExpireAfterTheTimeout) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  auto w0 = h.open_socket();
  h.write(d0, "/e", "");
  h.set_perms(d0, "/e", {"n0", "r5"});
  h.watch(g, "/e", "t");
  h.watch(w0, "/e", "t");
  ev(g);
  ev(w0);
  h.write(d0, "/e", "1");  // queued for g and w0, nobody drains them
  ASSERT_TRUE(core().has_output(g));
  auto timeout = core().config().watch_event_timeout;
  ASSERT_TRUE(core().next_deadline());
  EXPECT_EQ(*core().next_deadline(), h.now() + timeout);
  h.advance(timeout / 2);
  EXPECT_TRUE(core().has_output(g));
  h.advance(timeout);
  EXPECT_FALSE(core().has_output(g));
  EXPECT_EQ(ev(g), EV{});
  // Privileged watchers keep theirs.
  EXPECT_EQ(ev(w0), (EV{{"/e", "t"}}));
  // Replies never expire.
  feed_raw(g, msg_type::read, H::z("/e"), 9);
  h.advance(timeout * 2);
  h.drain(g);
  EXPECT_EQ(h.take_reply(g, 9).type, msg_type::read);
}

TEST_F(CoreWatch, ResetWatchesDropsAllWatchesOfTheConnection) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  h.watch(g, "a", "t");
  h.watch(g, "b", "t");
  EXPECT_EQ(usage(5, "watches"), 2);
  EXPECT_TRUE(h.request(g, msg_type::reset_watches, "").ok());
  EXPECT_EQ(usage(5, "watches"), 0);
  ev(g);
  h.write(d0, "/local/domain/5/a", "x");
  EXPECT_EQ(ev(g), EV{});
  EXPECT_TRUE(h.watch(g, "a", "t").ok());  // no EEXIST: it is gone
  EXPECT_EQ(ev(g), (EV{{"a", "t"}}));
}

TEST_F(CoreWatch, UnwatchUnknownIsEnoentAndUnwatchStopsEvents) {
  auto d0 = h.dom0();
  EXPECT_EQ(h.unwatch(d0, "/x", "t").error(), "ENOENT");
  h.watch(d0, "/x", "t");
  EXPECT_EQ(h.unwatch(d0, "/x", "other").error(), "ENOENT");
  EXPECT_TRUE(h.unwatch(d0, "/x", "t").ok());
  EXPECT_EQ(h.unwatch(d0, "/x", "t").error(), "ENOENT");
  ev(d0);
  h.write(d0, "/x", "1");
  EXPECT_EQ(ev(d0), EV{});
}

TEST_F(CoreWatch, WatchAndUnwatchIgnoreTxId) {
  auto d0 = h.dom0();
  auto r = h.request(d0, msg_type::watch, H::z("/w") + H::z("t"), /*tx=*/12345);
  EXPECT_TRUE(r.ok()) << r.payload;
  ev(d0);
  h.write(d0, "/w", "1");
  EXPECT_EQ(ev(d0), (EV{{"/w", "t"}}));
  EXPECT_TRUE(h.request(d0, msg_type::unwatch, H::z("/w") + H::z("t"), 777).ok());
}

TEST_F(CoreWatch, InvalidWatchArgumentsAreEinval) {
  auto d0 = h.dom0();
  EXPECT_EQ(h.request(d0, msg_type::watch, H::z("/a")).error(), "EINVAL");
  EXPECT_EQ(h.watch(d0, "/a//b", "t").error(), "EINVAL");
  EXPECT_EQ(h.watch(d0, "@bogus", "t").error(), "EINVAL");
  EXPECT_EQ(h.request(d0, msg_type::watch, H::z("/a") + H::z("t") + H::z("x")).error(), "EINVAL");
}

TEST_F(CoreWatch, ClosingAConnectionForgetsItsWatches) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  h.watch(g, "x", "t");
  auto total_before = usage(5, "watches");
  EXPECT_EQ(total_before, 1);
  core().close(g, h.now());
  EXPECT_EQ(usage(5, "watches"), 0);
  h.write(d0, "/local/domain/5/x", "1");  // no crash delivering to a closed connection
}

}  // namespace
}  // namespace xenwire::xenstore::testing
