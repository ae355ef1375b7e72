// Xenstore's error names as they travel on the wire (xs_wire.h's xsd_errors table, in its order).
// The one place that decides this table.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace xenwire::xenstore {

enum class xs_error : std::uint8_t {
  EINVAL, EACCES, EEXIST, EISDIR, ENOENT, ENOMEM, ENOSPC, EIO,
  ENOTEMPTY, ENOSYS, EROFS, EBUSY, EAGAIN, EISCONN, E2BIG, EPERM,
};

inline constexpr std::array<std::string_view, 16> xs_error_names = {
    "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO",
    "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
};

constexpr std::string_view name(xs_error e) noexcept { return xs_error_names[static_cast<std::size_t>(e)]; }

// Clients map an unknown name to EINVAL (as libxenstore does); nullopt lets callers tell.
constexpr std::optional<xs_error> parse_xs_error(std::string_view s) noexcept {
  for (std::size_t i = 0; i < xs_error_names.size(); ++i)
    if (xs_error_names[i] == s) return static_cast<xs_error>(i);
  return std::nullopt;
}

}  // namespace xenwire::xenstore
