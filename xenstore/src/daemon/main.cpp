// xenwire-xenstored: the daemon binary. Logs go to stderr through spdlog; the loop and the core
// live in the xenwire::xenstore_daemon library.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>

#include "xenwire/xenstore/daemon/daemon_options.hpp"
#include "xenwire/base/event_loop.hpp"
#include "xenwire/xenstore/daemon/socket_path.hpp"
#include "xenwire/xenstore/daemon/xenstored.hpp"
#include "xenwire/backend/backend.hpp"

namespace xs = xenwire::xenstore;

namespace {

spdlog::level::level_enum to_spdlog(xs::log_level l) {
  switch (l) {
    case xs::log_level::trace: return spdlog::level::trace;
    case xs::log_level::debug: return spdlog::level::debug;
    case xs::log_level::info: return spdlog::level::info;
    case xs::log_level::warn: return spdlog::level::warn;
    case xs::log_level::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, so that only the loop's signalfd sees them.
  static constexpr int stop_signals[] = {SIGTERM, SIGINT};
  if (auto r = xenwire::block_signals(stop_signals); !r) {
    std::fprintf(stderr, "xenwire-xenstored: blocking signals: %s\n", r.error().message().c_str());
    return 1;
  }

  auto opts = xs::parse_daemon_options(argc, argv);
  if (!opts) {
    std::fprintf(opts.error().code == 0 ? stdout : stderr, "%s\n", opts.error().text.c_str());
    return opts.error().code;
  }

  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto log = std::make_shared<spdlog::logger>("xenstored", sink);
  log->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  log->set_level(opts->log_threshold ? to_spdlog(*opts->log_threshold) : spdlog::level::off);
  log->flush_on(spdlog::level::trace);
  // --trace lines show whatever --log-level says: their own logger on the same sink (and format).
  auto tracer = std::make_shared<spdlog::logger>("trace", sink);
  tracer->set_level(spdlog::level::info);
  tracer->flush_on(spdlog::level::info);

  auto path = xs::resolve_socket_path(opts->socket_path);
  if (!path) {
    log->error("no usable socket path (check --socket, $XENSTORED_PATH, $XENSTORED_RUNDIR)");
    return 2;
  }

  xs::daemon_settings settings;
  settings.socket_path = *path;
  settings.guest_sockets = opts->guest_sockets;
  settings.read_only = opts->read_only;
  settings.config = opts->config;
  if (opts->trace) settings.trace = [tracer](std::string_view line) { tracer->info("trace: {}", line); };

  // Without a backend INTRODUCE is refused: only sockets are served.
  std::unique_ptr<xenwire::transport> rings;
  if (opts->backend != "none") {
    const auto kind = xenwire::backend::parse(opts->backend).value();  // checked by the parser
    auto t = xenwire::backend::open(kind, {.domid = 0});
    if (!t) {
      log->error("cannot open the {} backend: {}", xenwire::backend::describe(kind), t.error().message());
      return 1;
    }
    log->info("serving guests' rings through {}", xenwire::backend::describe(kind));
    rings = std::move(*t);
    // dom0's own ring, as C xenstored's dom0_init: where the kernel offers none, say so and go on.
    if (auto own = xenwire::backend::open_own_xenstore_ring(kind)) {
      settings.dom0_ring = xs::daemon_settings::local_ring{std::move(own->page), own->port};
    } else if (kind == xenwire::backend::kind::xen) {
      log->info("no xenbus ring of our own kernel (/proc/xen/xsd_kva, xsd_port: {}): serving without it",
                own.error().message());
    }
  }
  auto daemon = xs::xenstored::create(std::move(settings), rings.get(), [log](xs::log_level l, std::string_view m) {
    log->log(to_spdlog(l), "{}", m);
  });
  if (!daemon) {
    log->error("cannot start: {}", daemon.error().message());  // the daemon logged which socket
    return 1;
  }
  if (auto r = (*daemon)->run(); !r) {
    log->error("event loop failed: {}", r.error().message());
    return 1;
  }
  daemon->reset();  // closes clients and removes the socket files before we report
  log->info("stopped");
  return 0;
}
