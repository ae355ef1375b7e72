// Sample migration streams for the migration tests and the fuzz seed corpus: every record type,
// shaped as C xenstored writes them (GLOBAL, GLOBAL_QUOTA, each CONNECTION followed by its
// watches, TRANSACTION, NODEs with "/" first and the two special nodes last, DOMAINs, END).
#pragma once

#include <string>
#include <vector>

#include "xenwire/xenstore/migration/records.hpp"

namespace xenwire::test {

namespace mig = xenwire::xenstore::migration;

inline mig::stream sample_stream(mig::stream_version v, mig::byte_order order = mig::byte_order::little) {
  using xenwire::xenstore::perm;
  const bool v2 = v == mig::stream_version::v2;
  mig::stream s{{v, order}, {}};
  auto& r = s.records;
  r.push_back(mig::global_record{3, 4});
  r.push_back(mig::global_quota_record{{{"nodes", 1000}, {"watches", 128}, {"soft-memory", 2097152}}, {{"outstanding", 20}}});
  r.push_back(mig::connection_record{1, mig::socket_spec{7}, std::string("\x02\0\0\0", 4), 0, {}, {}});
  r.push_back(mig::watch_record{1, "/local/domain", "tok"});
  r.push_back(mig::connection_record{2, mig::ring_spec{5, mig::domid_invalid, 12}, {}, 3,
                                     std::string("\x0f\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0OK", 18), 0x123456789abcdefULL});
  r.push_back(mig::watch_record{2, "device", "rel"});
  r.push_back(mig::watch_record{2, "@releaseDomain", "rd"});
  if (v2) r.push_back(mig::watch_extended_record{2, "/local/domain/5/data", "deep", 2});
  r.push_back(mig::transaction_record{2, 9});
  r.push_back(mig::node_record{0, 0, 0, {{0, perm::none}}, "/", ""});
  r.push_back(mig::node_record{0, 0, 0, {{0, perm::none}}, "/local", ""});
  r.push_back(mig::node_record{0, 0, 0, {{0, perm::read}, {5, perm::both}}, "/local/domain", ""});
  r.push_back(mig::node_record{0, 0, 0, {{5, perm::none}, {7, perm::read, true}}, "/local/domain/5", std::string("a\0b", 3)});
  r.push_back(mig::node_record{2, 9, mig::node_access_written, {{5, perm::none}}, "/local/domain/5/data", "x"});
  r.push_back(mig::node_record{2, 9, 0, {}, "/local/domain/5/gone", ""});
  r.push_back(mig::node_record{0, 0, 0, {{0, perm::none}, {0x7FF5, perm::read}}, "@releaseDomain", ""});
  r.push_back(mig::node_record{0, 0, 0, {{0, perm::none}}, "@introduceDomain", ""});
  r.push_back(mig::domain_record{0, v2 ? 15U : 0U, {}});
  r.push_back(mig::domain_record{5, v2 ? 14U : 0U, {{"nodes", 50}, {"memory", 0}}});
  r.push_back(mig::end_record{});
  return s;
}

}  // namespace xenwire::test
