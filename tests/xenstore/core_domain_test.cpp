// Domain management through the core: INTRODUCE (through the adapter: effects), RELEASE, RESUME,
// IS_DOMAIN_INTRODUCED, GET_DOMAIN_PATH, SET_TARGET, GET/SET_FEATURE, domain death.
#include "core_fixture.hpp"

namespace xenwire::xenstore::testing {
namespace {

using H = core_harness;
using CoreDomain = CoreTest;

bool dropped_as(std::vector<std::pair<conn_id, drop_reason>> drops, conn_id c, drop_reason why) {
  for (auto& [id, r] : drops)
    if (id == c && r == why) return true;
  return false;
}

TEST_F(CoreDomain, IntroduceOpensARingThroughTheHooksAndFires) {
  auto d0 = h.dom0();
  h.watch(d0, "@introduceDomain", "in");
  ev(d0);
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "F");
  EXPECT_TRUE(h.introduce(5, 0x1234, 7).ok());
  ASSERT_TRUE(h.host().rings.contains(5));
  EXPECT_EQ(ev(d0), (EV{{"@introduceDomain", "in"}}));
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "T");
  // The new ring speaks for domain 5.
  auto ring = h.host().rings[5];
  EXPECT_TRUE(h.write(ring, "x", "1").ok());
  EXPECT_EQ(h.read(d0, "/local/domain/5/x").payload, "1");
  EXPECT_EQ(H::split(h.get_perms(d0, "/local/domain/5/x").payload)[0], "n5");
}

TEST_F(CoreDomain, IntroduceArgumentErrors) {
  auto d0 = h.dom0();
  EXPECT_EQ(h.introduce(5, 1, 0).error(), "EINVAL");       // no event channel
  EXPECT_EQ(h.introduce(0x7FF0, 1, 3).error(), "EINVAL");  // DOMID_FIRST_RESERVED
  EXPECT_EQ(h.request(d0, msg_type::introduce, H::z("5") + H::z("1")).error(), "EINVAL");
  EXPECT_EQ(h.request(d0, msg_type::introduce, H::z("x") + H::z("1") + H::z("3")).error(), "EINVAL");
  EXPECT_TRUE(h.host().rings.empty());
}

TEST_F(CoreDomain, FailedMappingLeavesTheDomainUnintroduced) {
  auto d0 = h.dom0();
  h.watch(d0, "@introduceDomain", "in");
  ev(d0);
  h.host().fail_introduce = true;
  EXPECT_EQ(h.introduce(5).error(), "EINVAL");
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "F");
  EXPECT_EQ(ev(d0), EV{});
  h.host().fail_introduce = false;
  EXPECT_TRUE(h.introduce(5).ok());
  EXPECT_EQ(ev(d0), (EV{{"@introduceDomain", "in"}}));
}

TEST_F(CoreDomain, RepeatedIntroduceSucceedsAndResetsTheConnection) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  auto ring = h.host().rings[5];
  h.watch(ring, "x", "t");
  auto tx = h.start(ring);
  EXPECT_EQ(usage(5, "watches"), 1);
  EXPECT_EQ(usage(5, "transactions"), 1);
  h.watch(d0, "@introduceDomain", "in");
  ev(d0);
  EXPECT_TRUE(h.introduce(5).ok());
  EXPECT_EQ(h.host().rings.size(), 1u);  // no second ring
  EXPECT_EQ(usage(5, "watches"), 0);
  EXPECT_EQ(usage(5, "transactions"), 0);
  EXPECT_EQ(h.end(ring, tx, true).error(), "ENOENT");
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "T");
}

TEST_F(CoreDomain, ReleaseFiresRemovesOwnedNodesAndDropsTheRing) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  auto ring = h.host().rings[5];
  h.write(ring, "data/x", "1");
  // A node outside the home, created by dom0 and given to domain 5.
  h.write(d0, "/vm/5", "");
  h.set_perms(d0, "/vm/5", {"n5"});
  h.write(d0, "/shared", "");
  h.set_perms(d0, "/shared", {"n0", "r5"});
  h.watch(d0, "@releaseDomain", "out");
  h.watch(d0, "/local/domain/5", "home");
  ev(d0);
  h.take_drops();
  EXPECT_TRUE(h.release(5).ok());
  auto evs = ev(d0);
  EXPECT_NE(std::find(evs.begin(), evs.end(), event{"@releaseDomain", "out"}), evs.end());
  EXPECT_NE(std::find(evs.begin(), evs.end(), event{"/local/domain/5", "home"}), evs.end());
  EXPECT_EQ(h.read(d0, "/local/domain/5").error(), "ENOENT");
  EXPECT_EQ(h.read(d0, "/vm/5").error(), "ENOENT");
  EXPECT_EQ(h.get_perms(d0, "/shared").payload, std::string("n0\0", 3));  // ACL entry gone
  EXPECT_EQ(h.host().released, (std::vector<domid_t>{5}));
  EXPECT_TRUE(dropped_as(h.take_drops(), ring, drop_reason::released));
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "F");
  // The adapter closes the ring afterwards: no second @releaseDomain.
  core().close(ring, h.now());
  EXPECT_EQ(ev(d0), EV{});
}

