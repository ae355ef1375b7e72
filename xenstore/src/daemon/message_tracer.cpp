#include "daemon/message_tracer.hpp"

#include <algorithm>
#include <cstring>

#include "xenwire/xenstore/wire.hpp"

namespace xenwire::xenstore {

void message_tracer::feed(std::span<const std::byte> bytes, const std::function<void(std::string_view)>& emit) {
  while (!bytes.empty()) {
    if (header_have_ < header_.size()) {
      const std::size_t n = std::min(bytes.size(), header_.size() - header_have_);
      std::memcpy(header_.data() + header_have_, bytes.data(), n);
      header_have_ += n;
      bytes = bytes.subspan(n);
      if (header_have_ < header_.size()) return;
      header h{};
      std::memcpy(&h, header_.data(), sizeof h);
      // An oversized length is traced as announced; the core drops such a connection anyway.
      payload_len_ = payload_left_ = h.len;
      shown_have_ = 0;
      if (payload_left_ == 0) finish(emit);
      continue;
    }
    const std::size_t n = std::min<std::size_t>(bytes.size(), payload_left_);
    const std::size_t keep = std::min(n, shown_.size() - shown_have_);
    std::memcpy(shown_.data() + shown_have_, bytes.data(), keep);
    shown_have_ += keep;
    payload_left_ -= static_cast<std::uint32_t>(n);
    bytes = bytes.subspan(n);
    if (payload_left_ == 0) finish(emit);
  }
}

void message_tracer::finish(const std::function<void(std::string_view)>& emit) {
  header h{};
  std::memcpy(&h, header_.data(), sizeof h);
  line_.assign(prefix_);
  line_ += ' ';
  line_ += type_name(h.type);
  line_ += " req " + std::to_string(h.req_id) + " tx " + std::to_string(h.tx_id) + " len " + std::to_string(h.len) + " \"";
  for (std::size_t i = 0; i < shown_have_; ++i) {
    const char c = shown_[i];
    if (c == '\0') {
      line_ += "\\0";
    } else if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      line_ += c;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      const auto u = static_cast<unsigned char>(c);
      line_ += "\\x";
      line_ += hex[u >> 4];
      line_ += hex[u & 15];
    }
  }
  line_ += '"';
  if (shown_have_ < payload_len_) line_ += "...";
  emit(line_);
  header_have_ = 0;
}

}  // namespace xenwire::xenstore
