// xenwire-randomd: entropy for guests over vchan.
//
//   xenwire-randomd demo --guests N --bytes B    a simulated host: randomd in dom0, N guests fetching
//   xenwire-randomd serve                        dom0 daemon on a real host      (needs a real backend)
//   xenwire-randomd fetch --bytes B              guest side on a real host       (needs a real backend)
//
// serve and fetch take a xenwire::transport; only the simulator implements one today, so on a real
// host they say so and exit 2. Their code paths are randomd::server and randomd::fetch_entropy, the
// same the demo runs.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "demo.hpp"

int main(int argc, char** argv) {
  using namespace xenwire::randomd;
  CLI::App app{"xenwire-randomd: entropy for Xen guests over vchan (nothing secret through Xenstore)"};
  app.require_subcommand(1);

  cli::demo_options demo;
  auto* d = app.add_subcommand("demo", "simulated host: randomd in dom0, N guests fetching entropy");
  d->add_option("-g,--guests", demo.guests, "guest domains")->check(CLI::Range(1u, 100u));
  d->add_option("-b,--bytes", demo.bytes, "bytes each guest fetches")->check(CLI::Range(1, 1 << 20));
  d->add_option("--chunk", demo.chunk, "bytes per request")->check(CLI::Range(1u, 65536u));
  d->add_option("--rate", demo.server.limit.rate, "per-guest limit, bytes/s");
  d->add_option("--burst", demo.server.limit.burst, "per-guest burst, bytes")->check(CLI::Range(1u, 1u << 24));
  d->add_option("--max-request", demo.server.max_request, "largest request served, bytes")->check(CLI::Range(1u, 1u << 24));
  d->add_flag("-v,--verbose", demo.verbose, "randomd's per-guest events on stderr");

  auto* serve = app.add_subcommand("serve", "run randomd in dom0 (needs a real Xen transport)");
  std::size_t fetch_bytes = 32;
  auto* fetch = app.add_subcommand("fetch", "fetch entropy in a guest (needs a real Xen transport)");
  fetch->add_option("-b,--bytes", fetch_bytes, "bytes to fetch");
  CLI11_PARSE(app, argc, argv);

  if (*d) return cli::run_demo(demo);
  if (*serve || *fetch) {
    std::fprintf(stderr,
                 "xenwire-randomd: no real Xen backend yet (libxengnttab/libxenevtchn); only `demo` runs, on the "
                 "simulator\n");
    return 2;
  }
  return 1;
}
