#include "xenwire/randomd/protocol.hpp"

namespace xenwire::randomd {

namespace {

// Explicit byte order: the frames are little-endian whatever the host is.
void put16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::byte>(v & 0xff);
  p[1] = static_cast<std::byte>(v >> 8);
}
void put32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}
std::uint16_t get16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) | (std::to_integer<unsigned>(p[1]) << 8));
}
std::uint32_t get32(const std::byte* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::to_integer<std::uint32_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

const char* to_string(response_status s) noexcept {
  switch (s) {
    case response_status::ok: return "ok";
    case response_status::rate_limited: return "rate-limited";
    case response_status::too_large: return "too large";
    case response_status::bad_request: return "bad request";
    case response_status::unavailable: return "entropy unavailable";
  }
  return "unknown status";
}

bool is_known(std::uint8_t status) noexcept { return status <= static_cast<std::uint8_t>(response_status::unavailable); }

response_header judge(const request& q, std::uint32_t max_length) noexcept {
  response_header h;
  h.id = q.id;
  if (q.version != protocol_version || q.type != static_cast<std::uint8_t>(request_type::get_entropy) ||
      q.flags != 0 || q.length == 0) {
    h.status = response_status::bad_request;
    h.detail = protocol_version;
  } else if (q.length > max_length) {
    h.status = response_status::too_large;
    h.detail = max_length;
  } else {
    h.length = q.length;
  }
  return h;
}

std::array<std::byte, request_size> encode(const request& r) noexcept {
  std::array<std::byte, request_size> out{};
  out[0] = static_cast<std::byte>(r.version);
  out[1] = static_cast<std::byte>(r.type);
  put16(&out[2], r.flags);
  put32(&out[4], r.id);
  put32(&out[8], r.length);
  return out;
}

request decode_request(std::span<const std::byte, request_size> b) noexcept {
  request r;
  r.version = std::to_integer<std::uint8_t>(b[0]);
  r.type = std::to_integer<std::uint8_t>(b[1]);
  r.flags = get16(&b[2]);
  r.id = get32(&b[4]);
  r.length = get32(&b[8]);
  return r;
}

std::array<std::byte, response_header_size> encode(const response_header& h) noexcept {
  std::array<std::byte, response_header_size> out{};
  out[0] = static_cast<std::byte>(h.version);
  out[1] = static_cast<std::byte>(h.status);
  put16(&out[2], h.reserved);
  put32(&out[4], h.id);
  put32(&out[8], h.length);
  put32(&out[12], h.detail);
  return out;
}

std::optional<response_header> decode_response(std::span<const std::byte, response_header_size> b) noexcept {
  const auto status = std::to_integer<std::uint8_t>(b[1]);
  if (!is_known(status)) return std::nullopt;
  response_header h;
  h.version = std::to_integer<std::uint8_t>(b[0]);
  h.status = static_cast<response_status>(status);
  h.reserved = get16(&b[2]);
  h.id = get32(&b[4]);
  h.length = get32(&b[8]);
  h.detail = get32(&b[12]);
  return h;
}

}  // namespace xenwire::randomd
