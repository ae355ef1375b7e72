#include "xenwire/sim/host_paths.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace xenwire::sim {
namespace {

std::filesystem::path run_root() {
  if (const char* dir = std::getenv("XENWIRE_RUN_DIR"); dir != nullptr && *dir != '\0') return dir;
  if (::geteuid() == 0) return "/run/xenwire";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "xenwire";
  }
  return "/tmp/xenwire-" + std::to_string(::geteuid());
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

}  // namespace

result<host_paths> paths_for(std::string_view name, const std::filesystem::path& root) {
  if (!valid_name(name)) return fail(errc::invalid_argument);
  host_paths p;
  p.name = name;
  p.run_dir = (root.empty() ? run_root() : root) / p.name;
  p.socket = p.run_dir / "host.sock";
  p.lock = p.run_dir / "host.lock";
  p.log = p.run_dir / "host.log";
  p.xenstored_socket = p.run_dir / "xenstored.sock";
  p.proc_xen = p.run_dir / "proc-xen";
  // Unique per host and per user running it, so two users' hosts of the same name do not clash.
  p.pages_object = "xenwire." + std::to_string(::geteuid()) + "." + p.name + ".pages";
  return p;
}

std::filesystem::path default_host_socket() {
  if (const char* s = std::getenv("XENWIRE_HOST"); s != nullptr && *s != '\0') return s;
  return paths_for("default")->socket;
}

}  // namespace xenwire::sim
