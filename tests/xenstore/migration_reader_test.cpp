// The migration stream reader on hostile input: C's real WATCH_DATA_EXTENDED layout, truncation at
// every byte, oversized lengths and counts, unknown records, duplicate and dangling ids, bad paths
// and perms, missing END, wrong ident/version/flags. Every refusal names the record.
#include <gtest/gtest.h>

#include "migration_bytes.hpp"
#include "migration_samples.hpp"
#include "xenwire/xenstore/migration/stream.hpp"

namespace {

namespace mig = xenwire::xenstore::migration;
using namespace xenwire::test;

// The error for `bytes`, which must be refused.
mig::stream_error refused(const std::string& bytes) {
  auto r = mig::read_stream(bytes);
  EXPECT_FALSE(r.has_value()) << "accepted";
  return r ? mig::stream_error{} : r.error();
}
bool mentions(const mig::stream_error& e, std::string_view s) { return e.message().find(s) != std::string::npos; }

const std::string conn1 = raw_record(2, socket_conn_body(1, 5));

TEST(MigrationReader, CWatchExtendedLayoutIsRead) {
  // Two watches whose path+token lengths cover both cases of C's writer: (3 + 4) % 8 = 7, where C
  // declares 8 bytes more than it writes, and (2 + 2) % 8 = 4, where the two agree.
  const std::string a = c_watch_ext_record(1, "/a", "tok");
  const std::string b = c_watch_ext_record(1, "/", "t");
  EXPECT_EQ(a, unhex("08000000 18000000 01000000 0300 0400 2f6100 746f6b00 00"));  // len 24, 16 written
  EXPECT_EQ(b, unhex("08000000 10000000 01000000 0200 0200 2f00 7400 00000000"));   // len 16, 16 written
  const std::string bytes = preamble(2) + conn1 + a + b + raw_record(4, tx_body(1, 3)) + end_bytes();
  auto r = mig::read_stream(bytes);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->records.size(), 5U);
  EXPECT_EQ(std::get<mig::watch_extended_record>(r->records[1]), (mig::watch_extended_record{1, "/a", "tok", std::nullopt}));
  EXPECT_EQ(std::get<mig::watch_extended_record>(r->records[2]), (mig::watch_extended_record{1, "/", "t", std::nullopt}));
  EXPECT_EQ(std::get<mig::transaction_record>(r->records[3]), (mig::transaction_record{1, 3}));
  // The writer will not guess the lost depth.
  EXPECT_FALSE(mig::write_stream(*r));
}

TEST(MigrationReader, CWatchExtendedBeforeEndAndRelativePaths) {
  // The over-declared record right before END: its declared len reaches into END's header.
  const std::string bytes = preamble(2) + conn1 + c_watch_ext_record(1, "data/x", "") + end_bytes();
  auto r = mig::read_stream(bytes);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::get<mig::watch_extended_record>(r->records[1]).path, "data/x");
}

TEST(MigrationReader, DocumentWatchExtendedLayoutIsRead) {
  std::string body = unhex("01000000 0300 0200 0500 0000 2f6100 7400");
  auto r = mig::read_stream(preamble(2) + conn1 + raw_record(8, body) + end_bytes());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::get<mig::watch_extended_record>(r->records[1]), (mig::watch_extended_record{1, "/a", "t", 5}));
}

TEST(MigrationReader, TruncatedAtEveryByteIsRefused) {
  for (auto v : {mig::stream_version::v1, mig::stream_version::v2}) {
    const auto bytes = mig::write_stream(sample_stream(v));
    ASSERT_TRUE(bytes);
    ASSERT_TRUE(mig::read_stream(*bytes));
    for (std::size_t n = 0; n < bytes->size(); ++n) {
      auto r = mig::read_stream(std::string_view(*bytes).substr(0, n));
      ASSERT_FALSE(r) << "prefix of " << n << " bytes accepted";
      EXPECT_FALSE(r.error().what.empty());
    }
  }
}

