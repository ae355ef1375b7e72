// The migration stream writer: exact bytes of each record type (pinned against the layouts of
// docs/designs/xenstore-migration.md and xenstore_state.h), both byte orders, what each version
// refuses, and write -> read of the sample streams.
#include <gtest/gtest.h>

#include "migration_bytes.hpp"
#include "migration_samples.hpp"
#include "xenwire/xenstore/migration/stream.hpp"

namespace {

namespace mig = xenwire::xenstore::migration;
using xenwire::test::unhex;
using xenwire::xenstore::perm;

std::string write(mig::stream_version v, std::vector<mig::record> recs, mig::byte_order o = mig::byte_order::little) {
  recs.push_back(mig::end_record{});
  auto bytes = mig::write_stream(mig::stream{{v, o}, std::move(recs)});
  EXPECT_TRUE(bytes.has_value()) << (bytes ? "" : bytes.error().message());
  return bytes ? *bytes : std::string();
}

const std::string pre_v1 = unhex("78656e73746f7265 00000001 00000000");
const std::string pre_v2 = unhex("78656e73746f7265 00000002 00000000");
const std::string end = unhex("00000000 00000000");

// Everything after the preamble and before END.
std::string records_of(const std::string& bytes) { return bytes.substr(16, bytes.size() - 24); }

TEST(MigrationWriter, PreambleAndEnd) {
  EXPECT_EQ(write(mig::stream_version::v1, {}), pre_v1 + end);
  EXPECT_EQ(write(mig::stream_version::v2, {}), pre_v2 + end);
  EXPECT_EQ(write(mig::stream_version::v2, {}, mig::byte_order::big), unhex("78656e73746f7265 00000002 00000001") + end);
}

TEST(MigrationWriter, Global) {
  EXPECT_EQ(records_of(write(mig::stream_version::v1, {mig::global_record{3, -1}})),
            unhex("01000000 08000000 03000000 ffffffff"));
  EXPECT_EQ(records_of(write(mig::stream_version::v1, {mig::global_record{3, 4}}, mig::byte_order::big)),
            unhex("00000001 00000008 00000003 00000004"));
}

TEST(MigrationWriter, RingConnectionWithUniqueIdAndData) {
  // 24 bytes of fields + 1 input + 2 output = 27, padded to 32, + the 8-byte unique id.
  mig::connection_record c{2, mig::ring_spec{5, mig::domid_invalid, 12}, "i", 1, "ab", 0x0102030405060708ULL};
  EXPECT_EQ(records_of(write(mig::stream_version::v1, {c})),
            unhex("02000000 28000000"
                  "02000000 0000 0100 0500 f47f 0c000000 0100 0100 02000000"
                  "69 6162 0000000000"
                  "0807060504030201"));
}

TEST(MigrationWriter, SocketConnection) {
  mig::connection_record c{1, mig::socket_spec{7}, {}, 0, {}, {}};
  EXPECT_EQ(records_of(write(mig::stream_version::v1, {c})),
            unhex("02000000 18000000 01000000 0100 0000 07000000 00000000 0000 0000 00000000"));
}

TEST(MigrationWriter, WatchAndTransaction) {
  EXPECT_EQ(records_of(write(mig::stream_version::v1, {mig::connection_record{}, mig::watch_record{1, "/a", "t"},
                                                       mig::transaction_record{1, 9}}))
                .substr(32),
            unhex("03000000 10000000 01000000 0300 0200 2f6100 7400 000000"
                  "04000000 08000000 01000000 09000000"));
}

TEST(MigrationWriter, WatchExtendedDocumentLayout) {
  // depth at 8, pad at 10, wpath at 12: 12 + 3 + 2 = 17, padded to 24.
  EXPECT_EQ(records_of(write(mig::stream_version::v2, {mig::connection_record{}, mig::watch_extended_record{1, "/a", "t", 2}}))
                .substr(32),
            unhex("08000000 18000000 01000000 0300 0200 0200 0000 2f6100 7400 00000000000000"));
}

TEST(MigrationWriter, Node) {
  mig::node_record n{0, 0, 0, {{0, perm::none}, {5, perm::read, true}}, "/a", std::string("v\0w", 3)};
  // 16 + 2*4 + 3 + 3 = 30, padded to 32.
  EXPECT_EQ(records_of(write(mig::stream_version::v1, {n})),
            unhex("05000000 20000000 00000000 00000000 0300 0300 0000 0200 6e00 0000 7201 0500 2f6100 760077 0000"));
}

TEST(MigrationWriter, GlobalQuotaAndDomain) {
  mig::global_quota_record g{{{"nodes", 1000}}, {{"x", 1}}};
  EXPECT_EQ(records_of(write(mig::stream_version::v2, {g})),
            unhex("06000000 18000000 0100 0100 e8030000 01000000 6e6f64657300 7800 00000000"));
  mig::domain_record d{5, 15, {{"nodes", 50}}};
  EXPECT_EQ(records_of(write(mig::stream_version::v2, {d})),
            unhex("07000000 18000000 0500 0100 0f000000 32000000 6e6f64657300 000000000000"));
}

TEST(MigrationWriter, VersionOneRefusesVersionTwoFields) {
  auto r = mig::write_stream({{mig::stream_version::v1, {}}, {mig::connection_record{}, mig::watch_extended_record{}, mig::end_record{}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().index, 1U);
  EXPECT_NE(r.error().message().find("WATCH_DATA_EXTENDED"), std::string::npos) << r.error().message();
  r = mig::write_stream({{mig::stream_version::v1, {}}, {mig::domain_record{1, 4, {}}, mig::end_record{}}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what.find("features"), std::string::npos);
  EXPECT_TRUE(mig::write_stream({{mig::stream_version::v1, {}}, {mig::domain_record{1, 0, {}}, mig::end_record{}}}));
}

TEST(MigrationWriter, RefusesWhatTheLayoutCannotCarry) {
  auto refuses = [](std::vector<mig::record> recs) {
    return !mig::write_stream({{mig::stream_version::v2, {}}, std::move(recs)}).has_value();
  };
  EXPECT_TRUE(refuses({}));                                               // no END
  EXPECT_TRUE(refuses({mig::end_record{}, mig::end_record{}}));           // END twice
  EXPECT_TRUE(refuses({mig::global_record{}}));                           // END missing
  EXPECT_TRUE(refuses({mig::watch_record{1, std::string("/a\0b", 4), "t"}, mig::end_record{}}));
  EXPECT_TRUE(refuses({mig::watch_record{1, "", "t"}, mig::end_record{}}));
  EXPECT_TRUE(refuses({mig::watch_extended_record{1, "/a", "t", std::nullopt}, mig::end_record{}}));
  EXPECT_TRUE(refuses({mig::node_record{0, 0, 0, {{0, perm::none}}, "/a", std::string(65536, 'x')}, mig::end_record{}}));
  EXPECT_TRUE(refuses({mig::connection_record{1, mig::socket_spec{1}, std::string(65536, 'x'), 0, {}, {}}, mig::end_record{}}));
  EXPECT_TRUE(refuses({mig::connection_record{1, mig::socket_spec{1}, {}, 3, "ab", {}}, mig::end_record{}}));
  EXPECT_TRUE(refuses({mig::domain_record{1, 0, {{std::string("a\0", 2), 1}}}, mig::end_record{}}));
}

TEST(MigrationWriter, SamplesRoundTripInEveryVersionAndOrder) {
  for (auto v : {mig::stream_version::v1, mig::stream_version::v2}) {
    for (auto o : {mig::byte_order::little, mig::byte_order::big}) {
      const mig::stream s = xenwire::test::sample_stream(v, o);
      auto bytes = mig::write_stream(s);
      ASSERT_TRUE(bytes) << bytes.error().message();
      EXPECT_EQ(bytes->size() % 8, 0U);
      auto back = mig::read_stream(*bytes);
      ASSERT_TRUE(back) << back.error().message();
      EXPECT_EQ(*back, s);
      auto again = mig::write_stream(*back);
      ASSERT_TRUE(again);
      EXPECT_EQ(*again, *bytes);
    }
  }
}

}  // namespace
