// Xenstore migration stream: records -> bytes (write_stream) and bytes -> records (read_stream).
//
// read_stream treats its input as hostile. It checks the preamble (ident, version 1 or 2, no
// reserved flag bits), every record header (known type, valid in the version, body inside the
// input), every field inside its record (lengths, counts, NUL terminators, no NUL inside paths,
// tokens or quota names, no more than 7 bytes of slack after the fields), paths (node paths
// absolute and well-formed by xenstore/src/wire's rules, or C's two special nodes; watch paths
// absolute, relative or special), permissions (letters n/r/w/b, flags 0 or 0x01, an owner for
// every committed node), ids (connection ids non-zero and unique; watches, transactions and
// transaction nodes naming an earlier connection or transaction; transaction ids non-zero and
// unique per connection; one GLOBAL_DATA and GLOBAL_QUOTA_DATA, one DOMAIN_DATA per domid, no
// node path twice in the same scope, no watch twice), an END with an empty body and nothing after
// it. Allocation is bounded by the input's size. A failure names the record: its index, type,
// byte offset and what is wrong. No exceptions, no printing.
//
// WATCH_DATA_EXTENDED comes in two layouts. The design document's: conn-id u32, wpath-len u16,
// token-len u16, depth u16, pad u16, wpath at offset 12. C xenstored's writer (tools/xenstored/
// watch.c, dump_state_watches, Xen 4.21 and up) declares len = ROUNDUP(12 + wpath-len + token-len,
// 8) but writes only the first 8 bytes of its 12-byte struct (fwrite of sizeof the WATCH_DATA
// struct): wpath at offset 8, no depth, then padding to the next 8-byte boundary of the file. When
// (wpath-len + token-len) % 8 is 0, 5, 6 or 7 the declared len is 8 bytes longer than what follows.
// read_stream takes a record in the document's layout if it is valid as such, else in C's (depth
// nullopt, the next record where C really wrote it). write_stream writes the document's layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <tl/expected.hpp>

#include "xenwire/xenstore/migration/records.hpp"

namespace xenwire::xenstore::migration {

// What is wrong and where. `index` is the record's position (nullopt: the preamble), `raw_type`
// its type as found (nullopt: none read yet), `offset` the byte offset of its header (or of the
// preamble) in the stream.
struct stream_error {
  std::optional<std::size_t> index;
  std::optional<std::uint32_t> raw_type;
  std::size_t offset = 0;
  std::string what;
  // "record 3 (NODE_DATA) at offset 120: path is not NUL-terminated".
  std::string message() const;
};

template <class T>
using stream_result = tl::expected<T, stream_error>;

struct read_options {
  // Refuse streams longer than this (the reader never allocates more than a small multiple of
  // the input).
  std::size_t max_size = std::size_t{1} << 30;
};

stream_result<stream> read_stream(std::span<const std::byte> bytes, const read_options& opt = {});
stream_result<stream> read_stream(std::string_view bytes, const read_options& opt = {});

// Refuses what the chosen version or the layout cannot carry: END missing, not last or repeated;
// WATCH_DATA_EXTENDED in v1 or with an unknown depth; DOMAIN features in v1; a string longer than
// its length field; a NUL inside a path, token or quota name; an empty path; a partial response
// longer than the unsent output. It does not judge paths, ids or perms (read_stream does).
stream_result<std::string> write_stream(const stream& s);

}  // namespace xenwire::xenstore::migration
