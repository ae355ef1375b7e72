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
  // --socket-io auto|uring|epoll: how socket clients are served (daemon_settings::io).
  daemon_settings::socket_io socket_io = daemon_settings::socket_io::automatic;

  // C xenstored's process options (Xen 4.17's xenstored_core.c main()).
  bool daemonize = true;                  // fork and detach like C xenstored; -N/--no-fork keeps the foreground
  std::optional<std::string> pid_file;    // -F/--pid-file: written once serving, removed at exit
  std::optional<std::string> trace_file;  // -T/--trace-file: every message appended, C-style; SIGHUP reopens
  bool output_pid = false;                // -P/--output-pid: the serving process's pid on stdout
  bool no_domain_init = false;            // -D/--no-domain-init: do not serve the dom0 kernel's ring
  bool live_update = false;               // -U/--live-update: restore a live-update state (never forks)
  // --live-update-check FILE: the old daemon's dry run of us before it execs us (exit 0 or 1).
  std::optional<std::string> live_update_check;
  // One line per accepted option that has no effect here (C options without meaning for this
  // daemon), for the binary to log at info level.
  std::vector<std::string> notices;
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
