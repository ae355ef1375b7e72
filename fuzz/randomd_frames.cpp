// What randomd parses from a guest, fed arbitrary bytes: the request node's value (a nonce) and the
// byte stream of request frames over the guest's vchan, cut into reads of any size as a
// non-blocking vchan delivers them. Each complete 12-byte frame is decoded and judged as the server
// does (protocol.hpp's judge(), then the guest's token bucket on a fake clock) and its response
// header encoded; invariants are checked with fuzzing::check (abort) so a violation is a crash.
//
// Input layout: u16 max_request, u16 burst, u16 rate (each +1 where 0 makes no sense), u8 seed for
// read sizes and clock steps, u8 nonce length (mod 33) and that many bytes, then the frame stream.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "xenwire/randomd/discovery.hpp"
#include "xenwire/randomd/protocol.hpp"
#include "xenwire/randomd/token_bucket.hpp"

namespace rd = xenwire::randomd;
using xenwire::fuzzing::check;

namespace {

std::uint16_t u16(xenwire::fuzzing::input& in) {
  const unsigned hi = in.u8();
  return static_cast<std::uint16_t>(hi << 8 | in.u8());
}

void exercise_nonce(std::string_view text) {
  const auto v = rd::parse_nonce(text);
  if (!v) return;
  // Only 16 lowercase hex digits parse, and they are exactly what format_nonce writes.
  check(text.size() == rd::nonce_digits);
  check(rd::format_nonce(*v) == text);
}

// One complete frame, as the server answers it.
void exercise_frame(std::span<const std::byte, rd::request_size> frame, std::uint32_t max_length,
                    rd::token_bucket& bucket, rd::token_bucket::clock::time_point now) {
  const rd::request q = rd::decode_request(frame);
  // Lossless: every field raw, so the server judges exactly what the guest sent.
  const auto again = rd::encode(q);
  check(std::memcmp(again.data(), frame.data(), rd::request_size) == 0);

  rd::response_header h = rd::judge(q, max_length);
  check(h.id == q.id && h.version == rd::protocol_version && h.reserved == 0);
  const bool well_formed = q.version == rd::protocol_version &&
                           q.type == static_cast<std::uint8_t>(rd::request_type::get_entropy) && q.flags == 0 &&
                           q.length != 0;
  switch (h.status) {
    case rd::response_status::bad_request:
      check(!well_formed && h.length == 0 && h.detail == rd::protocol_version);
      break;
    case rd::response_status::too_large:
      check(well_formed && q.length > max_length && h.length == 0 && h.detail == max_length);
      break;
    case rd::response_status::ok:
      check(well_formed && h.length == q.length && h.length <= max_length && h.detail == 0);
      if (auto wait = bucket.take(h.length, now)) {
        check(*wait >= std::chrono::milliseconds(1) && *wait <= rd::token_bucket::never_ms);
        h.status = rd::response_status::rate_limited;
        h.length = 0;
        h.detail = static_cast<std::uint32_t>(wait->count());
      }
      break;
    default:
      check(false);  // judge() answers nothing else
  }
  // The guest reads back exactly what randomd wrote.
  const auto head = rd::encode(h);
  const auto back = rd::decode_response(head);
  check(back.has_value() && *back == h);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  xenwire::fuzzing::input in{data, size};
  const std::uint32_t max_request = u16(in) + 1u;
  const rd::rate_limit limit{.rate = u16(in), .burst = u16(in) + 1u};
  const std::uint32_t max_length = std::min(max_request, limit.burst);  // as the server caps requests
  std::uint32_t rng = in.u8() * 0x01000193u + 0x811c9dc5u;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  };

  std::string nonce(in.u8() % 33u, '\0');
  in.fill(nonce.data(), nonce.size());
  exercise_nonce(nonce);

  // The stream, in reads of 1..24 bytes; the clock moves 0..255 ms between reads.
  auto now = rd::token_bucket::clock::time_point{} + std::chrono::hours(1);
  rd::token_bucket bucket(limit, now);
  std::array<std::byte, rd::request_size> frame{};
  std::size_t have = 0, frames = 0, total = 0;
  while (in.n > 0) {
    const std::size_t want = std::min<std::size_t>({1 + next() % 24, in.n, rd::request_size - have});
    in.fill(frame.data() + have, want);
    have += want;
    total += want;
    now += std::chrono::milliseconds(next() % 256);
    if (have < rd::request_size) continue;
    have = 0;
    exercise_frame(frame, max_length, bucket, now);
    ++frames;
    check(bucket.available(now) <= limit.burst);
  }
  // Fixed-size frames: every 12 bytes got exactly one answer, whatever the read sizes were.
  check(frames == total / rd::request_size && have == total % rd::request_size);
  return 0;
}
