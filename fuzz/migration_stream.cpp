// Arbitrary bytes as a Xenstore migration stream (a state_dump from a hostile or broken writer).
// The reader must refuse or accept without crashing; what it accepts must write back and re-read
// to the same records (a WATCH_DATA_EXTENDED read in C's layout has no depth: it is written with
// the unlimited depth, and compared so). Violations trap.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "xenwire/xenstore/migration/stream.hpp"

namespace mig = xenwire::xenstore::migration;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto got = mig::read_stream(in);
  if (!got) {
    check(!got.error().what.empty());
    check(got.error().offset <= size);
    return 0;
  }
  check(!got->records.empty() && std::holds_alternative<mig::end_record>(got->records.back()));
  mig::stream s = std::move(*got);
  for (auto& r : s.records)
    if (auto* w = std::get_if<mig::watch_extended_record>(&r); w && !w->depth) w->depth = mig::depth_unlimited;
  auto bytes = mig::write_stream(s);
  check(bytes.has_value());
  auto again = mig::read_stream(*bytes);
  check(again.has_value());
  check(*again == s);
  auto bytes2 = mig::write_stream(*again);
  check(bytes2.has_value() && *bytes2 == *bytes);
  return 0;
}
