// --trace: follows one direction of a connection's byte stream and describes each message as its
// last byte passes ("conn 3 > WRITE req 0 tx 0 len 9 "/a\0b""). Holds a header and a short payload
// prefix, never a whole frame, so tracing costs no per-message allocation beyond the line itself.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace xenwire::xenstore {

class message_tracer {
 public:
  static constexpr std::size_t shown_payload = 96;

  // `prefix` starts every line (e.g. "conn 3 <").
  explicit message_tracer(std::string prefix) : prefix_(std::move(prefix)) {}
  void feed(std::span<const std::byte> bytes, const std::function<void(std::string_view)>& emit);

 private:
  std::string prefix_;
  std::array<std::byte, 16> header_{};
  std::size_t header_have_ = 0;
  std::uint32_t payload_left_ = 0;
  std::uint32_t payload_len_ = 0;
  std::array<char, shown_payload> shown_{};
  std::size_t shown_have_ = 0;
  std::string line_;  // reused
  void finish(const std::function<void(std::string_view)>& emit);
};

}  // namespace xenwire::xenstore
