// Replies: builders for the server (each appends one frame to `out`, echoing req_id and tx_id)
// and parsers for the client. A builder that fails (e2big) leaves `out` as it was.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "xenwire/xenstore/args.hpp"
#include "xenwire/xenstore/errors.hpp"
#include "xenwire/xenstore/perms.hpp"
#include "xenwire/xenstore/wire.hpp"

namespace xenwire::xenstore {

// --- server side ---------------------------------------------------------------------------------

// "OK\0" with the request's type.
void write_ok(std::string& out, const header& request);
// ERROR "<NAME>\0".
void write_error(std::string& out, const header& request, xs_error e);
// The request's type with raw bytes (READ's value: no NUL added).
xs_result<void> write_raw_reply(std::string& out, const header& request, std::string_view bytes);
// The request's type with "s\0" (TRANSACTION_START's id, GET_DOMAIN_PATH, "T"/"F", GET_QUOTA, ...).
xs_result<void> write_string_reply(std::string& out, const header& request, std::string_view s);
xs_result<void> write_number_reply(std::string& out, const header& request, std::uint64_t n);
// The request's type with "a\0b\0...": DIRECTORY (names), GET_PERMS (use write_perms_reply).
xs_result<void> write_string_list_reply(std::string& out, const header& request,
                                        std::span<const std::string_view> items);
xs_result<void> write_perms_reply(std::string& out, const header& request, perms_view perms);
// DIRECTORY_PART, as C xenstored: `children` is the node's whole child list "a\0b\0...\0";
// the reply is "gencnt\0" + the children from byte `offset` that fit, + one extra "\0" when the
// list's end is included (an offset at or past the end yields "gencnt\0\0").
xs_result<void> write_directory_part_reply(std::string& out, const header& request, std::uint64_t gencnt,
                                           std::string_view children, std::uint32_t offset);
// WATCH_EVENT "path\0token\0" with req_id = tx_id = 0; e2big when it would exceed payload_max
// (C xenstored drops such events).
xs_result<void> write_watch_event(std::string& out, std::string_view path, std::string_view token);

// --- client side ---------------------------------------------------------------------------------

struct watch_event_view {
  std::string_view path;
  std::string_view token;
};
// WATCH_EVENT payload: exactly "path\0token\0".
xs_result<watch_event_view> parse_watch_event(std::string_view payload) noexcept;
// ERROR payload "<NAME>\0": the error it names; an unknown or malformed name is EINVAL (libxenstore).
xs_error parse_error_reply(std::string_view payload) noexcept;
// "OK\0" exactly.
bool is_ok_reply(std::string_view payload) noexcept;
// A single "s\0" reply (TRANSACTION_START, GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED, ...).
inline xs_result<std::string_view> parse_string_reply(std::string_view payload) noexcept { return single_arg(payload); }
// TRANSACTION_START's reply: the transaction id.
xs_result<std::uint32_t> parse_transaction_id(std::string_view payload) noexcept;
// IS_DOMAIN_INTRODUCED's reply: "T\0" or "F\0".
xs_result<bool> parse_bool_reply(std::string_view payload) noexcept;
// DIRECTORY's reply: zero or more names.
inline xs_result<string_list> parse_directory_reply(std::string_view payload) noexcept {
  return string_list::parse(payload);
}
struct directory_part_view {
  std::uint64_t gencnt;
  string_list children;  // this chunk's names
  bool complete;         // the chunk ended with the extra empty string: no more children
  std::uint32_t next_offset_delta;  // bytes of children consumed: add to the request's offset
};
xs_result<directory_part_view> parse_directory_part_reply(std::string_view payload) noexcept;

}  // namespace xenwire::xenstore