TEST_F(CoreDomain, ReleaseErrors) {
  EXPECT_EQ(h.release(5).error(), "ENOENT");
  EXPECT_EQ(h.release(0).error(), "EINVAL");
  EXPECT_EQ(h.request(h.dom0(), msg_type::release, H::z("abc")).error(), "EINVAL");
  ASSERT_TRUE(h.introduce(5).ok());
  EXPECT_TRUE(h.release(5).ok());
  EXPECT_EQ(h.release(5).error(), "ENOENT");
}

TEST_F(CoreDomain, ResumeNeedsAnIntroducedDomain) {
  EXPECT_EQ(h.request(h.dom0(), msg_type::resume, H::z("5")).error(), "ENOENT");
  h.introduce(5);
  EXPECT_TRUE(h.request(h.dom0(), msg_type::resume, H::z("5")).ok());
}

TEST_F(CoreDomain, GetDomainPath) {
  auto d0 = h.dom0();
  EXPECT_EQ(h.request(d0, msg_type::get_domain_path, H::z("5")).payload, std::string("/local/domain/5\0", 16));
  auto g = h.guest(7);
  EXPECT_EQ(h.request(g, msg_type::get_domain_path, H::z("7")).str(), "/local/domain/7");
  EXPECT_EQ(h.request(g, msg_type::get_domain_path, H::z("0")).str(), "/local/domain/0");
  EXPECT_EQ(h.request(d0, msg_type::get_domain_path, H::z("-1")).error(), "EINVAL");
}

TEST_F(CoreDomain, IsDomainIntroducedOfGuestSockets) {
  auto d0 = h.dom0();
  h.guest(9);
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("9")).str(), "T");
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("10")).str(), "F");
}

TEST_F(CoreDomain, SetTargetGivesRightsOverTheTargetsNodes) {
  auto d0 = h.dom0();
  auto dm = h.guest(6);  // device model stub domain
  auto g = h.guest(5);
  h.write(g, "private", "p");
  EXPECT_EQ(h.read(dm, "/local/domain/5/private").error(), "EACCES");
  EXPECT_EQ(h.request(d0, msg_type::set_target, H::z("6") + H::z("77")).error(), "ENOENT");
  EXPECT_EQ(h.request(d0, msg_type::set_target, H::z("77") + H::z("5")).error(), "ENOENT");
  EXPECT_TRUE(h.request(d0, msg_type::set_target, H::z("6") + H::z("5")).ok());
  EXPECT_EQ(h.read(dm, "/local/domain/5/private").payload, "p");
  EXPECT_TRUE(h.write(dm, "/local/domain/5/device-model", "running").ok());
  EXPECT_EQ(h.read(d0, "/local/domain/5/device-model").payload, "running");
  // As in C (construct_node): an unprivileged creator owns what it creates, target or not.
  EXPECT_EQ(H::split(h.get_perms(d0, "/local/domain/5/device-model").payload)[0], "n6");
  // Not the other way round, and not over dom0's nodes.
  h.write(dm, "mine", "m");
  EXPECT_EQ(h.read(g, "/local/domain/6/mine").error(), "EACCES");
  h.write(d0, "/tool", "t");
  EXPECT_EQ(h.read(dm, "/tool").error(), "EACCES");
}

TEST_F(CoreDomain, TargetRightsEndWithTheTarget) {
  auto d0 = h.dom0();
  auto dm = h.guest(6);
  h.introduce(5);
  EXPECT_TRUE(h.request(d0, msg_type::set_target, H::z("6") + H::z("5")).ok());
  h.release(5);
  h.guest(5);  // domid 5 reused
  h.write(d0, "/local/domain/5/fresh", "f");
  EXPECT_EQ(h.read(dm, "/local/domain/5/fresh").error(), "EACCES");
}

TEST_F(CoreDomain, GetAndSetFeature) {
  auto d0 = h.dom0();
  auto all = core().config().ring_features;
  EXPECT_EQ(h.request(d0, msg_type::get_feature, "").str(), std::to_string(all));
  EXPECT_TRUE(h.request(d0, msg_type::set_feature, H::z("5") + H::z("1")).ok());
  EXPECT_EQ(h.request(d0, msg_type::get_feature, H::z("5")).str(), "1");
  EXPECT_EQ(h.request(d0, msg_type::set_feature, H::z("5") + H::z("4096")).error(), "EINVAL");  // unsupported bit
  ASSERT_TRUE(h.introduce(5).ok());
  EXPECT_EQ(h.request(d0, msg_type::get_feature, H::z("5")).str(), "1");
  EXPECT_EQ(h.request(h.host().rings[5], msg_type::get_feature, "").str(), "1");
  EXPECT_EQ(h.request(d0, msg_type::set_feature, H::z("5") + H::z("3")).error(), "EBUSY");
  EXPECT_EQ(h.request(d0, msg_type::get_feature, H::z("77")).error(), "ENOENT");
  EXPECT_EQ(h.request(h.host().rings[5], msg_type::get_feature, H::z("5")).error(), "EACCES");
}

