// The server core's live-update state: a populated core (nodes with perms, special-node perms,
// socket and ring connections with relative, special and depth watches, global and per-domain
// quotas, features, a target) exported as records, written to bytes, read back and imported into
// a fresh core gives the same store dump (its NODE records), the same watches and domains, and the
// imported core serves: reads, perms and watch events work on the new connection ids.
#include <gtest/gtest.h>

#include <algorithm>

#include "core_harness.hpp"
#include "xenwire/xenstore/migration/stream.hpp"

namespace xenwire::xenstore::testing {
namespace {

namespace mig = xenwire::xenstore::migration;
using H = core_harness;

std::int32_t fd_of(conn_id c) { return static_cast<std::int32_t>(100 + c); }

// Fills `h`: returns the ring connection of domain 5.
conn_id populate(core_harness& h) {
  const conn_id d0 = h.dom0();
  EXPECT_TRUE(h.request(d0, msg_type::set_quota, H::z("watches") + H::z("100")).ok());
  EXPECT_TRUE(h.introduce(6).ok());
  EXPECT_TRUE(h.introduce(5).ok());
  const conn_id ring = h.host().rings.at(5);
  EXPECT_TRUE(h.request(d0, msg_type::set_quota, H::z("5") + H::z("nodes") + H::z("50")).ok());
  EXPECT_TRUE(h.request(d0, msg_type::set_target, H::z("5") + H::z("6")).ok());
  EXPECT_TRUE(h.write(d0, "/tool/xenstored", "x").ok());
  EXPECT_TRUE(h.write(d0, "/vm/abc/name", std::string("guest\0bin", 9)).ok());
  EXPECT_TRUE(h.set_perms(d0, "/vm/abc", {"n0", "r5", "w6"}).ok());
  EXPECT_TRUE(h.write(ring, "data/x", "1").ok());
  EXPECT_TRUE(h.write(ring, "data/y", "").ok());
  EXPECT_TRUE(h.set_perms(d0, "@releaseDomain", {"n0", "r5"}).ok());
  EXPECT_TRUE(h.watch(d0, "/vm", "vmtok").ok());
  EXPECT_TRUE(h.watch(d0, "@releaseDomain", "rel").ok());
  EXPECT_TRUE(h.request(ring, msg_type::watch, H::z("data") + H::z("deep") + H::z("1")).ok());
  EXPECT_TRUE(h.watch(ring, "/local/domain/5/data/x", "abs").ok());
  h.drain(d0);
  h.drain(ring);
  (void)h.events(d0);
  (void)h.events(ring);
  return ring;
}

std::vector<mig::record> of_type(const mig::stream& s, mig::record_type t) {
  std::vector<mig::record> out;
  std::copy_if(s.records.begin(), s.records.end(), std::back_inserter(out), [t](const mig::record& r) { return mig::type_of(r) == t; });
  return out;
}

TEST(MigrationCore, PopulatedCoreSurvivesExportBytesImport) {
  core_harness a;
  const conn_id ring_a = populate(a);
  auto exported = a.core().export_state({.version = mig::stream_version::v2, .socket_fd = fd_of});
  ASSERT_TRUE(exported) << exported.error().message();
  auto bytes = mig::write_stream(*exported);
  ASSERT_TRUE(bytes) << bytes.error().message();
  auto read = mig::read_stream(*bytes);
  ASSERT_TRUE(read) << read.error().message();
  ASSERT_EQ(*read, *exported);

  core_harness b;
  auto opened = b.core().import_state(*read, b.now());
  ASSERT_TRUE(opened) << opened.error().message();
  ASSERT_TRUE(b.core().check()) << b.core().check().error().message();
  ASSERT_EQ(opened->size(), 3U);  // dom0's socket, the rings of domains 6 and 5

  auto again = b.core().export_state({.version = mig::stream_version::v2, .socket_fd = [&](conn_id c) {
                                        for (auto& o : *opened) if (o.conn == c) return fd_of(o.stream_id);
                                        return -1;
                                      }});
  ASSERT_TRUE(again) << again.error().message();
  // The store dump: every node with its perms and value, in the same order.
  EXPECT_EQ(of_type(*again, mig::record_type::node), of_type(*exported, mig::record_type::node));
  EXPECT_EQ(of_type(*again, mig::record_type::domain), of_type(*exported, mig::record_type::domain));
  EXPECT_EQ(of_type(*again, mig::record_type::global_quota), of_type(*exported, mig::record_type::global_quota));
  // Connections and watches, with the new ids mapped back to the stream's.
  mig::stream mapped = *again;
  auto back = [&](std::uint32_t id) {
    for (auto& o : *opened) if (o.conn == id) return o.stream_id;
    return 0U;
  };
  for (auto& r : mapped.records) {
    std::visit([&](auto& rec) {
      if constexpr (requires { rec.conn_id; }) rec.conn_id = back(rec.conn_id);
    }, r);
  }
  for (auto& r : mapped.records)
    if (auto* n = std::get_if<mig::node_record>(&r)) n->conn_id = 0;  // nodes carry no connection
  EXPECT_EQ(mapped, *exported);

  // The imported core serves: the ring connection reads its relative node, and its depth-1
  // relative watch sees a write one level below data/ (not two).
  conn_id ring_b = 0;
  for (auto& o : *opened) if (o.stream_id == ring_a) ring_b = o.conn;
  ASSERT_NE(ring_b, 0U);
  EXPECT_EQ(b.read(ring_b, "data/x").str(), "1");
  const conn_id d0b = b.dom0();
  EXPECT_EQ(b.read(d0b, "/vm/abc/name").payload, std::string("guest\0bin", 9));
  EXPECT_EQ(H::split(b.get_perms(d0b, "/vm/abc").payload), (std::vector<std::string>{"n0", "r5", "w6"}));
  EXPECT_FALSE(b.read(ring_b, "/vm/abc").is_error());
  EXPECT_EQ(b.read(ring_b, "/vm/abc/name").error(), "EACCES");  // created before /vm/abc's perms changed
  EXPECT_EQ(b.write(ring_b, "/vm/abc", "no").error(), "EACCES");
  EXPECT_TRUE(b.write(d0b, "/local/domain/5/data/z", "2").ok());
  EXPECT_TRUE(b.write(d0b, "/local/domain/5/data/z/deeper", "3").ok());
  b.drain(ring_b);
  auto evs = b.events(ring_b);
  ASSERT_EQ(evs.size(), 1U);
  EXPECT_EQ(evs[0].path, "data/z");
  EXPECT_EQ(evs[0].token, "deep");
}

TEST(MigrationCore, ExportRefusesWhatTheStreamCannotCarry) {
  core_harness h;
  const conn_id ring = populate(h);
  // Depth watches need version 2.
  auto v1 = h.core().export_state({.version = mig::stream_version::v1, .socket_fd = fd_of});
  ASSERT_FALSE(v1);
  EXPECT_EQ(v1.error(), make_error_code(errc::not_supported));
  // An open transaction: not quiescent.
  ASSERT_NE(h.start(ring), 0U);
  auto busy = h.core().export_state({.version = mig::stream_version::v2, .socket_fd = fd_of});
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error(), make_error_code(errc::would_block));
}

TEST(MigrationCore, ImportWantsAFreshCore) {
  core_harness a;
  populate(a);
  auto s = a.core().export_state({.version = mig::stream_version::v2, .socket_fd = fd_of});
  ASSERT_TRUE(s);
  core_harness used;
  ASSERT_TRUE(used.write(used.dom0(), "/x", "1").ok());
  EXPECT_FALSE(used.core().import_state(*s, used.now()));
}

// Records the reader would refuse, handed to the core directly: it refuses them too.
TEST(MigrationCore, ImportRefusesHostileTransactions) {
  core_harness a;
  populate(a);
  auto s = a.core().export_state({.version = mig::stream_version::v2, .socket_fd = fd_of});
  ASSERT_TRUE(s);
  auto with = [&](std::vector<mig::record> extra) {
    mig::stream t = *s;
    t.records.insert(t.records.end() - 1, extra.begin(), extra.end());
    return t;
  };
  const mig::node_record written{1, 1, mig::node_access_written, {{0, perm::none}}, "/tx/a", "v"};
  {
    core_harness fresh;
    auto ok = fresh.core().import_state(with({mig::transaction_record{1, 1}, written}), fresh.now());
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(fresh.core().open_transactions().size(), 1U);
  }
  auto deleted_with_perms = mig::node_record{1, 1, 0, {{0, perm::none}}, "/tx/a", ""};
  auto deleted_with_value = mig::node_record{1, 1, 0, {}, "/tx/a", "v"};
  auto unknown_bits = written;
  unknown_bits.access = 4;
  auto unknown_tx = written;
  unknown_tx.tx_id = 2;
  const std::vector<std::vector<mig::record>> hostile{
      {mig::transaction_record{99, 1}},                                // unknown connection
      {mig::transaction_record{1, 1}, mig::transaction_record{1, 1}},  // duplicate
      {mig::transaction_record{1, 0}},                                 // id 0
      {mig::transaction_record{1, 1}, unknown_tx},
      {mig::transaction_record{1, 1}, unknown_bits},
      {mig::transaction_record{1, 1}, deleted_with_perms},
      {mig::transaction_record{1, 1}, deleted_with_value},
      {mig::transaction_record{1, 1}, mig::node_record{1, 1, mig::node_access_written, {{0, perm::none}}, "@introduceDomain", ""}},
  };
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    core_harness fresh;
    EXPECT_FALSE(fresh.core().import_state(with(hostile[i]), fresh.now())) << "case " << i;
  }
}

}  // namespace
}  // namespace xenwire::xenstore::testing
