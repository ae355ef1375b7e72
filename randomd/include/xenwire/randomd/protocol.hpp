// randomd's request protocol over a vchan byte stream: fixed-size little-endian frames.
//
//   request  (guest → randomd, 12 bytes)          response (randomd → guest, 16 bytes + payload)
//   @0 u8  version   (1)                          @0  u8  version (1)
//   @1 u8  type      (1 = get_entropy)            @1  u8  status  (response_status)
//   @2 u16 flags     (must be 0)                  @2  u16 reserved (0)
//   @4 u32 id        (echoed in the response)     @4  u32 id      (the request's)
//   @8 u32 length    (entropy bytes wanted)       @8  u32 length  (payload bytes that follow:
//                                                                  the requested length if ok, else 0)
//                                                 @12 u32 detail  (rate_limited: retry after this many
//                                                                  ms; too_large: the largest length
//                                                                  accepted; bad_request: the version
//                                                                  spoken; else 0)
//
// Frames are fixed-size, so a malformed request can never desynchronise the stream: randomd answers
// every 12 bytes it reads with exactly one response.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace xenwire::randomd {

inline constexpr std::uint8_t protocol_version = 1;
inline constexpr std::size_t request_size = 12;
inline constexpr std::size_t response_header_size = 16;

enum class request_type : std::uint8_t { get_entropy = 1 };

enum class response_status : std::uint8_t {
  ok = 0,            // `length` entropy bytes follow
  rate_limited = 1,  // the guest's byte budget is spent: retry after `detail` ms
  too_large = 2,     // `length` exceeds what randomd serves per request (`detail`)
  bad_request = 3,   // unknown version or type, nonzero flags, or length 0
  unavailable = 4,   // the entropy source failed (getrandom); try later
};
const char* to_string(response_status s) noexcept;
// A status value randomd may send (anything else from a server is a protocol violation).
bool is_known(std::uint8_t status) noexcept;

// A request as read off the wire: every field raw, so the server can judge hostile values.
struct request {
  std::uint8_t version = protocol_version;
  std::uint8_t type = static_cast<std::uint8_t>(request_type::get_entropy);
  std::uint16_t flags = 0;
  std::uint32_t id = 0;
  std::uint32_t length = 0;
  friend bool operator==(const request&, const request&) = default;
};

struct response_header {
  std::uint8_t version = protocol_version;
  response_status status = response_status::ok;
  std::uint16_t reserved = 0;
  std::uint32_t id = 0;
  std::uint32_t length = 0;
  std::uint32_t detail = 0;
  friend bool operator==(const response_header&, const response_header&) = default;
};

// The answer a request gets before the guest's budget and the entropy source have their say:
// bad_request (unknown version or type, nonzero flags, length 0; detail: the version spoken),
// too_large (length > `max_length`; detail: `max_length`), else ok with `length` the request's. The
// server answers every frame through this; so does the fuzzer (fuzz/randomd_frames.cpp).
response_header judge(const request& q, std::uint32_t max_length) noexcept;

std::array<std::byte, request_size> encode(const request& r) noexcept;
request decode_request(std::span<const std::byte, request_size> bytes) noexcept;

std::array<std::byte, response_header_size> encode(const response_header& h) noexcept;
// nullopt for an unknown status byte (the other fields are checked by the caller, who knows the
// request).
std::optional<response_header> decode_response(std::span<const std::byte, response_header_size> bytes) noexcept;

}  // namespace xenwire::randomd
