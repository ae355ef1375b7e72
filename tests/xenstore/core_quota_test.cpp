// Quotas through the core: per-domain limits (nodes, watches, transactions, outstanding, memory,
// node-size, node-permissions, path-max, transaction-nodes), SET/GET_QUOTA, the CONTROL commands and
// the write rate limit.
#include "core_fixture.hpp"

namespace xenwire::xenstore::testing {
namespace {

using H = core_harness;
using CoreQuota = CoreTest;

TEST_F(CoreQuota, NodesPerDomain) {
  auto g = h.guest(5);
  EXPECT_EQ(usage(5, "nodes"), 1);  // its home
  ASSERT_TRUE(set_quota(5, "nodes", 4).ok());
  EXPECT_EQ(get_quota(5, "nodes").str(), "4");
  EXPECT_TRUE(h.write(g, "a", "").ok());
  EXPECT_TRUE(h.write(g, "b", "").ok());
  EXPECT_TRUE(h.write(g, "c", "").ok());
  EXPECT_EQ(usage(5, "nodes"), 4);
  EXPECT_EQ(h.write(g, "d", "").error(), "ENOSPC");
  EXPECT_EQ(h.mkdir(g, "d").error(), "ENOSPC");
  EXPECT_EQ(h.write(g, "a/x/y", "").error(), "ENOSPC");
  EXPECT_TRUE(h.write(g, "a", "overwrite is fine").ok());
  EXPECT_TRUE(h.rm(g, "a").ok());
  EXPECT_TRUE(h.write(g, "d", "").ok());
  EXPECT_EQ(usage(5, "nodes"), 4);
  // The privileged are not limited, even when creating nodes in the guest's home.
  EXPECT_TRUE(h.write(h.dom0(), "/local/domain/5/by-dom0/a/b", "").ok());
}

TEST_F(CoreQuota, NodesInsideATransaction) {
  auto g = h.guest(5);
  ASSERT_TRUE(set_quota(5, "nodes", 3).ok());
  auto tx = h.start(g);
  EXPECT_TRUE(h.write(g, "a", "", tx).ok());
  EXPECT_TRUE(h.write(g, "b", "", tx).ok());
  EXPECT_EQ(h.write(g, "c", "", tx).error(), "ENOSPC");
  EXPECT_TRUE(h.end(g, tx, true).ok());
  EXPECT_EQ(usage(5, "nodes"), 3);
}

TEST_F(CoreQuota, WatchesPerDomain) {
  auto g = h.guest(5);
  ASSERT_TRUE(set_quota(5, "watches", 2).ok());
  EXPECT_TRUE(h.watch(g, "a", "t").ok());
  EXPECT_TRUE(h.watch(g, "b", "t").ok());
  EXPECT_EQ(h.watch(g, "c", "t").error(), "ENOSPC");
  // Shared by all connections of the domain.
  auto g2 = h.guest(5);
  EXPECT_EQ(h.watch(g2, "c", "t").error(), "ENOSPC");
  EXPECT_TRUE(h.unwatch(g, "a", "t").ok());
  EXPECT_TRUE(h.watch(g2, "c", "t").ok());
  EXPECT_EQ(usage(5, "watches"), 2);
}

TEST_F(CoreQuota, TransactionsPerDomain) {
  auto g = h.guest(5);
  std::vector<std::uint32_t> txs;
  for (int i = 0; i < 10; ++i) {
    auto tx = h.start(g);
    ASSERT_NE(tx, 0u) << i;
    txs.push_back(tx);
  }
  EXPECT_EQ(h.request(g, msg_type::transaction_start, std::string_view("\0", 1)).error(), "ENOSPC");
  EXPECT_EQ(usage(5, "transactions"), 10);
  EXPECT_TRUE(h.end(g, txs[0], false).ok());
  EXPECT_NE(h.start(g), 0u);
  // dom0 has no such limit.
  for (int i = 0; i < 15; ++i) EXPECT_NE(h.start(h.dom0()), 0u);
}

TEST_F(CoreQuota, OutstandingRequestsStopInput) {
  auto g = h.guest(5);
  h.write(h.dom0(), "/local/domain/5/r", "v");
  std::string burst;
  for (std::uint32_t i = 0; i < 30; ++i) burst += frame_of(msg_type::read, H::z("r"), 100 + i);
  auto fed = core().feed(g, std::as_bytes(std::span(burst.data(), burst.size())), h.now());
  ASSERT_TRUE(fed);
  EXPECT_LT(*fed, burst.size());
  EXPECT_EQ(*fed, 20 * frame_of(msg_type::read, H::z("r"), 0).size());  // default quota: 20
  EXPECT_FALSE(core().wants_input(g, h.now()));
  EXPECT_EQ(usage(5, "outstanding"), 20);
  h.drain(g);
  EXPECT_TRUE(core().wants_input(g, h.now()));
  burst.erase(0, *fed);
  fed = core().feed(g, std::as_bytes(std::span(burst.data(), burst.size())), h.now());
  ASSERT_TRUE(fed);
  EXPECT_EQ(*fed, burst.size());
  h.drain(g);
  for (std::uint32_t i = 0; i < 30; ++i) EXPECT_EQ(h.take_reply(g, 100 + i).payload, "v") << i;
  // dom0 is never paused.
  auto d0 = h.dom0();
  std::string many;
  for (std::uint32_t i = 0; i < 50; ++i) many += frame_of(msg_type::read, H::z("/local/domain/5/r"), i);
  fed = core().feed(d0, std::as_bytes(std::span(many.data(), many.size())), h.now());
  ASSERT_TRUE(fed);
  EXPECT_EQ(*fed, many.size());
  h.drain(d0);
}

TEST_F(CoreQuota, MemoryPerDomain) {
  auto g = h.guest(5);
  ASSERT_TRUE(set_quota(5, "memory", 5000).ok());
  std::string big(1500, 'm');
  int ok = 0;
  std::string last;
  for (int i = 0; i < 10; ++i) {
    auto r = h.write(g, "n" + std::to_string(i), big);
    if (r.is_error()) {
      last = r.error();
      break;
    }
    ++ok;
  }
  EXPECT_GE(ok, 1);
  EXPECT_LE(ok, 3);
  EXPECT_EQ(last, "ENOMEM");
  EXPECT_LE(usage(5, "memory"), 5000);
  // Watches count against memory too.
  EXPECT_EQ(h.watch(g, "w", std::string(3000, 't')).error(), "ENOMEM");
}

TEST_F(CoreQuota, NodeSize) {
  auto g = h.guest(5);
  EXPECT_EQ(h.write(g, "big", std::string(2049, 'x')).error(), "ENOSPC");
  EXPECT_TRUE(h.write(g, "fits", std::string(1000, 'x')).ok());
  EXPECT_TRUE(h.write(h.dom0(), "/local/domain/5/dom0big", std::string(4000, 'x')).ok());
  ASSERT_TRUE(set_quota(5, "node-size", 100).ok());
  EXPECT_EQ(h.write(g, "small", std::string(101, 'x')).error(), "ENOSPC");
  EXPECT_TRUE(h.write(g, "small", std::string(50, 'x')).ok());
  ASSERT_TRUE(set_quota(5, "node-size", 0).ok());  // 0 disables the check
  EXPECT_TRUE(h.write(g, "big", std::string(3000, 'x')).ok());
}

TEST_F(CoreQuota, NodePermissions) {
  auto g = h.guest(5);
  h.write(g, "p", "");
  EXPECT_TRUE(h.set_perms(g, "p", {"n5", "r1", "r2", "r3", "r4"}).ok());
  EXPECT_EQ(h.set_perms(g, "p", {"n5", "r1", "r2", "r3", "r4", "r6"}).error(), "ENOSPC");
  EXPECT_TRUE(h.set_perms(h.dom0(), "/local/domain/5/p", {"n5", "r1", "r2", "r3", "r4", "r6", "r7"}).ok());
}

TEST_F(CoreQuota, PathMaxAppliesAfterTheHomePrefix) {
  auto g = h.guest(5);
  ASSERT_TRUE(set_quota(5, "path-max", 20).ok());
  EXPECT_TRUE(h.write(g, std::string(20, 'a'), "").ok());
  EXPECT_EQ(h.write(g, std::string(21, 'a'), "").error(), "EINVAL");
  EXPECT_TRUE(h.read(g, "/local/domain/5/" + std::string(20, 'a')).type == msg_type::read);
  EXPECT_EQ(h.read(g, "/local/domain/5/" + std::string(21, 'a')).error(), "EINVAL");
  // Default: 2048 for relative paths.
  ASSERT_TRUE(set_quota(5, "path-max", 2048).ok());
  std::string deep;
  while (deep.size() < 2060) deep += "abcdefghi/";
  deep.resize(2048);
  if (deep.back() == '/') deep.back() = 'x';
  { auto r = h.write(g, deep, ""); EXPECT_TRUE(r.ok()) << r.payload; }
  EXPECT_EQ(h.write(g, deep + "y", "").error(), "EINVAL");
}

TEST_F(CoreQuota, TransactionNodes) {
  auto g = h.guest(5);
  for (int i = 0; i < 10; ++i) h.write(g, "n" + std::to_string(i), "");
  ASSERT_TRUE(set_quota(5, "transaction-nodes", 5).ok());
  auto tx = h.start(g);
  std::string err;
  for (int i = 0; i < 10 && err.empty(); ++i) {
    auto r = h.read(g, "n" + std::to_string(i), tx);
    if (r.is_error()) err = r.error();
  }
  EXPECT_EQ(err, "ENOSPC");
  h.end(g, tx, false);
}

TEST_F(CoreQuota, GlobalSetAndGetQuota) {
  EXPECT_EQ(get_quota("nodes").str(), "1000");
  EXPECT_EQ(get_quota("soft-memory").str(), std::to_string(2 * 1024 * 1024));
  ASSERT_TRUE(set_quota("nodes", 3).ok());
  EXPECT_EQ(get_quota("nodes").str(), "3");
  auto g = h.guest(8);  // a new domain starts with the global values
  EXPECT_EQ(get_quota(8, "nodes").str(), "3");
  h.write(g, "a", "");
  h.write(g, "b", "");
  EXPECT_EQ(h.write(g, "c", "").error(), "ENOSPC");
  // Lists and errors.
  auto names = h.request(h.dom0(), msg_type::get_quota, "").str();
  for (auto n : {"nodes", "watches", "transactions", "node-size", "memory", "soft-memory", "outstanding"})
    EXPECT_NE(names.find(n), std::string::npos) << n;
  EXPECT_EQ(get_quota("bogus").error(), "EINVAL");
  EXPECT_EQ(get_quota(77, "nodes").error(), "ENOENT");
  EXPECT_EQ(set_quota(77, "nodes", 1).error(), "ENOENT");
  EXPECT_EQ(set_quota("soft-nodes", 1).error(), "EINVAL");
  EXPECT_EQ(set_quota("bogus", 1).error(), "EINVAL");
  EXPECT_EQ(h.request(h.dom0(), msg_type::set_quota, H::z("nodes") + H::z("x")).error(), "EINVAL");
  EXPECT_EQ(h.request(g, msg_type::get_quota, H::z("nodes")).error(), "EACCES");
}

TEST_F(CoreQuota, PerDomainQuotaDoesNotAffectOthers) {
  auto g5 = h.guest(5);
  auto g6 = h.guest(6);
  ASSERT_TRUE(set_quota(5, "nodes", 2).ok());
  EXPECT_EQ(get_quota(6, "nodes").str(), "1000");
  EXPECT_EQ(get_quota("nodes").str(), "1000");
  h.write(g5, "a", "");
  EXPECT_EQ(h.write(g5, "b", "").error(), "ENOSPC");
  EXPECT_TRUE(h.write(g6, "a", "").ok());
  EXPECT_TRUE(h.write(g6, "b", "").ok());
}

TEST_F(CoreQuota, ControlQuotaCommands) {
  auto listing = control("quota");
  ASSERT_FALSE(listing.is_error());
  EXPECT_NE(listing.str().find("nodes"), std::string::npos);
  EXPECT_NE(listing.str().find("1000"), std::string::npos);
  auto soft = control("quota-soft");
  ASSERT_FALSE(soft.is_error());
  EXPECT_NE(soft.str().find("memory"), std::string::npos);
  EXPECT_EQ(soft.str().find("nodes"), std::string::npos);
  EXPECT_TRUE(control("quota", {"set", "nodes", "50"}).ok());
  EXPECT_EQ(get_quota("nodes").str(), "50");
  EXPECT_TRUE(control("quota-soft", {"set", "memory", "12345"}).ok());
  EXPECT_EQ(get_quota("soft-memory").str(), "12345");
  EXPECT_EQ(control("quota-soft", {"set", "nodes", "1"}).error(), "EINVAL");
  EXPECT_EQ(control("quota", {"set", "bogus", "1"}).error(), "EINVAL");
  EXPECT_EQ(control("quota", {"set", "nodes"}).error(), "EINVAL");
  EXPECT_EQ(control("quota", {"77"}).error(), "ENOENT");
  auto g = h.guest(5);
  h.write(g, "a/b", "");
  h.watch(g, "a", "t");
  auto dom = control("quota", {"5"});
  ASSERT_FALSE(dom.is_error());
  EXPECT_NE(dom.str().find("Domain 5"), std::string::npos);
  EXPECT_EQ(usage(5, "nodes"), 3);
  EXPECT_EQ(usage(5, "watches"), 1);
  EXPECT_EQ(usage(5, "transactions"), 0);
}

TEST_F(CoreQuota, ControlHelpCheckMemreportLog) {
  auto help = control("help");
  ASSERT_FALSE(help.is_error());
  for (auto c : {"check", "help", "log", "memreport", "quota", "quota-soft"})
    EXPECT_NE(help.str().find(c), std::string::npos) << c;
  EXPECT_TRUE(control("check").ok());
  h.guest(5);
  auto mem = control("memreport");
  ASSERT_FALSE(mem.is_error());
  EXPECT_NE(mem.str().find("nodes"), std::string::npos);
  EXPECT_TRUE(control("log", {"on"}).ok());
  EXPECT_TRUE(core().config().trace);
  auto before = h.host().logs.size();
  h.read(h.dom0(), "/");
  EXPECT_GT(h.host().logs.size(), before);  // requests traced
  EXPECT_TRUE(control("log", {"off"}).ok());
  EXPECT_FALSE(core().config().trace);
  EXPECT_EQ(control("log", {"maybe"}).error(), "EINVAL");
  EXPECT_EQ(control("log").error(), "EINVAL");
  EXPECT_EQ(control("no-such-command").error(), "EINVAL");
  EXPECT_TRUE(control("print", {"hello"}).ok());
  EXPECT_EQ(h.request(h.guest(6), msg_type::control, H::z("check")).error(), "EACCES");
}

TEST_F(CoreQuota, WriteRateLimitSlowsAFloodingGuestOnly) {
  auto g = h.guest(5);
  std::string flood;
  const std::string one = frame_of(msg_type::write, wpayload("w", "x"), 1);
  for (int i = 0; i < 40; ++i) flood += frame_of(msg_type::write, wpayload("w", "x"), 1);
  auto fed = core().feed(g, std::as_bytes(std::span(flood.data(), flood.size())), h.now());
  ASSERT_TRUE(fed);
  h.drain(g);  // outstanding is not the reason
  EXPECT_LT(*fed, flood.size());
  EXPECT_GE(*fed, one.size());
  EXPECT_FALSE(core().wants_input(g, h.now()));
  auto deadline = core().next_deadline();
  ASSERT_TRUE(deadline);
  EXPECT_GT(*deadline, h.now());
  h.advance(std::chrono::seconds(1));
  EXPECT_TRUE(core().wants_input(g, h.now()));
  // Reads are not writes: a domain in debt is paused for everything, but reading costs nothing.
  // dom0 floods freely.
  auto d0 = h.dom0();
  std::string dflood;
  for (int i = 0; i < 200; ++i) dflood += frame_of(msg_type::write, wpayload("/d", "x"), 1);
  auto dfed = core().feed(d0, std::as_bytes(std::span(dflood.data(), dflood.size())), h.now());
  ASSERT_TRUE(dfed);
  EXPECT_EQ(*dfed, dflood.size());
  EXPECT_TRUE(core().wants_input(d0, h.now()));
  h.drain(d0);
}

TEST_F(CoreQuota, RateLimitCanBeDisabled) {
  core().mutable_config().write_rate.enabled = false;
  auto g = h.guest(5);
  std::string flood;
  for (int i = 0; i < 15; ++i) flood += frame_of(msg_type::write, wpayload("w", "x"), 1);
  auto fed = core().feed(g, std::as_bytes(std::span(flood.data(), flood.size())), h.now());
  ASSERT_TRUE(fed);
  EXPECT_EQ(*fed, flood.size());
  h.drain(g);
}

// Issue 13: GET_QUOTA's list is exactly C xenstored 4.22's (quota_adm order, hard then soft-).
TEST_F(CoreQuota, QuotaNameListIsXen422s) {
  EXPECT_EQ(h.request(h.dom0(), msg_type::get_quota, "").str(),
            "nodes watches outstanding memory soft-memory transactions transaction-nodes node-permissions "
            "path-max node-size");
}

}  // namespace
}  // namespace xenwire::xenstore::testing
