// Xen's Xenstore migration stream (docs/designs/xenstore-migration.md, tools/xenstored/
// xenstore_state.h): the record model. Plain structs, one per record type; a stream is a preamble
// and a list of records ending with END. The bytes are made and checked by stream.hpp.
//
// Byte layout (every record header and body in the byte order named by the preamble's flag; the
// preamble itself is always big-endian):
//   preamble   "xenstore" u32 version u32 flags (bit 0: big-endian; bits 1..31 zero)
//   record     u32 type, u32 len, body, zero padding to a multiple of 8
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "xenwire/base/ids.hpp"
#include "xenwire/xenstore/perms.hpp"

namespace xenwire::xenstore::migration {

// DOMID_INVALID (xen.h): a ring connection's `tdomid` when it has no SET_TARGET.
inline constexpr domid_t domid_invalid = 0x7FF4;
// WATCH_DATA_EXTENDED's depth for "unlimited".
inline constexpr std::uint16_t depth_unlimited = 0xFFFF;

// 1: Xen 4.17 and up (C xenstored 4.17 writes and reads only this). 2: Xen 4.21 and up (adds
// WATCH_DATA_EXTENDED and DOMAIN's `features`).
enum class stream_version : std::uint32_t { v1 = 1, v2 = 2 };
enum class byte_order : std::uint8_t { little, big };

enum class record_type : std::uint32_t {
  end = 0,
  global = 1,
  connection = 2,
  watch = 3,
  transaction = 4,
  node = 5,
  global_quota = 6,
  domain = 7,
  watch_extended = 8,  // version 2 and up
};
// "END", "GLOBAL_DATA", ..., "WATCH_DATA_EXTENDED"; "unknown" for anything else.
std::string_view name(record_type t) noexcept;

struct preamble {
  stream_version version = stream_version::v2;
  byte_order order = byte_order::little;
  friend bool operator==(const preamble&, const preamble&) = default;
};

// END: no fields; the last record of a stream and only there.
struct end_record {
  friend bool operator==(const end_record&, const end_record&) = default;
};

// GLOBAL_DATA: the listening socket (-1: none) and the event-channel driver's fd (live update).
struct global_record {
  std::int32_t socket_fd = -1;
  std::int32_t evtchn_fd = -1;
  friend bool operator==(const global_record&, const global_record&) = default;
};

// CONNECTION_DATA's conn-spec for a shared ring (conn-type 0).
struct ring_spec {
  domid_t domid = 0;
  domid_t target_domid = domid_invalid;  // SET_TARGET's target, else DOMID_INVALID
  std::uint32_t evtchn = 0;              // xenstored's local port to the domain
  friend bool operator==(const ring_spec&, const ring_spec&) = default;
};
// CONNECTION_DATA's conn-spec for a socket (conn-type 1): the connected socket's fd.
struct socket_spec {
  std::int32_t fd = -1;
  friend bool operator==(const socket_spec&, const socket_spec&) = default;
};

// CONNECTION_DATA. `unprocessed_input` (<= 65535 bytes): read, not yet handled; `unsent_output`:
// queued, not yet written, whose first `partial_response_len` bytes are the rest of a response
// already partly written. `unique_id` is the `fields` bit 0 extra field (C writes a domain's
// unique id for ring connections).
struct connection_record {
  std::uint32_t conn_id = 1;  // non-zero, unique in the stream
  std::variant<ring_spec, socket_spec> spec{};
  std::string unprocessed_input;
  std::uint16_t partial_response_len = 0;  // <= unsent_output.size()
  std::string unsent_output;
  std::optional<std::uint64_t> unique_id;
  friend bool operator==(const connection_record&, const connection_record&) = default;
};

// WATCH_DATA: a watch as the connection registered it (the path may be relative or special).
struct watch_record {
  std::uint32_t conn_id = 1;
  std::string path;
  std::string token;
  friend bool operator==(const watch_record&, const watch_record&) = default;
};

// WATCH_DATA_EXTENDED (v2): a watch with a depth. `depth` is nullopt when the record was read in
// the layout C xenstored's writer really produces, which leaves the depth out (see stream.hpp);
// the writer refuses a nullopt depth, so the caller decides what to put there.
struct watch_extended_record {
  std::uint32_t conn_id = 1;
  std::string path;
  std::string token;
  std::optional<std::uint16_t> depth = depth_unlimited;
  friend bool operator==(const watch_extended_record&, const watch_extended_record&) = default;
};

// TRANSACTION_DATA: a transaction open on a connection.
struct transaction_record {
  std::uint32_t conn_id = 1;
  std::uint32_t tx_id = 1;  // non-zero, unique per connection
  friend bool operator==(const transaction_record&, const transaction_record&) = default;
};

// NODE_DATA's `access` bits (pending transaction nodes only).
inline constexpr std::uint16_t node_access_read = 0x1;
inline constexpr std::uint16_t node_access_written = 0x2;

// NODE_DATA. conn_id 0: a committed node (tx_id and access kept as read, meaningless); else a
// node of the pending transaction (conn_id, tx_id), with no perms if the transaction deleted it.
// Perms: entry 0 the owner; `ignored` is the specifier's flag 0x01 (stale permission).
// Path: an absolute node path, or "@releaseDomain"/"@introduceDomain" (C writes both).
struct node_record {
  std::uint32_t conn_id = 0;
  std::uint32_t tx_id = 0;
  std::uint16_t access = 0;
  node_perms perms;
  std::string path;
  std::string value;  // <= 65535 bytes, may hold NULs
  friend bool operator==(const node_record&, const node_record&) = default;
};

// A named quota value (C names: "nodes", "watches", ..., "soft-memory"; 0 = unlimited).
struct quota_value {
  std::string name;
  std::uint32_t value = 0;
  friend bool operator==(const quota_value&, const quota_value&) = default;
};

// GLOBAL_QUOTA_DATA: the defaults applied per domain, then the ones applying globally only.
struct global_quota_record {
  std::vector<quota_value> per_domain;
  std::vector<quota_value> global_only;
  friend bool operator==(const global_quota_record&, const global_quota_record&) = default;
};

// DOMAIN_DATA: one per domain at most. `features` (the ring page's server features) is v2 only;
// a v1 stream carries 0.
struct domain_record {
  domid_t domid = 0;
  std::uint32_t features = 0;
  std::vector<quota_value> quotas;
  friend bool operator==(const domain_record&, const domain_record&) = default;
};

using record = std::variant<end_record, global_record, connection_record, watch_record, transaction_record,
                            node_record, global_quota_record, domain_record, watch_extended_record>;

record_type type_of(const record& r) noexcept;

// A whole stream: `records` ends with end_record, which occurs nowhere else.
struct stream {
  preamble pre;
  std::vector<record> records;
  friend bool operator==(const stream&, const stream&) = default;
};

}  // namespace xenwire::xenstore::migration
