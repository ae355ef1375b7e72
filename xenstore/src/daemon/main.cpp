// xenwire-xenstored: the daemon binary. Logs go to stderr through spdlog; the loop and the core
// live in the xenwire::xenstore_daemon library.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <syslog.h>
#include <variant>

#include "xenwire/xenstore/daemon/daemon_options.hpp"
#include "xenwire/xenstore/daemon/live_update_state.hpp"
#include "xenwire/xenstore/daemon/process.hpp"
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

// The dry run's share of -U that importing cannot show: taking the rings' event-channel handle back
// from GLOBAL_DATA's fd, which this process inherited as the exec'd one will. Empty: no rings, or it
// works. (A backend that cannot would leave every guest without a daemon after exec.)
std::string check_event_channel_adoption(const xs::migration::stream& state, const std::string& backend) {
  bool rings = false;
  int fd = -1;
  for (const auto& r : state.records) {
    if (const auto* g = std::get_if<xs::migration::global_record>(&r)) fd = g->evtchn_fd;
    const auto* c = std::get_if<xs::migration::connection_record>(&r);
    if (c != nullptr && std::holds_alternative<xs::migration::ring_spec>(c->spec)) rings = true;
  }
  if (!rings) return {};
  if (fd < 0) return "the state has domains' rings and no event-channel handle (GLOBAL_DATA's evtchn fd)";
  auto kind = xenwire::backend::parse(backend);
  if (!kind) return "no backend " + backend;
  auto t = xenwire::backend::open(*kind, {.domid = 0});
  if (!t) return "cannot open the " + xenwire::backend::describe(*kind) + " backend: " + t.error().message();
  // Adopting takes the fd; ours is a copy of the old daemon's, which keeps its own.
  if (auto ch = (*t)->adopt_event_channel(fd); !ch)
    return "the rings' event-channel handle (fd " + std::to_string(fd) + ") cannot be taken over after exec: " +
           ch.error().message();
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, so that only the loop's signalfd sees them (SIGHUP: the trace file's
  // reopener thread, or nobody).
  static constexpr int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};
  if (auto r = xenwire::block_signals(stop_signals); !r) {
    std::fprintf(stderr, "xenwire-xenstored: blocking signals: %s\n", r.error().message().c_str());
    return 1;
  }

  auto opts = xs::parse_daemon_options(argc, argv);
  if (!opts) {
    std::fprintf(opts.error().code == 0 ? stdout : stderr, "%s\n", opts.error().text.c_str());
    return opts.error().code;
  }
  // The old daemon's dry run before it execs us: can we take this state (and this command line)?
  if (opts->live_update_check) {
    auto state = xs::read_live_update_state(*opts->live_update_check);
    if (!state) {
      std::fprintf(stderr, "%s: %s\n", opts->live_update_check->c_str(), state.error().c_str());
      return 1;
    }
    xs::server_core core(opts->config);
    if (auto opened = xs::import_live_update_state(*state, core, opts->backend != "none"); !opened) {
      std::fprintf(stderr, "%s\n", opened.error().c_str());
      return 1;
    }
    // Rings: the event-channel handle must be ours to take after exec. We inherited its fd too, so
    // try now (a backend that cannot adopt one would leave every guest without a daemon).
    if (std::string why = check_event_channel_adoption(*state, opts->backend); !why.empty()) {
      std::fprintf(stderr, "%s\n", why.c_str());
      return 1;
    }
    std::printf("%s: %zu nodes, %zu connections\n", xs::live_update_check_marker, core.stats().nodes,
                core.stats().connections);
    // Also what tells an old daemon that this binary takes transactions (its file holds the text).
    std::printf("%s: %zu open\n", xs::live_update_transactions_marker, core.open_transactions().size());
    return 0;
  }
  // -U: we are the new binary of a live update; our fds and the state are the old daemon's, and
  // we already are the detached daemon (as C: no second fork).
  if (opts->live_update) opts->daemonize = false;

  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto log = std::make_shared<spdlog::logger>("xenstored", sink);
  // Detached, stderr goes to /dev/null once serving: syslog gets the log too (as C's, LOG_DAEMON).
  if (opts->daemonize)
    log->sinks().push_back(std::make_shared<spdlog::sinks::syslog_sink_mt>("xenwire-xenstored", LOG_PID, LOG_DAEMON, false));
  log->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  if (opts->daemonize) log->sinks().back()->set_pattern("%l %v");  // syslog stamps the time itself
  log->set_level(opts->log_threshold ? to_spdlog(*opts->log_threshold) : spdlog::level::off);
  log->flush_on(spdlog::level::trace);
  // --trace lines show whatever --log-level says: their own logger on the same sink (and format).
  auto tracer = std::make_shared<spdlog::logger>("trace", sink);
  tracer->set_level(spdlog::level::info);
  tracer->flush_on(spdlog::level::info);
  for (const auto& notice : opts->notices) log->info("{}", notice);
  std::unique_ptr<xs::trace_file> trace_file;
  if (opts->trace_file) {  // opened before forking, as C does; a failure only turns tracing off
    if (auto t = xs::trace_file::open(*opts->trace_file)) {
      trace_file = std::move(*t);
    } else {
      log->error("cannot open trace file {}: {}; not tracing", *opts->trace_file, t.error().message());
    }
  }

  auto path = xs::resolve_socket_path(opts->socket_path);
  if (!path) {
    log->error("no usable socket path (check --socket, $XENSTORED_PATH, $XENSTORED_RUNDIR)");
    return 2;
  }

  xs::daemon_settings settings;
  settings.socket_path = *path;
  settings.guest_sockets = opts->guest_sockets;
  settings.read_only = opts->read_only;
  settings.io = opts->socket_io;
  settings.config = opts->config;
  if (opts->trace || trace_file) {
    settings.trace = [tracer, to_log = opts->trace, to_file = trace_file.get()](std::string_view line) {
      if (to_log) tracer->info("trace: {}", line);
      if (to_file != nullptr) to_file->write(line);
    };
  }

  settings.argv.assign(argv, argv + argc);
  const std::string state_path = xs::live_update_state_path();
  if (opts->live_update) {
    auto state = xs::read_live_update_state(state_path);
    if (!state) {
      log->error("live update: {}: {}", state_path, state.error());
      return 1;
    }
    settings.restore = std::move(*state);
  }

  // Like C xenstored (unless -N): fork and detach. The starting process waits until we serve.
  std::optional<xs::detached_start> detached;
  if (opts->daemonize) {
    auto d = xs::detached_start::begin();
    if (!d) {
      log->error("cannot fork: {}", d.error().message());
      return 1;
    }
    detached = std::move(*d);
  }

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
    // dom0's own ring, as C xenstored's dom0_init (not with -D): where the kernel offers none, say
    // so and go on.
    if (opts->no_domain_init) {
      log->info("-D: not serving our own kernel's xenbus ring");
    } else if (auto own = xenwire::backend::open_own_xenstore_ring(kind)) {
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
  if (opts->live_update) ::unlink(state_path.c_str());
  // Serving (clients queue on the bound sockets until run()): pid file, -P, systemd, detach.
  std::optional<xs::pid_file> pid_file;
  if (opts->pid_file) {
    auto p = xs::pid_file::write(*opts->pid_file);
    if (!p) {
      log->error("cannot write pid file {}: {}", *opts->pid_file, p.error().message());
      return 1;
    }
    pid_file = std::move(*p);
  }
  if (opts->output_pid) {
    std::printf("%ld\n", static_cast<long>(::getpid()));
    std::fflush(stdout);
  }
  if (auto n = xs::notify_systemd("READY=1"); !n) log->warn("cannot notify systemd ($NOTIFY_SOCKET): {}", n.error().message());
  ::unsetenv("NOTIFY_SOCKET");
  if (detached) {
    log->info("serving as pid {}", ::getpid());
    const bool absolute = path->starts_with('/') &&
                          std::all_of(opts->guest_sockets.begin(), opts->guest_sockets.end(),
                                      [](const auto& g) { return g.path.starts_with('/'); });
    detached->report(0);
    if (auto r = xs::detach_stdio(absolute); !r) log->warn("detaching from the terminal: {}", r.error().message());
    log->sinks().erase(log->sinks().begin());  // stderr is /dev/null now; syslog stays
    tracer->sinks().clear();
    tracer->sinks().push_back(log->sinks().back());
  }
  std::optional<xs::sighup_reopener> reopener;
  if (trace_file) {
    reopener.emplace(*trace_file, [log, path = trace_file->path()](std::error_code ec) {
      if (ec) log->error("reopening trace file {}: {}", path, ec.message());
      else log->info("reopened trace file {}", path);
    });
  }
  if (auto r = (*daemon)->run(); !r) {
    log->error("event loop failed: {}", r.error().message());
    return 1;
  }
  daemon->reset();  // closes clients and removes the socket files before we report
  reopener.reset();
  pid_file.reset();
  log->info("stopped");
  return 0;
}
