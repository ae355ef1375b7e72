// `xenwire-randomd serve` and `fetch`: randomd and its guest side on a real transport, picked by
// `--backend xen|sim` or $XENWIRE_BACKEND (xenwire::backend), with the domain's Xenstore from
// $XENSTORED_PATH & co. or the xenbus device. The same code paths as the demo: randomd::server and
// randomd::fetch_entropy.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "xenwire/base/ids.hpp"
#include "xenwire/randomd/server.hpp"

namespace xenwire::randomd::cli {

struct serve_options {
  std::optional<std::string> backend;  // unset: $XENWIRE_BACKEND / backend::default_kind()
  server_config server{};
  bool verbose = false;  // per-guest events on stderr
};

struct fetch_cli_options {
  std::optional<std::string> backend;
  std::size_t bytes = 32;
  domid_t server = 0;  // randomd's domain
  std::chrono::milliseconds timeout{10'000};
  std::uint32_t chunk = 1024;
  bool raw = false;  // raw bytes on stdout instead of lowercase hex and a newline
};

// Serves until SIGTERM or SIGINT; returns the exit status (0 stopped by a signal, 1 failed).
int run_serve(const serve_options& opts);
// Prints the bytes on stdout; exit status 0, 1 failed (the reason on stderr), 3 timed out.
int run_fetch(const fetch_cli_options& opts);

}  // namespace xenwire::randomd::cli
