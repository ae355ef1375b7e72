// xenwire-vchan-proxy's command line: Xen 4.17's vchan-socket-proxy's, plus --backend.
//
//   xenwire-vchan-proxy [options] domainid nodepath [socket-path|file-no|-]
//     -m, --mode=client|server   vchan role (client by default)
//     -s, --state-path=PATH      write "running" to this Xenstore path once ready
//     -v, --verbose              log every step and transfer to stderr
//     --backend=xen|sim          transport (default: $XENWIRE_BACKEND, else xen where /dev/xen exists)
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "xenwire/backend/backend.hpp"
#include "xenwire/base/ids.hpp"

namespace xenwire::vchan_proxy {

enum class mode : std::uint8_t { client, server };

// The third positional argument: where the local data goes.
struct use_stdio {};                         // "-": stdin and stdout
struct use_fd { int fd = -1; };              // a number: an open fd (client: listening socket)
struct use_path { std::string path; };       // anything else: a Unix socket path
using local_spec = std::variant<use_stdio, use_fd, use_path>;

struct options {
  mode role = mode::client;
  bool verbose = false;
  std::optional<std::string> state_path;
  backend::kind backend = backend::kind::sim;
  domid_t domid = 0;
  std::string vchan_path;
  local_spec local;
  std::string local_text;  // as given, for messages
};

// Parsed options, or the message to print (with the usage) and exit 2; `help` set for --help.
struct parse_outcome {
  std::optional<options> opts;
  std::string error;
  bool help = false;
};
parse_outcome parse_options(int argc, char** argv);
std::string usage(const char* argv0);

}  // namespace xenwire::vchan_proxy
