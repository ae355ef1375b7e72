#include "xenwire/xenstore/args.hpp"

#include <algorithm>

namespace xenwire::xenstore {

xs_result<string_list> string_list::parse(std::string_view bytes) noexcept {
  if (!bytes.empty() && bytes.back() != '\0') return xs_fail(xs_error::einval);
  return string_list(bytes);
}

std::size_t string_list::size() const noexcept {
  return static_cast<std::size_t>(std::count(bytes_.begin(), bytes_.end(), '\0'));
}

std::optional<std::size_t> count_strings(std::string_view payload) noexcept {
  if (!payload.empty() && payload.back() != '\0') return std::nullopt;
  return static_cast<std::size_t>(std::count(payload.begin(), payload.end(), '\0'));
}

xs_result<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) noexcept {
  if (s.empty()) return xs_fail(xs_error::einval);
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return xs_fail(xs_error::einval);
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) return xs_fail(xs_error::einval);  // v * 10 + d > max
    v = v * 10 + d;
  }
  return v;
}

}  // namespace xenwire::xenstore
