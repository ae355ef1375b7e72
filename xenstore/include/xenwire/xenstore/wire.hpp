// Xenstore framing (xs_wire.h's struct xsd_sockmsg): message types, the 16-byte header, an
// incremental frame decoder for untrusted byte streams and an allocation-frugal encoder.
// Pure code: no I/O. Payload bytes are carried in std::string / std::string_view (they may hold NULs).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "xenwire/base/error.hpp"
#include "xenwire/ring/xenstore_layout.hpp"
#include "xenwire/xenstore/errors.hpp"

namespace xenwire::xenstore {

enum class msg_type : std::uint32_t {
  control = 0,  // alias: debug
  directory = 1,
  read = 2,
  get_perms = 3,
  watch = 4,
  unwatch = 5,
  transaction_start = 6,
  transaction_end = 7,
  introduce = 8,
  release = 9,
  get_domain_path = 10,
  write = 11,
  mkdir = 12,
  rm = 13,
  set_perms = 14,
  watch_event = 15,
  error = 16,
  is_domain_introduced = 17,
  resume = 18,
  set_target = 19,
  // 20 was RESTRICT, removed upstream: invalid.
  reset_watches = 21,
  directory_part = 22,
  get_feature = 23,  // 23..26: upstream only, not in the 4.17 header
  set_feature = 24,
  get_quota = 25,
  set_quota = 26,
  invalid = 0xffff,  // XS_INVALID: guaranteed to stay invalid
};

inline constexpr msg_type msg_type_debug = msg_type::control;  // XS_DEBUG: an alias of CONTROL
inline constexpr std::uint32_t msg_type_count = 27;  // raw values 0..26 (20 is a hole)

// True for the 26 values that name a message type (0..26 except 20).
constexpr bool is_valid_type(std::uint32_t raw) noexcept { return raw < msg_type_count && raw != 20; }
constexpr std::optional<msg_type> to_msg_type(std::uint32_t raw) noexcept {
  if (!is_valid_type(raw)) return std::nullopt;
  return static_cast<msg_type>(raw);
}
// "CONTROL", "DIRECTORY", ...; "INVALID" for anything that is not a valid type.
std::string_view name(msg_type t) noexcept;
std::string_view type_name(std::uint32_t raw) noexcept;

// struct xsd_sockmsg, host byte order.
struct header {
  std::uint32_t type;
  std::uint32_t req_id;
  std::uint32_t tx_id;
  std::uint32_t len;
  friend bool operator==(const header&, const header&) = default;
};
static_assert(sizeof(header) == 16);
static_assert(offsetof(header, type) == 0 && offsetof(header, req_id) == 4);
static_assert(offsetof(header, tx_id) == 8 && offsetof(header, len) == 12);

inline constexpr std::size_t header_size = sizeof(header);
inline constexpr std::size_t frame_max = header_size + xenstore::payload_max;

// A decoded message whose payload points into the decoder's buffer (valid until its next call).
struct message_view {
  header hdr;
  std::string_view payload;
  std::optional<msg_type> type() const noexcept { return to_msg_type(hdr.type); }
};

// An owning message, for queues and tests.
struct message {
  header hdr{};
  std::string payload;
  message() = default;
  message(header h, std::string p) : hdr(h), payload(std::move(p)) {}
  explicit message(const message_view& v) : hdr(v.hdr), payload(v.payload) {}
  message_view view() const noexcept { return {hdr, payload}; }
  friend bool operator==(const message&, const message&) = default;
};

// Reassembles messages from arbitrary chunks (one byte at a time or many frames at once).
// Memory is fixed: one header plus payload_max bytes. A header with len > payload_max is a protocol
// violation (errc::protocol_error): the decoder then stays failed and the connection must be dropped.
// Message types are not judged here (an unknown type deserves an ENOSYS reply, not a drop).
class frame_decoder {
 public:
  // Consumes bytes from the front of `in` (advancing it) until one message is complete.
  // Returns that message, or nullopt once `in` is exhausted with a message still partial.
  result<std::optional<message_view>> next(std::span<const std::byte>& in) noexcept;
  result<std::optional<message_view>> next(std::string_view& in) noexcept;

  // Feeds a whole chunk, calling on_message(const message_view&) for each complete message.
  template <class F>
  result<void> feed(std::span<const std::byte> chunk, F&& on_message) {
    for (;;) {
      auto r = next(chunk);
      if (!r) return fail(r.error());
      if (!*r) return {};
      on_message(**r);
    }
  }

  bool failed() const noexcept { return failed_; }
  bool idle() const noexcept { return buffered() == 0; }  // no partial message held
  std::size_t buffered() const noexcept { return delivered_ ? 0 : have_; }
  // The partial message's bytes (live update carries them across).
  std::string_view partial() const noexcept { return {buf_.data(), buffered()}; }
  void reset() noexcept { have_ = 0, delivered_ = false, failed_ = false; }

 private:
  result<std::optional<message_view>> next_bytes(const char*& p, std::size_t& n) noexcept;
  std::array<char, frame_max> buf_{};
  std::size_t have_ = 0;
  bool delivered_ = false;  // buf_ holds a message already handed out
  bool failed_ = false;
};

// Appends one message to a byte buffer. Reusing the buffer (clear() keeps its capacity) makes
// steady-state encoding allocation-free. The length is patched in by finish().
//
//   message_writer w(out, msg_type::write, req_id, tx_id);
//   w.arg(path); w.raw(value);
//   if (auto r = w.finish(); !r) ...  // e2big when the payload would exceed payload_max; out is restored
class message_writer {
 public:
  message_writer(std::string& out, std::uint32_t type, std::uint32_t req_id, std::uint32_t tx_id);
  message_writer(std::string& out, msg_type type, std::uint32_t req_id, std::uint32_t tx_id)
      : message_writer(out, static_cast<std::uint32_t>(type), req_id, tx_id) {}
  message_writer(const message_writer&) = delete;
  message_writer& operator=(const message_writer&) = delete;
  ~message_writer();  // finish()es if the caller did not

  message_writer& raw(std::string_view bytes);    // bytes as they are
  message_writer& arg(std::string_view s);        // s followed by a NUL
  message_writer& arg(std::uint64_t number);      // decimal, NUL-terminated
  std::size_t payload_size() const noexcept;
  bool overflowed() const noexcept { return overflow_; }
  // Writes the header's len; on overflow removes this message from `out` and fails with e2big.
  xs_result<void> finish();
  // Removes this message from `out`.
  void cancel() noexcept;

 private:
  bool fits(std::size_t more) noexcept;
  std::string& out_;
  std::size_t start_;
  bool overflow_ = false;
  bool done_ = false;
};

// One-shot encoders. Fail with e2big if payload > payload_max (nothing written).
xs_result<void> encode(std::string& out, const header& h_without_len, std::string_view payload);
// Into a caller-provided buffer; returns the frame size. e2big also when `out` is too small.
xs_result<std::size_t> encode_to(std::span<std::byte> out, const header& h_without_len, std::string_view payload);

}  // namespace xenwire::xenstore
