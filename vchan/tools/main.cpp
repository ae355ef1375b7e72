// xenwire-vchan-proxy: a vchan ↔ Unix socket / fd / stdin-stdout proxy, command-line compatible with
// Xen 4.17's vchan-socket-proxy (see options.hpp), on xenwire's vchan and Xenstore client, over the
// transport `--backend` / $XENWIRE_BACKEND picks (xenwire::backend). Logs go to stderr; only the
// proxied bytes go to the data path. Exit status: 0 the vchan or the local input ended, 1 an error
// (logged), 2 bad usage.
#include <signal.h>

#include <chrono>
#include <cstdio>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "options.hpp"
#include "proxy.hpp"
#include "session.hpp"
#include "xenwire/backend/backend.hpp"

namespace xenwire::vchan_proxy {

bool write_state(context& ctx) {
  if (!ctx.opts.state_path) return true;
  auto ok = ctx.xs.write(*ctx.opts.state_path, "running");
  if (!ok) {
    spdlog::error("cannot write \"running\" to {}: {}", *ctx.opts.state_path,
                  vchan::to_error_code(ok.error()).message());
    return false;
  }
  return true;
}

namespace {

int run(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (parsed.help) {
    std::fputs(usage(argv[0]).c_str(), stdout);
    return 0;
  }
  if (!parsed.opts) {
    std::fprintf(stderr, "xenwire-vchan-proxy: %s\n%s", parsed.error.c_str(), usage(argv[0]).c_str());
    return 2;
  }
  const options& o = *parsed.opts;

  auto log = std::make_shared<spdlog::logger>("xenwire-vchan-proxy",
                                              std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  log->set_pattern("%n: %^%l%$: %v");
  log->set_level(o.verbose ? spdlog::level::debug : spdlog::level::warn);
  log->flush_on(spdlog::level::debug);
  spdlog::set_default_logger(log);

  // A local reader that goes away must be an EPIPE error of one session, not the proxy's death.
  ::signal(SIGPIPE, SIG_IGN);
  stdio_restorer restore_stdio;

  auto xs = xenstore::client::open_default({.timeout = std::chrono::seconds(30)});
  if (!xs) {
    spdlog::error("cannot open Xenstore: {}", vchan::to_error_code(xs.error()).message());
    return 1;
  }
  auto t = backend::open(o.backend);
  if (!t) {
    spdlog::error("cannot open the {} backend: {}", backend::describe(o.backend), t.error().message());
    return 1;
  }
  spdlog::info("domain {} through {}, {} mode", (*t)->self(), backend::describe(o.backend),
               o.role == mode::server ? "server" : "client");
  vchan::xenstore_rendezvous rdv(*xs);
  context ctx{.opts = o, .t = **t, .xs = *xs, .rdv = rdv};
  return o.role == mode::server ? run_server(ctx) : run_client(ctx);
}

}  // namespace
}  // namespace xenwire::vchan_proxy

int main(int argc, char** argv) { return xenwire::vchan_proxy::run(argc, argv); }
