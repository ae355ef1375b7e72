// TRANSACTION_START / TRANSACTION_END through the core: isolation, conflicts (the worked examples atop
// tools/xenstored/transaction.c), ids, errors.
#include "core_fixture.hpp"

namespace xenwire::xenstore::testing {
namespace {

using H = core_harness;
using CoreTransaction = CoreTest;

TEST_F(CoreTransaction, StartReturnsADecimalIdAndCommitApplies) {
  auto d0 = h.dom0();
  auto r = h.request(d0, msg_type::transaction_start, std::string_view("\0", 1));
  ASSERT_FALSE(r.is_error()) << r.error();
  EXPECT_EQ(r.payload.back(), '\0');
  std::uint32_t tx = static_cast<std::uint32_t>(std::stoul(r.str()));
  EXPECT_NE(tx, 0u);
  EXPECT_TRUE(h.write(d0, "/x", "1", tx).ok());
  EXPECT_TRUE(h.end(d0, tx, true).ok());
  EXPECT_EQ(h.read(d0, "/x").payload, "1");
  EXPECT_EQ(core().stats().transactions_committed, 1u);
}

TEST_F(CoreTransaction, AbortDiscardsEverything) {
  auto d0 = h.dom0();
  h.write(d0, "/keep", "k");
  auto tx = h.start(d0);
  h.write(d0, "/x", "1", tx);
  h.rm(d0, "/keep", tx);
  h.set_perms(d0, "/keep", {"n0", "r5"}, tx);
  EXPECT_TRUE(h.end(d0, tx, false).ok());
  EXPECT_EQ(h.read(d0, "/x").error(), "ENOENT");
  EXPECT_EQ(h.read(d0, "/keep").payload, "k");
  EXPECT_EQ(h.get_perms(d0, "/keep").payload, std::string("n0\0", 3));
}

TEST_F(CoreTransaction, ReadsSeeOwnWritesOthersDoNotUntilCommit) {
  auto d0 = h.dom0();
  auto other = h.open_socket();
  h.write(d0, "/d/old", "o");
  auto tx = h.start(d0);
  h.write(d0, "/d/new", "n", tx);
  h.rm(d0, "/d/old", tx);
  EXPECT_EQ(h.read(d0, "/d/new", tx).payload, "n");
  EXPECT_EQ(h.read(d0, "/d/old", tx).error(), "ENOENT");
  EXPECT_EQ(H::split(h.directory(d0, "/d", tx).payload), (std::vector<std::string>{"new"}));
  EXPECT_EQ(h.read(other, "/d/new").error(), "ENOENT");
  EXPECT_EQ(h.read(d0, "/d/old").payload, "o");  // same connection, outside the transaction
  EXPECT_TRUE(h.end(d0, tx, true).ok());
  EXPECT_EQ(h.read(other, "/d/new").payload, "n");
  EXPECT_EQ(h.read(other, "/d/old").error(), "ENOENT");
}

TEST_F(CoreTransaction, SnapshotIsolationOfReads) {
  auto d0 = h.dom0();
  h.write(d0, "/s", "1");
  auto tx = h.start(d0);
  h.write(d0, "/s", "2");
  EXPECT_EQ(h.read(d0, "/s", tx).payload, "1");
  EXPECT_TRUE(h.end(d0, tx, false).ok());
}

// transaction.c example 1: read A, write B: okay.
TEST_F(CoreTransaction, Example1ReadAWriteBCommits) {
  auto d0 = h.dom0();
  h.write(d0, "/A", "a");
  h.write(d0, "/B", "b");
  auto tx = h.start(d0);
  EXPECT_EQ(h.read(d0, "/A", tx).payload, "a");
  h.write(d0, "/B", "b1", tx);
  EXPECT_TRUE(h.end(d0, tx, true).ok());
  EXPECT_EQ(h.read(d0, "/B").payload, "b1");
}

// Example 2: read A in TA1, A written outside, TA1 writes B: EAGAIN.
TEST_F(CoreTransaction, Example2ConflictingWriteIsEagain) {
  auto d0 = h.dom0();
  h.write(d0, "/A", "a");
  h.write(d0, "/B", "b");
  auto tx = h.start(d0);
  h.read(d0, "/A", tx);
  h.write(d0, "/A", "a2");
  h.write(d0, "/B", "b1", tx);
  EXPECT_EQ(h.end(d0, tx, true).error(), "EAGAIN");
  EXPECT_EQ(h.read(d0, "/B").payload, "b");
  EXPECT_EQ(core().stats().transactions_conflicted, 1u);
}

// Example 3: read A in TA1, A deleted outside, TA1 writes B: EAGAIN.
TEST_F(CoreTransaction, Example3ConflictingDeleteIsEagain) {
  auto d0 = h.dom0();
  h.write(d0, "/A", "a");
  h.write(d0, "/B", "b");
  auto tx = h.start(d0);
  h.read(d0, "/A", tx);
  h.rm(d0, "/A");
  h.write(d0, "/B", "b1", tx);
  EXPECT_EQ(h.end(d0, tx, true).error(), "EAGAIN");
  EXPECT_EQ(h.read(d0, "/B").payload, "b");
}

// Example 4: two interfering transactions: the first to end wins, the second gets EAGAIN.
TEST_F(CoreTransaction, Example4TwoInterferingTransactions) {
  auto d0 = h.dom0();
  auto other = h.open_socket();
  h.write(d0, "/A", "a");
  h.write(d0, "/B", "b");
  auto t1 = h.start(d0);
  auto t2 = h.start(other);
  h.read(d0, "/A", t1);
  h.read(other, "/B", t2);
  h.write(d0, "/B", "b1", t1);
  h.write(other, "/A", "a2", t2);
  EXPECT_TRUE(h.end(d0, t1, true).ok());
  EXPECT_EQ(h.end(other, t2, true).error(), "EAGAIN");
  EXPECT_EQ(h.read(d0, "/A").payload, "a");
  EXPECT_EQ(h.read(d0, "/B").payload, "b1");
}

TEST_F(CoreTransaction, ConflictOnANodeReadAsMissing) {
  auto d0 = h.dom0();
  h.mkdir(d0, "/p");
  auto tx = h.start(d0);
  EXPECT_EQ(h.read(d0, "/p/x", tx).error(), "ENOENT");
  h.write(d0, "/p/y", "1", tx);
  h.write(d0, "/p/x", "appeared");
  EXPECT_EQ(h.end(d0, tx, true).error(), "EAGAIN");
}

TEST_F(CoreTransaction, UnrelatedTransactionsDoNotConflict) {
  auto d0 = h.dom0();
  auto other = h.open_socket();
  h.write(d0, "/u/a", "1");
  h.write(d0, "/u/b", "2");
  h.write(d0, "/v", "3");
  auto t1 = h.start(d0);
  auto t2 = h.start(other);
  h.read(d0, "/u/a", t1);
  h.write(d0, "/u/a", "1x", t1);
  h.read(other, "/u/b", t2);
  h.write(other, "/u/b", "2x", t2);
  h.write(d0, "/v", "3x");  // outside, unrelated to both
  EXPECT_TRUE(h.end(d0, t1, true).ok());
  EXPECT_TRUE(h.end(other, t2, true).ok());
  EXPECT_EQ(h.read(d0, "/u/a").payload, "1x");
  EXPECT_EQ(h.read(d0, "/u/b").payload, "2x");
}

TEST_F(CoreTransaction, ReadOnlyTransactionCommitsEvenIfUnchangedNodesAreAround) {
  auto d0 = h.dom0();
  h.write(d0, "/r", "1");
  auto tx = h.start(d0);
  h.read(d0, "/r", tx);
  h.write(d0, "/elsewhere", "x");
  EXPECT_TRUE(h.end(d0, tx, true).ok());
}

TEST_F(CoreTransaction, UnknownTxIdIsEnoent) {
  auto d0 = h.dom0();
  h.write(d0, "/x", "1");
  EXPECT_EQ(h.read(d0, "/x", 999).error(), "ENOENT");
  EXPECT_EQ(h.write(d0, "/x", "2", 999).error(), "ENOENT");
  EXPECT_EQ(h.end(d0, 999, true).error(), "ENOENT");
  EXPECT_EQ(h.end(d0, 0, true).error(), "ENOENT");  // TRANSACTION_END outside a transaction
  EXPECT_EQ(h.read(d0, "/x").payload, "1");
}

TEST_F(CoreTransaction, TransactionsAreOwnedByTheirConnection) {
  auto d0 = h.dom0();
  auto other = h.open_socket();
  auto tx = h.start(d0);
  h.write(d0, "/mine", "1", tx);
  EXPECT_EQ(h.read(other, "/mine", tx).error(), "ENOENT");
  EXPECT_EQ(h.end(other, tx, true).error(), "ENOENT");
  EXPECT_TRUE(h.end(d0, tx, true).ok());
}

TEST_F(CoreTransaction, EndedTransactionIdIsGone) {
  auto d0 = h.dom0();
  auto tx = h.start(d0);
  EXPECT_TRUE(h.end(d0, tx, true).ok());
  EXPECT_EQ(h.end(d0, tx, true).error(), "ENOENT");
  auto tx2 = h.start(d0);
  h.read(d0, "/", tx2);
  h.write(d0, "/z", "1");
  h.mkdir(d0, "/q", tx2);
  EXPECT_EQ(h.end(d0, tx2, true).error(), "EAGAIN");
  EXPECT_EQ(h.end(d0, tx2, false).error(), "ENOENT");  // a conflicted transaction is gone too
}

TEST_F(CoreTransaction, NestedStartIsEbusy) {
  auto d0 = h.dom0();
  auto tx = h.start(d0);
  auto r = h.request(d0, msg_type::transaction_start, std::string_view("\0", 1), tx);
  EXPECT_EQ(r.error(), "EBUSY");
  // An unknown id fails its lookup first (C: transaction_lookup before do_transaction_start).
  EXPECT_EQ(h.request(d0, msg_type::transaction_start, std::string_view("\0", 1), 4242).error(), "ENOENT");
  EXPECT_TRUE(h.end(d0, tx, false).ok());
}

TEST_F(CoreTransaction, BadEndArgumentIsEinval) {
  auto d0 = h.dom0();
  auto tx = h.start(d0);
  EXPECT_EQ(h.request(d0, msg_type::transaction_end, H::z("X"), tx).error(), "EINVAL");
  EXPECT_EQ(h.request(d0, msg_type::transaction_start, H::z("junk")).error(), "EINVAL");
  EXPECT_TRUE(h.end(d0, tx, false).ok());
}

TEST_F(CoreTransaction, ConcurrentTransactionsGetDistinctIds) {
  auto d0 = h.dom0();
  auto a = h.start(d0);
  auto b = h.start(d0);
  auto c = h.start(d0);
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_NE(a, c);
  for (auto t : {a, b, c}) EXPECT_TRUE(h.end(d0, t, false).ok());
}

TEST_F(CoreTransaction, WatchInsideATransactionRegistersImmediately) {
  auto d0 = h.dom0();
  auto tx = h.start(d0);
  EXPECT_TRUE(h.request(d0, msg_type::watch, H::z("/w") + H::z("t"), tx).ok());
  ev(d0);
  EXPECT_TRUE(h.end(d0, tx, false).ok());
  h.write(d0, "/w", "1");  // the watch survives the aborted transaction
  EXPECT_EQ(ev(d0), (EV{{"/w", "t"}}));
}

TEST_F(CoreTransaction, GuestTransactionsKeepPermissionRules) {
  auto d0 = h.dom0();
  auto g = h.guest(5);
  h.write(d0, "/secret", "s");
  auto tx = h.start(g);
  ASSERT_NE(tx, 0u);
  EXPECT_EQ(h.read(g, "/secret", tx).error(), "EACCES");
  EXPECT_EQ(h.write(g, "/secret", "x", tx).error(), "EACCES");
  EXPECT_TRUE(h.write(g, "data", "1", tx).ok());
  EXPECT_EQ(h.read(g, "data", tx).payload, "1");
  EXPECT_TRUE(h.end(g, tx, true).ok());
  EXPECT_EQ(h.read(d0, "/local/domain/5/data").payload, "1");
  EXPECT_EQ(h.read(d0, "/secret").payload, "s");
}

TEST_F(CoreTransaction, ClosingTheConnectionAbortsItsTransactions) {
  auto d0 = h.dom0();
  auto other = h.open_socket();
  auto tx = h.start(other);
  h.write(other, "/x", "1", tx);
  core().close(other, h.now());
  EXPECT_EQ(h.read(d0, "/x").error(), "ENOENT");
}

}  // namespace
}  // namespace xenwire::xenstore::testing
