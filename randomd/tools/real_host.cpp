#include "real_host.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "xenwire/backend/backend.hpp"
#include "xenwire/randomd/guest.hpp"
#include "xenwire/vchan/xenstore_rendezvous.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::randomd::cli {

namespace {

void setup_log(bool verbose) {
  auto log = std::make_shared<spdlog::logger>("xenwire-randomd", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  log->set_pattern("%n: %^%l%$: %v");
  log->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  log->flush_on(spdlog::level::debug);
  spdlog::set_default_logger(log);
}

result<backend::kind> kind_of(const std::optional<std::string>& name) {
  return name ? backend::parse(*name) : backend::default_kind();
}

// The transport and Xenstore of this domain, or nullopt with the reason logged.
struct domain_io {
  std::unique_ptr<transport> t;
  xenstore::client xs;
};
std::optional<domain_io> open_domain(const std::optional<std::string>& backend_name) {
  auto k = kind_of(backend_name);
  if (!k) {
    spdlog::error("unknown backend '{}' (xen or sim)", backend_name.value_or(""));
    return std::nullopt;
  }
  auto t = backend::open(*k);
  if (!t) {
    spdlog::error("cannot open the {} backend: {}", backend::describe(*k), t.error().message());
    return std::nullopt;
  }
  auto xs = xenstore::client::open_default();
  if (!xs) {
    spdlog::error("cannot open Xenstore: {}", vchan::to_error_code(xs.error()).message());
    return std::nullopt;
  }
  spdlog::debug("domain {} through {}", (*t)->self(), backend::describe(*k));
  return domain_io{std::move(*t), std::move(*xs)};
}

}  // namespace

int run_serve(const serve_options& opts) {
  setup_log(opts.verbose);
  // SIGTERM/SIGINT are taken by a thread of ours (sigwait) that stops the server: blocked here,
  // before any other thread exists, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto io = open_domain(opts.backend);
  if (!io) return 1;
  server_config cfg = opts.server;
  if (opts.verbose) {
    cfg.on_event = [](domid_t guest, std::string_view what) { spdlog::debug("dom {}: {}", guest, what); };
  }
  auto srv = server::create(*io->t, io->xs, cfg);
  if (!srv) {
    spdlog::error("cannot start randomd: {}", srv.error().message());
    return 1;
  }
  spdlog::info("serving entropy in domain {} (rate {} B/s, burst {} B per guest)", io->t->self(), cfg.limit.rate,
               cfg.limit.burst);
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig != 0) spdlog::info("signal {}: stopping", sig);
    (*srv)->stop();
  });
  auto ran = (*srv)->run();
  // run() ended on its own (an error): wake the stopper with a signal it waits for.
  if (!ran) pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  const auto st = (*srv)->stats();
  spdlog::info("{} guests connected, {} requests, {} entropy bytes served, {} rate-limited", st.connections,
               st.requests, st.entropy_bytes, st.rate_limited);
  if (!ran) {
    spdlog::error("randomd failed: {}", ran.error().message());
    return 1;
  }
  return 0;
}

int run_fetch(const fetch_cli_options& opts) {
  setup_log(false);
  auto io = open_domain(opts.backend);
  if (!io) return 1;
  fetch_stats stats;
  auto bytes =
      fetch_entropy(io->xs, *io->t, opts.bytes, opts.timeout, {.server = opts.server, .chunk = opts.chunk, .stats = &stats});
  if (!bytes) {
    spdlog::error("fetching {} bytes from randomd in domain {}: {}", opts.bytes, opts.server, bytes.error().message());
    return bytes.error().code == fetch_errc::timed_out ? 3 : 1;
  }
  if (opts.raw) {
    std::size_t done = 0;
    while (done < bytes->size()) {
      const ssize_t n = ::write(1, bytes->data() + done, bytes->size() - done);
      if (n <= 0) {
        spdlog::error("writing to stdout failed");
        return 1;
      }
      done += static_cast<std::size_t>(n);
    }
  } else {
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(bytes->size() * 2 + 1);
    for (std::byte b : *bytes) {
      const auto v = std::to_integer<unsigned>(b);
      hex += digits[v >> 4];
      hex += digits[v & 15];
    }
    hex += '\n';
    if (std::fwrite(hex.data(), 1, hex.size(), stdout) != hex.size() || std::fflush(stdout) != 0) {
      spdlog::error("writing to stdout failed");
      return 1;
    }
  }
  return 0;
}

}  // namespace xenwire::randomd::cli