// A transaction's records (live update between xenwire daemons): each refusal names the record.
TEST(MigrationReader, HostileTransactionRecordsAreNamed) {
  const std::string tx = raw_record(4, tx_body(1, 7));
  auto pending = [](std::string_view path, std::string_view value, std::uint16_t perm_n, std::uint16_t access) {
    std::string b = node_body(path, value, 'n', 0, perm_n, 1, 7);
    b[12] = static_cast<char>(access & 0xff);
    b[13] = static_cast<char>(access >> 8);
    return raw_record(5, b);
  };
  // What export writes: a written node, a read one, a deletion.
  auto ok = mig::read_stream(preamble(1) + conn1 + tx + pending("/a", "v", 1, 2) + pending("/b", "", 1, 1) +
                             pending("/c", "", 0, 0) + end_bytes());
  ASSERT_TRUE(ok) << ok.error().message();
  auto e = refused(preamble(1) + conn1 + raw_record(4, tx_body(3, 7)) + end_bytes());
  EXPECT_TRUE(mentions(e, "record 1 (TRANSACTION_DATA)")) << e.message();
  EXPECT_TRUE(mentions(e, "connection id 3 has no earlier CONNECTION_DATA"));
  e = refused(preamble(1) + conn1 + tx + tx + end_bytes());
  EXPECT_TRUE(mentions(e, "record 2 (TRANSACTION_DATA)") && mentions(e, "duplicate transaction id 7 on connection 1")) << e.message();
  e = refused(preamble(1) + conn1 + raw_record(4, tx_body(1, 0)) + end_bytes());
  EXPECT_TRUE(mentions(e, "(TRANSACTION_DATA)") && mentions(e, "transaction id 0")) << e.message();
  e = refused(preamble(1) + conn1 + raw_record(4, tx_body(1, 8)) + pending("/a", "v", 1, 2) + end_bytes());
  EXPECT_TRUE(mentions(e, "record 2 (NODE_DATA)") && mentions(e, "transaction 7 of connection 1 has no earlier TRANSACTION_DATA"))
      << e.message();
  e = refused(preamble(1) + conn1 + tx + pending("/a", "v", 1, 4) + end_bytes());
  EXPECT_TRUE(mentions(e, "(NODE_DATA)") && mentions(e, "unknown access bits 4")) << e.message();
  e = refused(preamble(1) + conn1 + tx + pending("/a", "", 1, 0) + end_bytes());
  EXPECT_TRUE(mentions(e, "(NODE_DATA)") && mentions(e, "deleted in a transaction (no access bits) carries permissions")) << e.message();
  e = refused(preamble(1) + conn1 + tx + pending("/a", "v", 0, 0) + end_bytes());
  EXPECT_TRUE(mentions(e, "(NODE_DATA)") && mentions(e, "deleted in a transaction (no access bits) carries a value")) << e.message();
  e = refused(preamble(1) + conn1 + tx + pending("/a", "", 0, 1) + end_bytes());
  EXPECT_TRUE(mentions(e, "access bits but no permissions")) << e.message();
  e = refused(preamble(1) + conn1 + tx + pending("/a", "", 1, 1) + pending("/a", "", 1, 2) + end_bytes());
  EXPECT_TRUE(mentions(e, "duplicate node /a in its transaction")) << e.message();
}

TEST(MigrationReader, PreambleChecks) {
  EXPECT_TRUE(mentions(refused("xenstor"), "truncated preamble"));
  EXPECT_TRUE(mentions(refused("xenstorf" + preamble(1).substr(8) + end_bytes()), "ident"));
  EXPECT_TRUE(mentions(refused(preamble(0) + end_bytes()), "unsupported version 0"));
  EXPECT_TRUE(mentions(refused(preamble(3) + end_bytes()), "unsupported version 3"));
  EXPECT_TRUE(mentions(refused(preamble(1, 2) + end_bytes()), "reserved flag"));
  EXPECT_EQ(refused(preamble(3) + end_bytes()).index, std::nullopt);
  // Big-endian flag: END reads the same either way.
  EXPECT_TRUE(mig::read_stream(preamble(1, 1) + end_bytes()));
}

TEST(MigrationReader, EndChecks) {
  EXPECT_TRUE(mentions(refused(preamble(1)), "without an END"));
  EXPECT_TRUE(mentions(refused(preamble(1) + conn1), "without an END"));
  EXPECT_TRUE(mentions(refused(preamble(1) + end_bytes() + "x"), "after END"));
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(0, std::string(8, '\0'))), "END has a body"));
}

