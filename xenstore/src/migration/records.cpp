// Record names, the record variant's type, and error messages.
#include <cstdio>
#include <string>

#include "xenwire/xenstore/migration/records.hpp"
#include "xenwire/xenstore/migration/stream.hpp"

namespace xenwire::xenstore::migration {

std::string_view name(record_type t) noexcept {
  switch (t) {
    case record_type::end: return "END";
    case record_type::global: return "GLOBAL_DATA";
    case record_type::connection: return "CONNECTION_DATA";
    case record_type::watch: return "WATCH_DATA";
    case record_type::transaction: return "TRANSACTION_DATA";
    case record_type::node: return "NODE_DATA";
    case record_type::global_quota: return "GLOBAL_QUOTA_DATA";
    case record_type::domain: return "DOMAIN_DATA";
    case record_type::watch_extended: return "WATCH_DATA_EXTENDED";
  }
  return "unknown";
}

record_type type_of(const record& r) noexcept {
  struct visitor {
    record_type operator()(const end_record&) const { return record_type::end; }
    record_type operator()(const global_record&) const { return record_type::global; }
    record_type operator()(const connection_record&) const { return record_type::connection; }
    record_type operator()(const watch_record&) const { return record_type::watch; }
    record_type operator()(const transaction_record&) const { return record_type::transaction; }
    record_type operator()(const node_record&) const { return record_type::node; }
    record_type operator()(const global_quota_record&) const { return record_type::global_quota; }
    record_type operator()(const domain_record&) const { return record_type::domain; }
    record_type operator()(const watch_extended_record&) const { return record_type::watch_extended; }
  };
  return std::visit(visitor{}, r);
}

std::string stream_error::message() const {
  std::string m;
  if (index) {
    m = "record " + std::to_string(*index);
    if (raw_type) {
      const auto t = static_cast<record_type>(*raw_type);
      std::string_view n = *raw_type <= 8 ? name(t) : std::string_view("unknown type");
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%08x", *raw_type);
      m += " (" + std::string(n) + (*raw_type <= 8 ? "" : std::string(" ") + hex) + ")";
    }
  } else {
    m = "preamble";
  }
  m += " at offset " + std::to_string(offset) + ": " + what;
  return m;
}

}  // namespace xenwire::xenstore::migration
