// xenwire-randomd: entropy for guests over vchan.
//
//   xenwire-randomd demo --guests N --bytes B    a simulated host: randomd in dom0, N guests fetching
//   xenwire-randomd serve [--backend xen|sim]    the daemon, in dom0 (or any serving domain)
//   xenwire-randomd fetch --bytes B [--raw]      a guest's side: B bytes on stdout (hex, or raw)
//
// serve and fetch run on the transport --backend or $XENWIRE_BACKEND picks (xenwire::backend: Xen,
// or the cross-process simulated host) with the domain's Xenstore ($XENSTORED_PATH & co., else the
// xenbus device); their code paths are randomd::server and randomd::fetch_entropy, the same the demo
// runs (real_host.hpp).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "demo.hpp"
#include "real_host.hpp"

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

  cli::serve_options serve_opts;
  auto* serve = app.add_subcommand("serve", "run randomd (in dom0) until SIGTERM/SIGINT");
  serve->add_option("--backend", serve_opts.backend, "transport: xen or sim (default: $XENWIRE_BACKEND, else xen "
                                                     "where /dev/xen/evtchn exists, else sim)")
      ->check(CLI::IsMember({"xen", "sim"}));
  serve->add_option("--rate", serve_opts.server.limit.rate, "per-guest limit, bytes/s");
  serve->add_option("--burst", serve_opts.server.limit.burst, "per-guest burst, bytes")->check(CLI::Range(1u, 1u << 24));
  serve->add_option("--max-request", serve_opts.server.max_request, "largest request served, bytes")
      ->check(CLI::Range(1u, 1u << 24));
  serve->add_flag("-v,--verbose", serve_opts.verbose, "per-guest events on stderr");

  cli::fetch_cli_options fetch_opts;
  auto* fetch = app.add_subcommand("fetch", "fetch entropy from randomd (in a guest) and print it");
  fetch->add_option("--backend", fetch_opts.backend, "transport: xen or sim (as serve)")
      ->check(CLI::IsMember({"xen", "sim"}));
  fetch->add_option("-b,--bytes", fetch_opts.bytes, "bytes to fetch")->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  fetch->add_option("--server", fetch_opts.server, "randomd's domain")->check(CLI::Range(0, 0x7FEF));
  fetch->add_option("--chunk", fetch_opts.chunk, "bytes per request")->check(CLI::Range(1u, 65536u));
  unsigned timeout_ms = 10000;
  fetch->add_option("-t,--timeout-ms", timeout_ms, "give up after this many milliseconds (exit 3)");
  fetch->add_flag("--raw", fetch_opts.raw, "write the raw bytes (default: lowercase hex and a newline)");
  CLI11_PARSE(app, argc, argv);
  fetch_opts.timeout = std::chrono::milliseconds(timeout_ms);

  if (*d) return cli::run_demo(demo);
  if (*serve) return cli::run_serve(serve_opts);
  if (*fetch) return cli::run_fetch(fetch_opts);
  return 1;
}
