// xenwire-xenstored's command line. Parsing is library code (testable, never prints): help and
// errors come back as text with the exit code the binary should use.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "xenwire/xenstore/daemon/xenstored.hpp"
#include "xenwire/xenstore/server/config.hpp"
#include "xenwire/xenstore/server/core.hpp"

namespace xenwire::xenstore {

struct daemon_options {
  std::optional<std::string> socket_path;  // --socket; nullopt: resolve_socket_path() from the env
  std::vector<guest_socket_spec> guest_sockets;
  bool read_only = false;
  server_config config{};
  std::optional<log_level> log_threshold = log_level::info;  // nullopt: --log-level off
  bool trace = false;
  // Where domains' rings come from: "none" (sockets only), "xen" (libxengnttab/libxenevtchn: a real
  // Xen host, or the libxen emulation) or "sim" (the simulated host's own client, as dom0).
  // --backend, else $XENWIRE_BACKEND, else xen where /dev/xen/evtchn exists, else none.
  std::string backend = "none";
};

// --help (code 0, text for stdout) or unusable arguments (code 2, text for stderr).
struct cli_exit {
  int code = 2;
  std::string text;
};

tl::expected<daemon_options, cli_exit> parse_daemon_options(int argc, const char* const* argv);

// "7=/run/guest7.sock" → {7, "/run/guest7.sock"}; nullopt with a reason in `why` otherwise.
std::optional<guest_socket_spec> parse_guest_socket(std::string_view spec, std::string& why);

}  // namespace xenwire::xenstore
