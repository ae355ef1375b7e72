// Xenstore's error names as they travel on the wire (xs_wire.h's xsd_errors table, in its order).
// The one place that decides this table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <tl/expected.hpp>

namespace xenwire::xenstore {

// Lower-case enumerators: EINVAL & co. are <cerrno> macros, which every standard header may pull in.
enum class xs_error : std::uint8_t {
  einval, eacces, eexist, eisdir, enoent, enomem, enospc, eio,
  enotempty, enosys, erofs, ebusy, eagain, eisconn, e2big, eperm,
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

// What a request handler returns: a value, or the error the peer will receive by name.
template <class T>
using xs_result = tl::expected<T, xs_error>;

inline tl::unexpected<xs_error> xs_fail(xs_error e) noexcept { return tl::unexpected<xs_error>(e); }

}  // namespace xenwire::xenstore
