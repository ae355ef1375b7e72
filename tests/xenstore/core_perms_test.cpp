// Xen 4.22's permission extensions through the core (issue 13): DOMID_ANY entries
// (XENSTORE_SERVER_FEATURE_DOMID_ANY), ignored when the writer's domain has not the feature and never
// removed as a dead domain's entry; @releaseDomain readable by every domain.
#include "core_fixture.hpp"

namespace xenwire::xenstore::testing {
namespace {

using H = core_harness;
using CorePerms = CoreTest;
using namespace std::string_literals;

const std::string any = "32757";  // DOMID_ANY (0x7FF5)

TEST_F(CorePerms, DomidAnyEntryMatchesEveryDomain) {
  auto d0 = h.dom0();
  auto g5 = h.guest(5);
  auto g6 = h.guest(6);
  auto g7 = h.guest(7);
  ASSERT_TRUE(h.write(d0, "/shared", "v").ok());
  ASSERT_TRUE(h.set_perms(d0, "/shared", {"n0", "n7", "r" + any}).ok());
  EXPECT_EQ(h.read(g5, "/shared").payload, "v");
  EXPECT_EQ(h.read(g6, "/shared").payload, "v");
  EXPECT_EQ(h.write(g5, "/shared", "w").error(), "EACCES");  // read only
  EXPECT_EQ(h.read(g7, "/shared").error(), "EACCES");        // the first matching entry (n7) decides
  EXPECT_EQ(h.get_perms(g5, "/shared").payload, "n0\0n7\0r"s + any + '\0');
  // Watch events follow the same rule.
  h.watch(g5, "/shared", "t");
  ev(g5);
  h.write(d0, "/shared", "v2");
  EXPECT_EQ(ev(g5), (EV{{"/shared", "t"}}));
}

TEST_F(CorePerms, DomidAnyOwnerGivesEveryDomainOwnerRights) {
  auto d0 = h.dom0();
  auto g5 = h.guest(5);
  ASSERT_TRUE(h.write(d0, "/pub", "").ok());
  ASSERT_TRUE(h.set_perms(d0, "/pub", {"n" + any}).ok());
  EXPECT_TRUE(h.write(g5, "/pub/x", "1").ok());
  EXPECT_TRUE(h.set_perms(g5, "/pub", {"n" + any, "r6"}).ok());
  EXPECT_EQ(h.set_perms(g5, "/pub", {"n5"}).error(), "EPERM");  // still may not change the owner
}

TEST_F(CorePerms, DomidAnyIsIgnoredWhenTheWritersDomainHasNotTheFeature) {
  auto d0 = h.dom0();
  // Domain 5 gets every feature but DOMID_ANY before it is introduced.
  const auto without_any = core().config().ring_features & ~std::uint32_t{xenstore::feature::domid_any};
  ASSERT_TRUE(h.request(d0, msg_type::set_feature, H::z("5") + H::z(std::to_string(without_any))).ok());
  auto g5 = h.guest(5);
  auto g6 = h.guest(6);
  ASSERT_TRUE(h.write(g5, "x", "v").ok());
  ASSERT_TRUE(h.set_perms(g5, "x", {"n5", "r" + any}).ok());
  // Kept (GET_PERMS shows it, as C's does) but matching nobody.
  EXPECT_EQ(h.get_perms(g5, "x").payload, "n5\0r"s + any + '\0');
  EXPECT_EQ(h.read(g6, "/local/domain/5/x").error(), "EACCES");
  // An ignored owner entry is refused with ENOENT (C checks it before looking at the node).
  EXPECT_EQ(h.set_perms(g5, "x", {"n" + any}).error(), "ENOENT");
  EXPECT_EQ(h.set_perms(g5, "nonexistent", {"n" + any}).error(), "ENOENT");
  // The same entry written by domain 6 (feature on) does match.
  ASSERT_TRUE(h.write(g6, "y", "w").ok());
  ASSERT_TRUE(h.set_perms(g6, "y", {"n6", "r" + any}).ok());
  EXPECT_EQ(h.read(g5, "/local/domain/6/y").payload, "w");
}

TEST_F(CorePerms, DomidAnyEntryIsNeverRemovedAsADeadDomainsEntry) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.write(d0, "/a", "v").ok());
  ASSERT_TRUE(h.set_perms(d0, "/a", {"n0", "r" + any, "b7"}).ok());
  ASSERT_TRUE(h.introduce(7).ok());
  h.release(7);
  ASSERT_TRUE(h.introduce(8).ok());
  core().domain_died(8, h.now());
  EXPECT_EQ(h.get_perms(d0, "/a").payload, "n0\0r"s + any + '\0');
  EXPECT_EQ(h.read(h.guest(7), "/a").payload, "v");  // a new domain 7 reads through DOMID_ANY only
  EXPECT_EQ(h.write(h.guest(9), "/a", "x").error(), "EACCES");
}

