// Transactions: the worked examples atop C xenstored's tools/xenstored/transaction.c, isolation,
// conflicts from child additions/removals, quotas, atomic commit.
#include <gtest/gtest.h>

#include "xenwire/xenstore/server/store.hpp"
#include "xenwire/xenstore/server/transaction.hpp"

namespace xenwire::xenstore {
namespace {

constexpr creator dom0{0, true};

struct transaction_on_ab : ::testing::Test {
  store s;
  void SetUp() override {
    ASSERT_TRUE(s.write("/A", "a", dom0));
    ASSERT_TRUE(s.write("/B", "b", dom0));
  }
};

// 1. Simple transaction doing: read node A, write node B.
TEST_F(transaction_on_ab, Example1ReadAWriteBCommits) {
  auto t1 = s.begin();
  ASSERT_TRUE(t1.read("/A"));
  ASSERT_TRUE(t1.write("/B", "t1", dom0));
  const auto gb = s.read("/B").value()->generation();
  ASSERT_TRUE(s.commit(std::move(t1)));
  EXPECT_EQ(s.read("/B").value()->value(), "t1");
  EXPECT_GT(s.read("/B").value()->generation(), gb);
}

// 2. Transaction with conflicting write.
TEST_F(transaction_on_ab, Example2ConflictingWriteOfAReadNode) {
  auto t1 = s.begin();
  ASSERT_TRUE(t1.read("/A"));
  ASSERT_TRUE(s.write("/A", "outside", dom0));
  ASSERT_TRUE(t1.write("/B", "t1", dom0));
  EXPECT_EQ(s.commit(std::move(t1)).error(), xs_error::eagain);
  EXPECT_EQ(s.read("/B").value()->value(), "b");
}

// 3. Transaction with conflicting delete.
TEST_F(transaction_on_ab, Example3ConflictingDeleteOfAReadNode) {
  auto t1 = s.begin();
  ASSERT_TRUE(t1.read("/A"));
  ASSERT_TRUE(s.rm("/A"));
  ASSERT_TRUE(t1.write("/B", "t1", dom0));
  EXPECT_EQ(s.commit(std::move(t1)).error(), xs_error::eagain);
}

// 4. Two interfering transactions.
TEST_F(transaction_on_ab, Example4TwoInterferingTransactions) {
  auto t1 = s.begin();
  auto t2 = s.begin();
  ASSERT_TRUE(t1.read("/A"));
  ASSERT_TRUE(t2.read("/B"));
  ASSERT_TRUE(t1.write("/B", "t1", dom0));
  ASSERT_TRUE(t2.write("/A", "t2", dom0));
  ASSERT_TRUE(s.commit(std::move(t1)));
  EXPECT_EQ(s.commit(std::move(t2)).error(), xs_error::eagain);
  EXPECT_EQ(s.read("/A").value()->value(), "a");
  EXPECT_EQ(s.read("/B").value()->value(), "t1");
}

TEST_F(transaction_on_ab, ViewIsTheSnapshotPlusOwnChanges) {
  auto t = s.begin();
  ASSERT_TRUE(t.write("/A", "mine", dom0));
  ASSERT_TRUE(t.write("/N/new", "", dom0));
  ASSERT_TRUE(s.write("/B", "outside", dom0));
  EXPECT_EQ(t.read("/A").value()->value(), "mine");
  EXPECT_EQ(t.read("/B").value()->value(), "b");  // snapshot isolation
  EXPECT_EQ(s.read("/A").value()->value(), "a");
  EXPECT_EQ(s.read("/N").error(), xs_error::enoent);
}

TEST_F(transaction_on_ab, ReadingAnAbsentNodeConflictsWithItsCreation) {
  auto t = s.begin();
  EXPECT_EQ(t.read("/C").error(), xs_error::enoent);
  ASSERT_TRUE(t.write("/A", "t", dom0));
  ASSERT_TRUE(s.write("/C", "", dom0));
  EXPECT_EQ(s.commit(std::move(t)).error(), xs_error::eagain);
}

TEST_F(transaction_on_ab, UnrelatedTransactionsDoNotConflict) {
  ASSERT_TRUE(s.write("/X/x", "", dom0));
  ASSERT_TRUE(s.write("/Y/y", "", dom0));
  auto t1 = s.begin();
  auto t2 = s.begin();
  ASSERT_TRUE(t1.read("/A"));
  ASSERT_TRUE(t1.write("/X/x", "1", dom0));
  ASSERT_TRUE(t1.write("/X/new1", "", dom0));
  ASSERT_TRUE(t2.read("/B"));
  ASSERT_TRUE(t2.write("/Y/y", "2", dom0));
  ASSERT_TRUE(t2.rm("/Y/y"));
  ASSERT_TRUE(s.write("/Z", "", dom0));  // and a direct write elsewhere
  ASSERT_TRUE(s.commit(std::move(t1)));
  ASSERT_TRUE(s.commit(std::move(t2)));
  EXPECT_EQ(s.read("/X").value()->children().names(), (std::vector<std::string>{"new1", "x"}));
  EXPECT_TRUE(s.read("/Y").value()->children().empty());
  EXPECT_TRUE(s.check());
}

TEST_F(transaction_on_ab, ChildAdditionsToOneDirectoryConflict) {
  ASSERT_TRUE(s.write("/D", "", dom0));
  auto t1 = s.begin();
  auto t2 = s.begin();
  ASSERT_TRUE(t1.write("/D/one", "", dom0));
  ASSERT_TRUE(t2.write("/D/two", "", dom0));
  ASSERT_TRUE(s.commit(std::move(t1)));
  // /D gained a child since t2 touched it: committing t2's copy of /D would lose "one".
  EXPECT_EQ(s.commit(std::move(t2)).error(), xs_error::eagain);
  EXPECT_EQ(s.read("/D").value()->children().names(), std::vector<std::string>{"one"});
}

TEST_F(transaction_on_ab, ChildRemovalConflictsWithATransactionListingTheParent) {
  ASSERT_TRUE(s.write("/D/c", "", dom0));
  auto t = s.begin();
  ASSERT_TRUE(t.read("/D"));  // DIRECTORY
  ASSERT_TRUE(t.write("/A", "x", dom0));
  ASSERT_TRUE(s.rm("/D/c"));
  EXPECT_EQ(s.commit(std::move(t)).error(), xs_error::eagain);
}

TEST_F(transaction_on_ab, ChangesBelowAReadNodeDoNotConflict) {
  ASSERT_TRUE(s.write("/D/c", "", dom0));
  auto t = s.begin();
  ASSERT_TRUE(t.read("/D"));
  ASSERT_TRUE(t.write("/A", "x", dom0));
  ASSERT_TRUE(s.write("/D/c", "value", dom0));  // a child's value, not /D's child list
  EXPECT_TRUE(s.commit(std::move(t)));
}

TEST_F(transaction_on_ab, BlindWriteOfAConcurrentlyWrittenNodeConflicts) {
  // C xenstored's WRITE reads the node first (get_node), so the node is checked at commit although
  // transaction.c's comment says modified nodes need not be.
  auto t = s.begin();
  ASSERT_TRUE(t.write("/A", "t", dom0));
  ASSERT_TRUE(s.write("/A", "outside", dom0));
  EXPECT_EQ(s.commit(std::move(t)).error(), xs_error::eagain);
}

TEST_F(transaction_on_ab, AbortIsDroppingTheTransaction) {
  {
    auto t = s.begin();
    ASSERT_TRUE(t.write("/A", "t", dom0));
    ASSERT_TRUE(t.rm("/B"));
  }
  EXPECT_EQ(s.read("/A").value()->value(), "a");
  EXPECT_TRUE(s.read("/B"));
  EXPECT_TRUE(s.check());
}

TEST_F(transaction_on_ab, CommitAppliesEverythingAndReturnsTheChanges) {
  ASSERT_TRUE(s.write("/D/old/deep", "", dom0));
  auto t = s.begin();
  ASSERT_TRUE(t.write("/A", "1", dom0));
  ASSERT_TRUE(t.rm("/D"));
  ASSERT_TRUE(t.write("/D/fresh", "f", creator{4, false}));
  ASSERT_TRUE(t.set_perms("/B", {{2, perm::read}}));
  EXPECT_FALSE(t.mkdir("/A", dom0)->changed());  // no-ops are not logged
  auto changes = s.commit(std::move(t));
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 4u);
  EXPECT_EQ((*changes)[1].removed.size(), 3u);
  EXPECT_EQ(s.read("/A").value()->value(), "1");
  EXPECT_EQ(s.read("/D/old").error(), xs_error::enoent);
  EXPECT_EQ(s.read("/D").value()->children().names(), std::vector<std::string>{"fresh"});
  EXPECT_EQ(s.read("/D/fresh").value()->owner(), 4);
  EXPECT_EQ(s.read("/B").value()->perms(), (node_perms{{2, perm::read}}));
  auto ok = s.check();
  EXPECT_TRUE(ok) << ok.error();
}

TEST_F(transaction_on_ab, ReadOnlyTransaction) {
  auto t1 = s.begin();
  ASSERT_TRUE(t1.read("/A"));
  EXPECT_TRUE(s.commit(std::move(t1)));
  auto t2 = s.begin();
  ASSERT_TRUE(t2.read("/A"));
  ASSERT_TRUE(s.write("/A", "x", dom0));
  EXPECT_EQ(s.commit(std::move(t2)).error(), xs_error::eagain);
}

TEST_F(transaction_on_ab, NodeQuotaIsEnospcAndLeavesTheTransactionUsable) {
  auto t = s.begin(3);
  ASSERT_TRUE(t.read("/A"));
  ASSERT_TRUE(t.read("/B"));
  EXPECT_EQ(t.write("/C/D", "", dom0).error(), xs_error::enospc);  // would touch /C/D, /C and /
  EXPECT_EQ(t.touched(), 2u);
  EXPECT_EQ(t.read("/C").error(), xs_error::enoent);  // third node: still fine
  EXPECT_EQ(t.read("/X").error(), xs_error::enospc);
  ASSERT_TRUE(t.write("/A", "again", dom0));  // already touched: free
  EXPECT_TRUE(s.commit(std::move(t)));
  EXPECT_EQ(s.read("/A").value()->value(), "again");
}

TEST_F(transaction_on_ab, RmOfABigSubtreeHitsTheQuotaWithoutWalkingIt) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(s.write("/big/n" + std::to_string(i), "", dom0));
  auto t = s.begin(10);
  EXPECT_EQ(t.rm("/big").error(), xs_error::enospc);
  EXPECT_EQ(t.touched(), 0u);
  auto unlimited = s.begin(0);
  EXPECT_TRUE(unlimited.rm("/big"));
  EXPECT_EQ(unlimited.touched(), 22u);  // "/", /big and its 20 children
}

