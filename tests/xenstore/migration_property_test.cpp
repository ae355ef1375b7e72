// Properties of the migration stream: random valid record lists in both versions and byte orders
// round-trip byte-exactly (write -> read gives the same records, writing those gives the same
// bytes); a corrupted byte never crashes the reader, and what it still accepts round-trips.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <set>
#include <string>
#include <tuple>

#include "xenwire/xenstore/migration/stream.hpp"

namespace {

namespace mig = xenwire::xenstore::migration;
using xenwire::domid_t;
using xenwire::xenstore::perm;

std::string gen_name(std::string_view alphabet, int min, int max) {
  const int n = *rc::gen::inRange(min, max + 1);
  std::string s;
  for (int i = 0; i < n; ++i) s += alphabet[*rc::gen::inRange<std::size_t>(0, alphabet.size())];
  return s;
}
std::string gen_abs_path() {
  const int depth = *rc::gen::inRange(0, 4);
  if (depth == 0) return "/";
  std::string p;
  for (int i = 0; i < depth; ++i) p += "/" + gen_name("abz09-_@", 1, 4);
  return p;
}
std::string gen_watch_path() {
  switch (*rc::gen::inRange(0, 4)) {
    case 0: return gen_abs_path();
    case 1: return gen_name("abc", 1, 3) + gen_abs_path().substr(1);
    case 2: return "@releaseDomain";
    default: return "@introduceDomain";
  }
}
std::string gen_bytes(bool allow_nul) {
  auto s = *rc::gen::container<std::string>(rc::gen::arbitrary<char>());
  if (!allow_nul) std::erase(s, '\0');
  return s;
}
std::vector<mig::quota_value> gen_quotas(std::set<std::string>& names) {
  std::vector<mig::quota_value> q;
  const int n = *rc::gen::inRange(0, 4);
  for (int i = 0; i < n; ++i) {
    auto name = gen_name("abcdefghij-", 1, 8);
    if (names.insert(name).second) q.push_back({name, *rc::gen::arbitrary<std::uint32_t>()});
  }
  return q;
}
xenwire::xenstore::node_perms gen_perms(int min) {
  xenwire::xenstore::node_perms p;
  const int n = *rc::gen::inRange(min, 4);
  for (int i = 0; i < n; ++i)
    p.push_back({*rc::gen::arbitrary<domid_t>(), static_cast<perm>(*rc::gen::inRange(0, 4)), *rc::gen::arbitrary<bool>()});
  return p;
}

mig::stream gen_stream() {
  const auto v = *rc::gen::element(mig::stream_version::v1, mig::stream_version::v2);
  const bool v2 = v == mig::stream_version::v2;
  mig::stream s{{v, *rc::gen::element(mig::byte_order::little, mig::byte_order::big)}, {}};
  auto& r = s.records;
  if (*rc::gen::arbitrary<bool>()) r.push_back(mig::global_record{*rc::gen::inRange(-1, 1000), *rc::gen::inRange(-1, 1000)});
  if (*rc::gen::arbitrary<bool>()) {
    std::set<std::string> names;
    auto a = gen_quotas(names);
    auto b = gen_quotas(names);
    r.push_back(mig::global_quota_record{a, b});
  }
  std::set<std::uint32_t> conn_ids;
  std::set<domid_t> ring_domids;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> txs;
  const int n_conn = *rc::gen::inRange(0, 4);
  for (int i = 0; i < n_conn; ++i) {
    const auto id = *rc::gen::inRange<std::uint32_t>(1, 0xFFFFFFFF);
    if (!conn_ids.insert(id).second) continue;
    mig::connection_record c;
    c.conn_id = id;
    const auto domid = *rc::gen::inRange<domid_t>(0, xenwire::domid_first_reserved);
    if (*rc::gen::arbitrary<bool>() && ring_domids.insert(domid).second) {
      const bool has_target = *rc::gen::arbitrary<bool>();
      c.spec = mig::ring_spec{domid, has_target ? *rc::gen::inRange<domid_t>(0, 0x7FF0) : mig::domid_invalid,
                              *rc::gen::arbitrary<std::uint32_t>()};
    } else {
      c.spec = mig::socket_spec{*rc::gen::inRange(0, 1 << 20)};
    }
    c.unprocessed_input = gen_bytes(true);
    c.unsent_output = gen_bytes(true);
    c.partial_response_len = *rc::gen::inRange<std::uint16_t>(0, static_cast<std::uint16_t>(c.unsent_output.size() + 1));
    if (*rc::gen::arbitrary<bool>()) c.unique_id = *rc::gen::arbitrary<std::uint64_t>();
    r.push_back(c);
    std::set<std::tuple<std::string, std::string>> watches;
    const int n_watch = *rc::gen::inRange(0, 4);
    for (int w = 0; w < n_watch; ++w) {
      auto path = gen_watch_path();
      auto token = gen_bytes(false);
      if (!watches.insert({path, token}).second) continue;
      if (v2 && *rc::gen::arbitrary<bool>())
        r.push_back(mig::watch_extended_record{id, path, token, *rc::gen::arbitrary<std::uint16_t>()});
      else
        r.push_back(mig::watch_record{id, path, token});
    }
    const int n_tx = *rc::gen::inRange(0, 3);
    std::set<std::uint32_t> tx_ids;
    for (int t = 0; t < n_tx; ++t) {
      const auto tx = *rc::gen::inRange<std::uint32_t>(1, 0xFFFFFFFF);
      if (!tx_ids.insert(tx).second) continue;
      r.push_back(mig::transaction_record{id, tx});
      txs.emplace_back(id, tx);
    }
  }
  std::set<std::tuple<std::uint32_t, std::uint32_t, std::string>> nodes;
  const int n_nodes = *rc::gen::inRange(0, 8);
  for (int i = 0; i < n_nodes; ++i) {
    mig::node_record n;
    n.path = *rc::gen::inRange(0, 10) == 0 ? std::string("@releaseDomain") : gen_abs_path();
    if (!txs.empty() && *rc::gen::arbitrary<bool>()) {
      std::tie(n.conn_id, n.tx_id) = txs[*rc::gen::inRange<std::size_t>(0, txs.size())];
      if (*rc::gen::arbitrary<bool>()) {
        n.perms = gen_perms(1);
        n.access = *rc::gen::inRange<std::uint16_t>(1, 4);  // a node with perms was read or written
        n.value = gen_bytes(true);
      }
    } else {
      n.tx_id = *rc::gen::arbitrary<std::uint32_t>();  // meaningless for committed nodes, kept
      n.access = *rc::gen::inRange<std::uint16_t>(0, 4);
      n.perms = gen_perms(1);
      n.value = gen_bytes(true);
    }
    if (!nodes.insert({n.conn_id, n.conn_id ? n.tx_id : 0U, n.path}).second) continue;
    r.push_back(n);
  }
  std::set<domid_t> domains;
  const int n_dom = *rc::gen::inRange(0, 3);
  for (int i = 0; i < n_dom; ++i) {
    const auto domid = *rc::gen::inRange<domid_t>(0, xenwire::domid_first_reserved);
    if (!domains.insert(domid).second) continue;
    std::set<std::string> names;
    r.push_back(mig::domain_record{domid, v2 ? *rc::gen::arbitrary<std::uint32_t>() : 0U, gen_quotas(names)});
  }
  r.push_back(mig::end_record{});
  return s;
}

RC_GTEST_PROP(MigrationProperty, RandomStreamsRoundTripByteExactly, ()) {
  const mig::stream s = gen_stream();
  const auto bytes = mig::write_stream(s);
  RC_ASSERT(bytes.has_value());
  RC_ASSERT(bytes->size() % 8 == 0U);
  const auto back = mig::read_stream(*bytes);
  if (!back) RC_FAIL(back.error().message());
  RC_ASSERT(*back == s);
  const auto again = mig::write_stream(*back);
  RC_ASSERT(again.has_value());
  RC_ASSERT(*again == *bytes);
}

RC_GTEST_PROP(MigrationProperty, CorruptedStreamsAreRefusedOrRoundTrip, ()) {
  const auto bytes = mig::write_stream(gen_stream());
  RC_ASSERT(bytes.has_value());
  std::string bad = *bytes;
  const int flips = *rc::gen::inRange(1, 4);
  for (int i = 0; i < flips; ++i)
    bad[*rc::gen::inRange<std::size_t>(0, bad.size())] = static_cast<char>(*rc::gen::arbitrary<std::uint8_t>());
  const auto got = mig::read_stream(bad);
  if (!got) {
    RC_ASSERT(!got.error().what.empty());
    return;
  }
  mig::stream s = *got;
  for (auto& r : s.records)
    if (auto* w = std::get_if<mig::watch_extended_record>(&r); w && !w->depth) w->depth = mig::depth_unlimited;
  const auto rewritten = mig::write_stream(s);
  RC_ASSERT(rewritten.has_value());
  const auto reread = mig::read_stream(*rewritten);
  RC_ASSERT(reread.has_value());
  RC_ASSERT(*reread == s);
}

}  // namespace