TEST_F(CorePerms, ReleaseDomainIsReadableByEveryDomain) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  EXPECT_EQ(h.get_perms(g, "@releaseDomain").payload, "n0\0r"s + any + '\0');
  EXPECT_EQ(h.get_perms(g, "@introduceDomain").error(), "EACCES");
  h.watch(g, "@releaseDomain", "out");
  h.watch(g, "@introduceDomain", "in");
  ev(g);
  h.introduce(7);
  h.release(7);
  EXPECT_EQ(ev(g), (EV{{"@releaseDomain", "out"}}));
  (void)d0;
}

// Xen 4.22 ignores an entry naming a domain that is younger than the node (generation check), so a
// reused domid inherits nothing. Here entries are removed when the domain goes; these are the paths
// by which one could survive.
TEST_F(CorePerms, AnEntryWrittenInATransactionForADomainThatDiesBeforeTheCommitIsDropped) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.write(d0, "/a", "secret").ok());
  ASSERT_TRUE(h.introduce(7).ok());
  auto tx = h.start(d0);
  ASSERT_TRUE(h.set_perms(d0, "/a", {"n0", "r7"}, tx).ok());
  ASSERT_TRUE(h.write(d0, "/b/c", "too", tx).ok());
  ASSERT_TRUE(h.set_perms(d0, "/b", {"n0", "r7"}, tx).ok());
  h.release(7);
  ASSERT_TRUE(h.end(d0, tx, true).ok());
  EXPECT_EQ(h.get_perms(d0, "/a").payload, "n0\0"s);
  EXPECT_EQ(h.get_perms(d0, "/b").payload, "n0\0"s);
  auto g7 = h.guest(7);  // domid 7 reused
  EXPECT_EQ(h.read(g7, "/a").error(), "EACCES");
  EXPECT_EQ(h.read(g7, "/b").error(), "EACCES");
}

TEST_F(CorePerms, ANodeGivenInATransactionToADomainThatDiesBeforeTheCommitGoes) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(7).ok());
  auto tx = h.start(d0);
  ASSERT_TRUE(h.write(d0, "/given/x", "v", tx).ok());
  ASSERT_TRUE(h.set_perms(d0, "/given", {"n7"}, tx).ok());
  core().domain_died(7, h.now());
  ASSERT_TRUE(h.end(d0, tx, true).ok());
  EXPECT_EQ(h.read(d0, "/given").error(), "ENOENT");  // as if it had been there at the death (XSA-419)
}

TEST_F(CorePerms, TheDeathOfANeverIntroducedDomainDropsItsEntries) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.write(d0, "/local/domain/7/vm", "v").ok());  // the toolstack prepares domain 7...
  ASSERT_TRUE(h.set_perms(d0, "/local/domain/7", {"n7"}).ok());
  ASSERT_TRUE(h.write(d0, "/shared", "s").ok());
  ASSERT_TRUE(h.set_perms(d0, "/shared", {"n0", "r7"}).ok());
  core().domain_died(7, h.now());  // ...which dies before INTRODUCE
  EXPECT_EQ(h.get_perms(d0, "/shared").payload, "n0\0"s);
  EXPECT_EQ(h.read(d0, "/local/domain/7/vm").error(), "ENOENT");
  auto g7 = h.guest(7);  // domid 7 reused
  EXPECT_EQ(h.read(g7, "/shared").error(), "EACCES");
}

}  // namespace
}  // namespace xenwire::xenstore::testing