TEST_F(CoreDomain, SetFeatureOnAnIntroducedDomainIsBusyBeforeTheValueIsChecked) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  // C xenstored (4.22 domain.c) checks `introduced` first: EBUSY, not EINVAL, for an unsupported bit.
  EXPECT_EQ(h.request(d0, msg_type::set_feature, H::z("5") + H::z("4096")).error(), "EBUSY");
}

TEST_F(CoreDomain, DomainZeroIsIntroduced) {
  // Issue 13: C xenstored and oxenstored answer T for domain 0 (the local domain, introduced at
  // start-up); so does DOMID_SELF.
  auto d0 = h.dom0();
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("0")).str(), "T");
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("32752")).str(), "T");  // DOMID_SELF
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("6")).str(), "F");
}

TEST_F(CoreDomain, DomainDiedReleasesOnceAndIsIdempotent) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  auto ring = h.host().rings[5];
  h.write(ring, "x", "1");
  h.watch(d0, "@releaseDomain", "out");
  ev(d0);
  core().domain_died(5, h.now());
  EXPECT_EQ(ev(d0), (EV{{"@releaseDomain", "out"}}));
  EXPECT_EQ(h.read(d0, "/local/domain/5").error(), "ENOENT");
  EXPECT_TRUE(dropped_as(h.take_drops(), ring, drop_reason::released));
  core().domain_died(5, h.now());
  core().close(ring, h.now());
  core().domain_died(5, h.now());
  EXPECT_EQ(ev(d0), EV{});
  EXPECT_EQ(h.release(5).error(), "ENOENT");
}

// C xenstored's domain_cleanup: a shut-down domain fires @releaseDomain once (xl learns of the
// shutdown from it) and stays introduced, with its nodes, until it dies.
TEST_F(CoreDomain, DomainShutdownFiresOnceAndKeepsTheDomainUntilItDies) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  h.write(d0, "/local/domain/5/x", "1");
  h.watch(d0, "@releaseDomain", "out");
  ev(d0);
  core().domain_shutdown(5, h.now());
  EXPECT_EQ(ev(d0), (EV{{"@releaseDomain", "out"}}));
  core().domain_shutdown(5, h.now());
  EXPECT_EQ(ev(d0), EV{});
  EXPECT_EQ(h.read(d0, "/local/domain/5/x").str(), "1");
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "T");
  EXPECT_TRUE(h.take_drops().empty());
  core().domain_died(5, h.now());
  EXPECT_EQ(ev(d0), (EV{{"@releaseDomain", "out"}}));
  EXPECT_EQ(h.read(d0, "/local/domain/5").error(), "ENOENT");
  core().domain_shutdown(6, h.now());  // never introduced: nothing
  EXPECT_EQ(ev(d0), EV{});
}

TEST_F(CoreDomain, RingClosedByTheHostKeepsTheDomainUntilItDies) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  h.write(d0, "/local/domain/5/x", "1");
  h.watch(d0, "@releaseDomain", "out");
  ev(d0);
  core().close(h.host().rings[5], h.now());
  EXPECT_EQ(ev(d0), EV{});  // no spurious @releaseDomain (XSA-325)
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "T");
  // A new INTRODUCE maps the ring again.
  ASSERT_TRUE(h.introduce(5).ok());
  EXPECT_NE(h.host().rings[5], 0u);
  core().domain_died(5, h.now());
  EXPECT_EQ(ev(d0), (EV{{"@releaseDomain", "out"}}));
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "F");
}

TEST_F(CoreDomain, GuestSocketClosingKeepsTheDomain) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  h.write(g, "x", "1");
  h.watch(d0, "@releaseDomain", "out");
  ev(d0);
  core().close(g, h.now());
  EXPECT_EQ(ev(d0), EV{});
  EXPECT_EQ(h.read(d0, "/local/domain/5/x").payload, "1");
}

TEST_F(CoreDomain, ReleaseKeepsWatchersOfOtherDomainsWorking) {
  auto d0 = h.dom0();
  auto g6 = h.guest(6);
  h.introduce(5);
  h.write(d0, "/shared", "");
  h.set_perms(d0, "/shared", {"n0", "r5", "r6"});
  h.watch(g6, "/shared", "s");
  ev(g6);
  h.release(5);
  EXPECT_EQ(ev(g6), (EV{{"/shared", "s"}}));  // the perms change that removed r5
  h.write(d0, "/shared", "v");
  EXPECT_EQ(ev(g6), (EV{{"/shared", "s"}}));
}

TEST_F(CoreDomain, ResetOfARingKeepsTheDomainIntroduced) {
  auto d0 = h.dom0();
  h.introduce(5);
  auto ring = h.host().rings[5];
  h.watch(ring, "x", "t");
  core().reset(ring, h.now());
  EXPECT_EQ(usage(5, "watches"), 0);
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "T");
  EXPECT_TRUE(h.write(ring, "y", "1").ok());
}

}  // namespace
}  // namespace xenwire::xenstore::testing
