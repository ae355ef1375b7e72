#include <charconv>
#include <cstring>

#include "xenwire/xenstore/wire.hpp"

namespace xenwire::xenstore {

namespace {
void put_header(char* dst, const header& h) noexcept { std::memcpy(dst, &h, header_size); }
}  // namespace

message_writer::message_writer(std::string& out, std::uint32_t type, std::uint32_t req_id, std::uint32_t tx_id)
    : out_(out), start_(out.size()) {
  header h{type, req_id, tx_id, 0};
  out_.append(header_size, '\0');
  put_header(out_.data() + start_, h);
}

message_writer::~message_writer() { (void)finish(); }

// Once over the limit the message is doomed: nothing more is appended (inputs may be huge).
bool message_writer::fits(std::size_t more) noexcept {
  if (!overflow_ && more > xenstore::payload_max - payload_size()) overflow_ = true;
  return !overflow_;
}

message_writer& message_writer::raw(std::string_view bytes) {
  if (fits(bytes.size())) out_.append(bytes);
  return *this;
}

message_writer& message_writer::arg(std::string_view s) {
  if (fits(s.size() + 1)) out_.append(s).push_back('\0');
  return *this;
}

message_writer& message_writer::arg(std::uint64_t number) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, number);
  (void)ec;  // 24 bytes always hold a uint64
  return arg(std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

std::size_t message_writer::payload_size() const noexcept { return out_.size() - start_ - header_size; }

void message_writer::cancel() noexcept {
  if (done_) return;
  done_ = true;
  out_.resize(start_);
}

xs_result<void> message_writer::finish() {
  if (done_) return {};
  done_ = true;
  if (overflowed()) {
    out_.resize(start_);
    return xs_fail(xs_error::e2big);
  }
  const auto len = static_cast<std::uint32_t>(payload_size());
  std::memcpy(out_.data() + start_ + offsetof(header, len), &len, sizeof len);
  return {};
}

xs_result<void> encode(std::string& out, const header& h, std::string_view payload) {
  if (payload.size() > xenstore::payload_max) return xs_fail(xs_error::e2big);
  message_writer w(out, h.type, h.req_id, h.tx_id);
  w.raw(payload);
  return w.finish();
}

xs_result<std::size_t> encode_to(std::span<std::byte> out, const header& h, std::string_view payload) {
  if (payload.size() > xenstore::payload_max) return xs_fail(xs_error::e2big);
  const std::size_t total = header_size + payload.size();
  if (out.size() < total) return xs_fail(xs_error::e2big);
  header full = h;
  full.len = static_cast<std::uint32_t>(payload.size());
  std::memcpy(out.data(), &full, header_size);
  if (!payload.empty()) std::memcpy(out.data() + header_size, payload.data(), payload.size());
  return total;
}

}  // namespace xenwire::xenstore