TEST(MigrationReader, UnknownRecordTypesAreNamed) {
  auto e = refused(preamble(2) + raw_record(9, "") + end_bytes());
  EXPECT_EQ(e.index, 0U);
  EXPECT_EQ(e.raw_type, 9U);
  EXPECT_EQ(e.offset, 16U);
  EXPECT_TRUE(mentions(e, "unknown record type 0x00000009")) << e.message();
  e = refused(preamble(2) + conn1 + raw_record(0xdeadbeef, "12345678") + end_bytes());
  EXPECT_EQ(e.index, 1U);
  EXPECT_EQ(e.offset, 16U + conn1.size());
  EXPECT_EQ(e.message(), "record 1 (unknown type 0xdeadbeef) at offset 48: unknown record type 0xdeadbeef");
  // WATCH_DATA_EXTENDED in a version 1 stream.
  EXPECT_TRUE(mentions(refused(preamble(1) + conn1 + c_watch_ext_record(1, "/a", "t") + end_bytes()), "not valid in a version 1"));
}

TEST(MigrationReader, OversizedLengthsAreRefused) {
  // A record len beyond the stream.
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(1, std::string(8, '\0'), 0xFFFFFFF0U) + end_bytes()), "runs past the end"));
  // String lengths beyond the record.
  std::string w = watch_body(1, "/a", "t");
  w[4] = '\x40';  // wpath-len 64
  EXPECT_TRUE(mentions(refused(preamble(1) + conn1 + raw_record(3, w) + end_bytes()), "runs past the record"));
  std::string n = node_body("/a", "v");
  n[10] = '\x7f';  // value-len 127
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(5, n) + end_bytes()), "value of 127 bytes"));
  n = node_body("/a", "v");
  n[14] = '\xff'; n[15] = '\xff';  // 65535 perms
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(5, n) + end_bytes()), "65535 permissions run past"));
  // 65535 + 65535 quota values in a 16-byte record.
  EXPECT_TRUE(mentions(refused(preamble(2) + raw_record(6, unhex("ffff ffff 00000000 00000000")) + end_bytes()), "131070 quota values"));
  // A connection's unprocessed input / unsent output / partial response.
  std::string c = socket_conn_body(1, 5);
  c[16] = '\x10';
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(2, c) + end_bytes()), "unprocessed input of 16 bytes"));
  c = socket_conn_body(1, 5);
  c[20] = '\x10';
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(2, c) + end_bytes()), "unsent output of 16 bytes"));
  c = socket_conn_body(1, 5);
  c[18] = '\x01';
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(2, c) + end_bytes()), "partial response"));
  // Too-short bodies and extra slack.
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(1, "1234", 4) + end_bytes()), "GLOBAL_DATA needs 8"));
  EXPECT_TRUE(mentions(refused(preamble(1) + conn1 + raw_record(4, tx_body(1, 1) + std::string(8, '\0')) + end_bytes()), "bytes after the record's fields"));
  // The size limit.
  mig::read_options small;
  small.max_size = 20;
  EXPECT_FALSE(mig::read_stream(preamble(1) + conn1 + end_bytes(), small));
}

TEST(MigrationReader, StringsMustBeNulTerminated) {
  std::string w = watch_body(1, "/a", "t");
  w[9] = '\0';  // inside the path
  EXPECT_TRUE(mentions(refused(preamble(1) + conn1 + raw_record(3, w) + end_bytes()), "watch path contains a NUL"));
  w = watch_body(1, "/a", "t");
  w[12] = 'x';  // token's NUL
  EXPECT_TRUE(mentions(refused(preamble(1) + conn1 + raw_record(3, w) + end_bytes()), "not NUL-terminated"));
  std::string q = unhex("0100 0000 01000000 6e6f646573");  // "nodes" without NUL
  EXPECT_TRUE(mentions(refused(preamble(2) + raw_record(6, q, 13) + end_bytes()), "quota name 0 is not NUL-terminated"));
}

