#include <algorithm>
#include <cstring>

#include "xenwire/xenstore/wire.hpp"

namespace xenwire::xenstore {

result<std::optional<message_view>> frame_decoder::next_bytes(const char*& p, std::size_t& n) noexcept {
  if (failed_) return fail(errc::protocol_error);
  // The previous message was handed out; its bytes may be reused now.
  if (delivered_) have_ = 0, delivered_ = false;
  for (;;) {
    std::size_t want = header_size;
    header h{};
    if (have_ >= header_size) {
      std::memcpy(&h, buf_.data(), header_size);
      want = header_size + h.len;  // h.len <= payload_max: checked when the header completed
    }
    if (have_ == want && have_ >= header_size) {
      delivered_ = true;
      return message_view{h, std::string_view(buf_.data() + header_size, h.len)};
    }
    if (n == 0) return std::optional<message_view>{};
    const std::size_t take = std::min(n, want - have_);
    std::memcpy(buf_.data() + have_, p, take);
    have_ += take;
    p += take;
    n -= take;
    if (have_ == header_size) {
      std::memcpy(&h, buf_.data(), header_size);
      if (h.len > xenstore::payload_max) {
        failed_ = true;  // the peer is hostile or broken: the connection must go (docs/misc/xenstore.txt)
        return fail(errc::protocol_error);
      }
    }
  }
}

result<std::optional<message_view>> frame_decoder::next(std::span<const std::byte>& in) noexcept {
  const char* p = reinterpret_cast<const char*>(in.data());
  std::size_t n = in.size();
  auto r = next_bytes(p, n);
  in = in.subspan(in.size() - n);
  return r;
}

result<std::optional<message_view>> frame_decoder::next(std::string_view& in) noexcept {
  const char* p = in.data();
  std::size_t n = in.size();
  auto r = next_bytes(p, n);
  in.remove_prefix(in.size() - n);
  return r;
}

}  // namespace xenwire::xenstore
