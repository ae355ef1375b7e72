#include "xenwire/xenstore/daemon/socket_path.hpp"

#include <sys/un.h>

#include <cstdlib>

namespace xenwire::xenstore {

bool fits_sun_path(std::string_view path) noexcept {
  return !path.empty() && path.size() < sizeof(sockaddr_un{}.sun_path);
}

result<std::string> resolve_socket_path(std::optional<std::string_view> explicit_path, const env_lookup& env) {
  auto lookup = [&](const char* name) -> std::optional<std::string_view> {
    const char* v = env ? env(name) : std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string_view(v);
  };
  std::string path;
  if (explicit_path) {
    path = *explicit_path;
  } else if (auto p = lookup("XENSTORED_PATH")) {
    path = *p;
  } else {
    path = lookup("XENSTORED_RUNDIR").value_or(default_rundir);
    path += "/socket";
  }
  if (!fits_sun_path(path)) return fail(errc::invalid_argument);
  return path;
}

}  // namespace xenwire::xenstore