TEST_F(transaction_on_ab, DefaultQuotaIs1024Nodes) {
  auto t = s.begin();
  for (int i = 0; i < 1024; ++i) EXPECT_EQ(t.read("/q" + std::to_string(i)).error(), xs_error::enoent);
  EXPECT_EQ(t.read("/one-more").error(), xs_error::enospc);
}

TEST_F(transaction_on_ab, ConsumedAndForeignTransactions) {
  auto t = s.begin();
  ASSERT_TRUE(s.commit(std::move(t)));
  EXPECT_EQ(t.read("/A").error(), xs_error::einval);  // NOLINT(bugprone-use-after-move): on purpose
  EXPECT_EQ(s.commit(std::move(t)).error(), xs_error::einval);
  store other;
  auto foreign = other.begin();
  EXPECT_EQ(s.commit(std::move(foreign)).error(), xs_error::einval);
}

TEST_F(transaction_on_ab, PlansInsideATransaction) {
  auto t = s.begin();
  auto plan = t.plan_write("/P/q", "", creator{6, false});
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->delta().at(6).nodes, 2);
  EXPECT_EQ(t.read("/P").error(), xs_error::enoent);
  auto stale = t.plan_write("/R", "", dom0);
  ASSERT_TRUE(t.apply(std::move(*plan)));
  EXPECT_EQ(t.apply(std::move(*stale)).error(), xs_error::eagain);
  EXPECT_EQ(t.delta().at(6).nodes, 2);
  // The absent /P that the plan looked at was not recorded as read, but the apply recorded it.
  ASSERT_TRUE(s.write("/P", "", dom0));
  EXPECT_EQ(s.commit(std::move(t)).error(), xs_error::eagain);
}

TEST_F(transaction_on_ab, GenerationsStayUniqueAcrossCommits) {
  auto t = s.begin();
  ASSERT_TRUE(t.write("/A", "1", dom0));
  ASSERT_TRUE(t.write("/B", "2", dom0));
  ASSERT_TRUE(s.commit(std::move(t)));
  const auto ga = s.read("/A").value()->generation(), gb = s.read("/B").value()->generation();
  EXPECT_NE(ga, gb);
  EXPECT_LE(std::max(ga, gb), s.generation());
  EXPECT_GT(s.read("/").value()->generation(), 0u);  // "/" gained /A and /B before
}

}  // namespace
}  // namespace xenwire::xenstore
