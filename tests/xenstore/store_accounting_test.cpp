// Per-domain accounting (nodes and memory owned), domain removal, and the invariant check.
#include <gtest/gtest.h>

#include "xenwire/xenstore/server/store.hpp"
#include "xenwire/xenstore/server/transaction.hpp"

namespace xenwire::xenstore {
namespace {

constexpr creator dom0{0, true};

TEST(store_accounting, MemoryIsValuePermsAndChildNames) {
  store s;
  const auto root_mem = s.usage(0).memory;
  EXPECT_EQ(root_mem, perm_entry_bytes);
  ASSERT_TRUE(s.write("/local/domain/7/name", "guest", creator{7, false}));
  // Domain 7 owns /local, /local/domain, .../7 and .../name: values + 1 perm each + child names.
  EXPECT_EQ(s.usage(7).nodes, 4u);
  EXPECT_EQ(s.usage(7).memory, 4 * perm_entry_bytes + 5 /*guest*/ + 7 /*domain\0*/ + 2 /*7\0*/ + 5 /*name\0*/);
  // Root (dom0) pays for its new child's name.
  EXPECT_EQ(s.usage(0).memory, root_mem + 6 /*local\0*/);
  EXPECT_TRUE(s.check());
}

TEST(store_accounting, SetPermsMovesOwnership) {
  store s;
  ASSERT_TRUE(s.write("/n", "abc", creator{3, false}));
  EXPECT_EQ(s.usage(3), (domain_usage{1, 3 + perm_entry_bytes}));
  ASSERT_TRUE(s.set_perms("/n", {{4, perm::none}, {3, perm::read}}));
  EXPECT_EQ(s.usage(3), domain_usage{});
  EXPECT_EQ(s.usage(4), (domain_usage{1, 3 + 2 * perm_entry_bytes}));
  EXPECT_FALSE(s.usage().contains(3));  // no empty entries left behind
  EXPECT_TRUE(s.check());
}

TEST(store_accounting, TransactionCreateThenDeleteLeavesNothing) {
  store s;
  const auto before = s.usage();
  auto tx = s.begin();
  ASSERT_TRUE(tx.write("/t/a/b", "x", creator{9, false}));
  EXPECT_EQ(tx.delta().at(9).nodes, 3);
  ASSERT_TRUE(tx.rm("/t"));
  EXPECT_TRUE(tx.delta().empty());
  ASSERT_TRUE(s.commit(std::move(tx)));
  EXPECT_EQ(s.usage(), before);
  EXPECT_TRUE(s.check());
}

TEST(store_accounting, FailedCommitChangesNothing) {
  store s;
  ASSERT_TRUE(s.write("/a", "", dom0));
  const auto before = s.usage();
  auto tx = s.begin();
  ASSERT_TRUE(tx.read("/a"));
  ASSERT_TRUE(tx.write("/b/c", "payload", creator{9, false}));
  ASSERT_TRUE(s.write("/a", "changed", dom0));
  const auto mid = s.usage();
  EXPECT_EQ(s.commit(std::move(tx)).error(), xs_error::eagain);
  EXPECT_EQ(s.usage(), mid);
  EXPECT_NE(mid, before);  // the direct write did count
  EXPECT_EQ(s.read("/b").error(), xs_error::enoent);
  EXPECT_TRUE(s.check());
}

TEST(store_accounting, CommitAppliesTheTransactionsDelta) {
  store s;
  ASSERT_TRUE(s.write("/x/old", "zz", creator{2, false}));
  auto tx = s.begin();
  ASSERT_TRUE(tx.write("/x/new", "abc", creator{2, false}));
  ASSERT_TRUE(tx.rm("/x/old"));
  ASSERT_TRUE(tx.set_perms("/x", {{3, perm::none}}));
  const auto delta = tx.delta();
  auto expect = s.usage();
  for (const auto& [d, c] : delta) {
    expect[d].nodes = static_cast<std::uint64_t>(static_cast<std::int64_t>(expect[d].nodes) + c.nodes);
    expect[d].memory = static_cast<std::uint64_t>(static_cast<std::int64_t>(expect[d].memory) + c.memory);
    if (expect[d] == domain_usage{}) expect.erase(d);
  }
  ASSERT_TRUE(s.commit(std::move(tx)));
  EXPECT_EQ(s.usage(), expect);
  EXPECT_TRUE(s.check());
}

TEST(store_accounting, RemoveDomainNodesDeletesOwnedSubtreesAndAclEntries) {
  store s;
  const creator d5{5, false};
  ASSERT_TRUE(s.write("/local/domain/5", "", dom0));
  ASSERT_TRUE(s.set_perms("/local/domain/5", {{5, perm::none}}));
  ASSERT_TRUE(s.write("/local/domain/5/data", "x", d5));
  ASSERT_TRUE(s.write("/elsewhere", "", dom0));
  ASSERT_TRUE(s.set_perms("/elsewhere", {{0, perm::none}, {5, perm::both}, {6, perm::read}}));
  ASSERT_TRUE(s.write("/elsewhere/owned-by-5", "", d5));  // owner 5 (XSA-419: outside its home)
  ASSERT_TRUE(s.write("/elsewhere/dom0", "", dom0));       // inherits the ACL naming 5

  auto changes = s.remove_domain_nodes(5);
  EXPECT_EQ(s.read("/local/domain/5").error(), xs_error::enoent);
  EXPECT_EQ(s.read("/elsewhere/owned-by-5").error(), xs_error::enoent);
  EXPECT_EQ(s.read("/elsewhere").value()->perms(), (node_perms{{0, perm::none}, {6, perm::read}}));
  EXPECT_EQ(s.read("/elsewhere/dom0").value()->perms(), (node_perms{{0, perm::none}, {6, perm::read}}));
  EXPECT_TRUE(s.read("/local/domain"));
  EXPECT_EQ(s.usage(5), domain_usage{});
  EXPECT_EQ(changes.size(), 4u);  // 2 ACL rewrites, 2 removed subtrees
  EXPECT_TRUE(s.check());
  EXPECT_TRUE(s.remove_domain_nodes(5).empty());  // idempotent
}

TEST(store_accounting, CheckPassesAfterMixedWork) {
  store s;
  for (int i = 0; i < 50; ++i) {
    const auto d = static_cast<domid_t>(i % 4);
    ASSERT_TRUE(s.write("/w/" + std::to_string(i % 7) + "/" + std::to_string(i), std::string(i, 'v'),
                        creator{d, d == 0}));
    if (i % 5 == 0) {
      ASSERT_TRUE(s.rm("/w/" + std::to_string(i % 7)));
    }
  }
  auto r = s.check();
  EXPECT_TRUE(r) << r.error();
}

}  // namespace
}  // namespace xenwire::xenstore
