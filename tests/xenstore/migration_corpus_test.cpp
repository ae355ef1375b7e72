// The fuzz seed corpus of fuzz_migration_stream (fuzz/corpus/migration_stream/) is made here:
// XENWIRE_WRITE_MIGRATION_CORPUS=1 ctest -R MigrationCorpus rewrites it; otherwise the test checks
// that the committed files are exactly what this file generates, and that each one is accepted.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "migration_bytes.hpp"
#include "migration_samples.hpp"
#include "xenwire/xenstore/migration/stream.hpp"

namespace {

namespace mig = xenwire::xenstore::migration;
using namespace xenwire::test;

std::map<std::string, std::string> seeds() {
  std::map<std::string, std::string> out;
  for (auto v : {mig::stream_version::v1, mig::stream_version::v2}) {
    for (auto o : {mig::byte_order::little, mig::byte_order::big}) {
      const std::string name = std::string("sample_v") + (v == mig::stream_version::v1 ? "1" : "2") +
                               (o == mig::byte_order::little ? "_le" : "_be");
      out[name] = *mig::write_stream(sample_stream(v, o));
    }
  }
  out["empty_v1"] = preamble(1) + end_bytes();
  // WATCH_DATA_EXTENDED as C xenstored writes it, both cases of its length mismatch.
  out["c_watch_ext_v2"] = preamble(2) + raw_record(2, ring_conn_body(1, 3)) + c_watch_ext_record(1, "/a", "tok") +
                          c_watch_ext_record(1, "/", "t") + raw_record(5, node_body("/", "")) + end_bytes();
  // Open transactions as xenwire's export carries them (a written, a read and a deleted node; one
  // transaction already conflicted: the doom marker), and pending-node shapes at the reader's edges.
  const std::string conn1 = raw_record(2, socket_conn_body(1, 5));
  auto pending = [](std::string_view path, std::string_view value, std::uint16_t perm_n, std::uint16_t access,
                    std::uint32_t tx) {
    std::string b = node_body(path, value, 'n', 0, perm_n, 1, tx);
    b[12] = static_cast<char>(access & 0xff);
    b[13] = static_cast<char>(access >> 8);
    return raw_record(5, b);
  };
  out["xenwire_transactions_v1"] = preamble(1) + conn1 + raw_record(4, tx_body(1, 3)) + pending("/a", "new", 1, 2, 3) +
                                   pending("/b", "seen", 1, 1, 3) + pending("/c", "", 0, 0, 3) +
                                   raw_record(4, tx_body(1, 4)) + pending("/b", "seen", 1, 1, 4) +
                                   pending("@introduceDomain", "", 1, 1, 4) + raw_record(5, node_body("/", "")) +
                                   raw_record(5, node_body("/b", "seen")) + raw_record(5, node_body("/c", "")) + end_bytes();
  out["xenwire_transaction_read_written_v2"] = preamble(2) + conn1 + raw_record(4, tx_body(1, 0xffffffff)) +
                                               pending("/a/b", std::string("v\0w", 3), 1, 3, 0xffffffff) +
                                               raw_record(5, node_body("/", "")) + end_bytes();
  return out;
}

TEST(MigrationCorpus, CommittedSeedsAreGeneratedAndAccepted) {
  const std::filesystem::path dir = XENWIRE_MIGRATION_CORPUS;
  const bool write = std::getenv("XENWIRE_WRITE_MIGRATION_CORPUS") != nullptr;
  if (write) std::filesystem::create_directories(dir);
  for (const auto& [name, bytes] : seeds()) {
    auto r = mig::read_stream(bytes);
    EXPECT_TRUE(r) << name << ": " << (r ? "" : r.error().message());
    if (write) {
      std::ofstream(dir / name, std::ios::binary) << bytes;
      continue;
    }
    std::ifstream in(dir / name, std::ios::binary);
    ASSERT_TRUE(in) << "missing seed " << name << " (regenerate with XENWIRE_WRITE_MIGRATION_CORPUS=1)";
    const std::string committed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(committed, bytes) << name;
  }
}

}  // namespace