TEST(MigrationReader, DuplicateAndDanglingIdsAreRefused) {
  auto e = refused(preamble(1) + conn1 + raw_record(2, ring_conn_body(1, 5)) + end_bytes());
  EXPECT_TRUE(mentions(e, "duplicate connection id 1"));
  EXPECT_EQ(e.index, 1U);
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(2, socket_conn_body(0, 5)) + end_bytes()), "connection id 0"));
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(2, ring_conn_body(1, 5)) + raw_record(2, ring_conn_body(2, 5)) + end_bytes()),
                       "a second ring connection for domain 5"));
  EXPECT_TRUE(mentions(refused(preamble(1) + conn1 + raw_record(4, tx_body(1, 2)) + raw_record(4, tx_body(1, 2)) + end_bytes()),
                       "duplicate transaction id 2"));
  EXPECT_TRUE(mentions(refused(preamble(1) + conn1 + raw_record(4, tx_body(1, 0)) + end_bytes()), "transaction id 0"));
  EXPECT_TRUE(mentions(refused(preamble(1) + conn1 + raw_record(4, tx_body(2, 1)) + end_bytes()), "no earlier CONNECTION_DATA"));
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(3, watch_body(1, "/a", "t")) + end_bytes()), "no earlier CONNECTION_DATA"));
  EXPECT_TRUE(mentions(refused(preamble(1) + conn1 + raw_record(3, watch_body(1, "/a", "t")) + raw_record(3, watch_body(1, "/a", "t")) + end_bytes()),
                       "duplicate watch"));
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(5, node_body("/a", "", 'n', 0, 1, 1, 1)) + end_bytes()), "no earlier TRANSACTION_DATA"));
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(5, node_body("/a", "")) + raw_record(5, node_body("/a", "")) + end_bytes()),
                       "duplicate node /a"));
  const std::string g = raw_record(1, unhex("ffffffff ffffffff"));
  EXPECT_TRUE(mentions(refused(preamble(1) + g + g + end_bytes()), "a second GLOBAL_DATA"));
  const std::string d = raw_record(7, unhex("0500 0000 00000000"));
  EXPECT_TRUE(mentions(refused(preamble(1) + d + d + end_bytes()), "a second DOMAIN_DATA for domain 5"));
  EXPECT_TRUE(mentions(refused(preamble(2) + raw_record(6, unhex("0200 0000 01000000 02000000 6100 6100")) + end_bytes()),
                       "duplicate quota name a"));
}

TEST(MigrationReader, BadPathsAndPermsAreRefused) {
  for (std::string p : {"a/b", "/a//b", "/a/", "/a b", "@foo", "@releaseDomain/5", "//"}) {
    auto e = refused(preamble(1) + raw_record(5, node_body(p, "")) + end_bytes());
    EXPECT_TRUE(mentions(e, "node path is not a valid absolute path")) << p << ": " << e.message();
  }
  for (std::string p : {"/", "/local/domain/1", "@releaseDomain", "@introduceDomain", "/a-b_c@d"})
    EXPECT_TRUE(mig::read_stream(preamble(1) + raw_record(5, node_body(p, "")) + end_bytes())) << p;
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(5, node_body(std::string(3073, 'a').replace(0, 1, "/"), "")) + end_bytes()),
                       "node path"));
  for (std::string p : {"/a//b", "a/", "@foo", "@releaseDomain/x"})
    EXPECT_TRUE(mentions(refused(preamble(1) + conn1 + raw_record(3, watch_body(1, p, "t")) + end_bytes()), "watch path")) << p;
  for (std::string p : {"/a", "rel/x", "@releaseDomain/7", "@introduceDomain"})
    EXPECT_TRUE(mig::read_stream(preamble(1) + conn1 + raw_record(3, watch_body(1, p, "t")) + end_bytes())) << p;
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(5, node_body("/a", "", 'x')) + end_bytes()), "no n/r/w/b letter"));
  std::string n = node_body("/a", "");
  n[17] = 2;  // perm flags
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(5, n) + end_bytes()), "unknown flags 2"));
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(5, node_body("/a", "", 'n', 0, 0)) + end_bytes()), "without permissions"));
  EXPECT_TRUE(mentions(refused(preamble(1) + raw_record(2, ring_conn_body(1, 0x7FF2)) + end_bytes()), "reserved"));
}

TEST(MigrationReader, VersionOneIgnoresDomainFeatures) {
  auto r = mig::read_stream(preamble(1) + raw_record(7, unhex("0500 0000 0f000000")) + end_bytes());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::get<mig::domain_record>(r->records[0]).features, 0U);
  r = mig::read_stream(preamble(2) + raw_record(7, unhex("0500 0000 0f000000")) + end_bytes());
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<mig::domain_record>(r->records[0]).features, 15U);
}

TEST(MigrationReader, ErrorMessageNamesRecordTypeAndOffset) {
  auto e = refused(preamble(1) + conn1 + raw_record(5, node_body("bad", "")) + end_bytes());
  EXPECT_EQ(e.message(), "record 1 (NODE_DATA) at offset 48: node path is not a valid absolute path");
}

}  // namespace
