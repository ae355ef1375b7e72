// `xenwire-randomd demo`: a simulated host with randomd and N guests fetching entropy.
#pragma once

#include <cstddef>
#include <cstdint>

#include "xenwire/randomd/server.hpp"

namespace xenwire::randomd::cli {

struct demo_options {
  unsigned guests = 4;
  std::size_t bytes = 4096;
  std::uint32_t chunk = 1024;
  server_config server{};
  bool verbose = false;  // randomd's per-guest events on stderr
};

// Prints the run and a summary on stdout; returns the process exit status.
int run_demo(const demo_options& opts);

}  // namespace xenwire::randomd::cli
