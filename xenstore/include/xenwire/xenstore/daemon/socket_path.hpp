// Where the daemon listens, found the way libxenstore's clients look for it (xs_daemon_socket()):
// $XENSTORED_PATH, else $XENSTORED_RUNDIR/socket, else /var/run/xenstored/socket.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "xenwire/base/error.hpp"

namespace xenwire::xenstore {

inline constexpr std::string_view default_rundir = "/var/run/xenstored";  // XEN_RUN_STORED

// Reads one environment variable; nullptr when unset. Defaults to ::getenv.
using env_lookup = std::function<const char*(const char* name)>;

// `explicit_path` (--socket) wins over the environment. Empty variables count as unset.
// Fails with invalid_argument when the result cannot be a Unix socket address (empty, or longer
// than sun_path allows).
result<std::string> resolve_socket_path(std::optional<std::string_view> explicit_path, const env_lookup& env = {});

// True if `path` fits a sockaddr_un (NUL included).
bool fits_sun_path(std::string_view path) noexcept;

}  // namespace xenwire::xenstore
