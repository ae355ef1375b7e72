// Payload arguments: NUL-terminated strings and strict decimal numbers.
// Everything here reads untrusted bytes; every failure is EINVAL, nothing allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>

#include "xenwire/base/ids.hpp"
#include "xenwire/xenstore/errors.hpp"

namespace xenwire::xenstore {

// A view of "a\0b\0c\0": zero or more strings, each followed by a NUL. Iteration needs no allocation.
class string_list {
 public:
  class iterator {
   public:
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::forward_iterator_tag;
    iterator() = default;
    iterator(std::string_view rest) noexcept : rest_(rest) { load(); }
    std::string_view operator*() const noexcept { return cur_; }
    iterator& operator++() noexcept {
      rest_.remove_prefix(cur_.size() + 1);
      load();
      return *this;
    }
    iterator operator++(int) noexcept {
      auto t = *this;
      ++*this;
      return t;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.rest_.size() == b.rest_.size();
    }

   private:
    void load() noexcept { cur_ = rest_.substr(0, rest_.find('\0')); }
    std::string_view rest_;
    std::string_view cur_;
  };

  string_list() = default;
  // Fails (EINVAL) unless `bytes` is empty or ends with a NUL.
  static xs_result<string_list> parse(std::string_view bytes) noexcept;

  iterator begin() const noexcept { return iterator(bytes_); }
  iterator end() const noexcept { return iterator(bytes_.substr(bytes_.size())); }
  std::size_t size() const noexcept;  // number of strings
  bool empty() const noexcept { return bytes_.empty(); }
  std::string_view bytes() const noexcept { return bytes_; }

 private:
  explicit string_list(std::string_view b) noexcept : bytes_(b) {}
  std::string_view bytes_;
};

// Number of NUL-terminated strings in `payload`; nullopt if bytes follow the last NUL.
std::optional<std::size_t> count_strings(std::string_view payload) noexcept;

// Exactly N NUL-terminated strings filling the payload, else EINVAL.
template <std::size_t N>
xs_result<std::array<std::string_view, N>> split_exact(std::string_view payload) noexcept {
  std::array<std::string_view, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    auto nul = payload.find('\0');
    if (nul == std::string_view::npos) return xs_fail(xs_error::einval);
    out[i] = payload.substr(0, nul);
    payload.remove_prefix(nul + 1);
  }
  if (!payload.empty()) return xs_fail(xs_error::einval);
  return out;
}

// The single argument of a one-argument op: "arg\0" exactly.
inline xs_result<std::string_view> single_arg(std::string_view payload) noexcept {
  auto r = split_exact<1>(payload);
  if (!r) return xs_fail(r.error());
  return (*r)[0];
}

// Strict unsigned decimal: one or more digits, nothing else (no sign, space or trailing bytes),
// value <= max. Leading zeros are accepted (they cannot overflow anything).
xs_result<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) noexcept;
inline xs_result<std::uint32_t> parse_u32(std::string_view s) noexcept {
  return parse_decimal(s, UINT32_MAX).map([](std::uint64_t v) { return static_cast<std::uint32_t>(v); });
}
inline xs_result<std::uint64_t> parse_u64(std::string_view s) noexcept { return parse_decimal(s, UINT64_MAX); }
inline xs_result<domid_t> parse_domid(std::string_view s) noexcept {
  return parse_decimal(s, UINT16_MAX).map([](std::uint64_t v) { return static_cast<domid_t>(v); });
}

}  // namespace xenwire::xenstore
