// Notify-to-wake latency across processes on the cross-process host: two domain processes
// ping-pong an interdomain event channel (notify, then wait() on the peer's side), beside the same
// ping-pong over a raw eventfd pair and a pipe pair between two processes: the kernel's floor for
// "wake another process". Medians and p99 of round trips, and the ratio to each baseline.
//
// Usage: bench_host_notify_latency [--pin=spread|one|none] [round trips = 20000]
// The host is served from a thread of this process; the two sides are forked processes.
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "xenwire/base/event_loop.hpp"
#include "xenwire/sim/host_server.hpp"
#include "xenwire/sim/remote.hpp"

namespace {

using namespace xenwire;
using clock_type = std::chrono::steady_clock;
using bench::must;

struct stats {
  double p50_us = 0, p99_us = 0;
};

stats summarise(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

// Runs `side(0)` in this process's child A and `side(1)` in child B; A sends its round-trip times
// (µs, as doubles) back through a pipe.
template <class Side>
stats two_processes(Side side, std::size_t rounds) {
  int results[2];
  if (::pipe(results) != 0) bench::die("pipe", std::error_code(errno, std::generic_category()));
  std::fflush(nullptr);
  pid_t pids[2];
  for (int s = 0; s < 2; ++s) {
    pids[s] = ::fork();
    if (pids[s] == 0) {
      bench::pin_side(s);
      std::vector<double> times = side(s);
      if (s == 0) {
        const auto bytes = times.size() * sizeof(double);
        const auto* p = reinterpret_cast<const char*>(times.data());
        for (std::size_t at = 0; at < bytes;) {
          const ssize_t n = ::write(results[1], p + at, bytes - at);
          if (n <= 0) ::_exit(1);
          at += static_cast<std::size_t>(n);
        }
      }
      ::_exit(0);
    }
  }
  ::close(results[1]);
  std::vector<double> times(rounds);
  auto* p = reinterpret_cast<char*>(times.data());
  std::size_t got = 0;
  while (got < rounds * sizeof(double)) {
    const ssize_t n = ::read(results[0], p + got, rounds * sizeof(double) - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(results[0]);
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) bench::die("a side failed", std::make_error_code(std::errc::io_error));
  }
  if (got != rounds * sizeof(double)) bench::die("results", std::make_error_code(std::errc::io_error));
  return summarise(std::move(times));
}

// A ping-pong over a pair of fds per direction (eventfd: 8-byte counter; pipe: one byte).
stats fd_pingpong(bool use_eventfd, std::size_t rounds) {
  int ab[2], ba[2];
  if (use_eventfd) {
    ab[0] = ab[1] = ::eventfd(0, 0);
    ba[0] = ba[1] = ::eventfd(0, 0);
  } else if (::pipe(ab) != 0 || ::pipe(ba) != 0) {
    bench::die("pipe", std::error_code(errno, std::generic_category()));
  }
  const std::size_t size = use_eventfd ? 8 : 1;
  auto side = [&](int s) {
    std::vector<double> times;
    std::uint64_t v = 1;
    const int out = s == 0 ? ab[1] : ba[1];
    const int in = s == 0 ? ba[0] : ab[0];
    for (std::size_t i = 0; i < rounds; ++i) {
      if (s == 0) {
        const auto t0 = clock_type::now();
        if (::write(out, &v, size) != static_cast<ssize_t>(size) || ::read(in, &v, size) != static_cast<ssize_t>(size)) ::_exit(1);
        times.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
        v = 1;
      } else {
        if (::read(in, &v, size) != static_cast<ssize_t>(size) || ::write(out, &v, size) != static_cast<ssize_t>(size)) ::_exit(1);
      }
    }
    return times;
  };
  auto r = two_processes(side, rounds);
  for (int fd : {ab[0], ab[1], ba[0], ba[1]}) ::close(fd);
  return r;
}

stats event_channel_pingpong(const std::filesystem::path& socket, std::size_t rounds) {
  int port_pipe[2];
  if (::pipe(port_pipe) != 0) bench::die("pipe", std::error_code(errno, std::generic_category()));
  auto side = [&](int s) {
    std::vector<double> times;
    const domid_t me = static_cast<domid_t>(s + 1), peer = static_cast<domid_t>(2 - s);
    auto t = must(sim::remote_transport::connect({.socket = socket, .domid = me, .mode = sim::membership::owner}),
                  "join the host");
    auto h = must(t->open_event_channel(), "open an event channel");
    evtchn_port_t port = 0;
    if (s == 0) {
      port = must(h->bind_unbound(peer), "bind_unbound");
      if (::write(port_pipe[1], &port, sizeof port) != sizeof port) ::_exit(1);
      must(h->wait(std::chrono::seconds(10)), "the peer's first event");  // it is bound
    } else {
      evtchn_port_t remote = 0;
      if (::read(port_pipe[0], &remote, sizeof remote) != sizeof remote) ::_exit(1);
      port = must(h->bind_interdomain(peer, remote), "bind_interdomain");
      must(h->wait(std::chrono::seconds(1)), "the binder's initial event");
      must(h->notify(port), "tell the peer we are bound");
    }
    for (std::size_t i = 0; i < rounds; ++i) {
      if (s == 0) {
        const auto t0 = clock_type::now();
        must(h->notify(port), "notify");
        must(h->wait(std::chrono::seconds(10)), "wait");
        times.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
      } else {
        must(h->wait(std::chrono::seconds(10)), "wait");
        must(h->notify(port), "notify");
      }
    }
    return times;
  };
  auto r = two_processes(side, rounds);
  ::close(port_pipe[0]);
  ::close(port_pipe[1]);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bench::program = "bench_host_notify_latency";
  std::size_t rounds = 20000;
  bench::where = bench::placement::spread;
  for (int i = 1; i < argc; ++i) {
    if (bench::parse_pin(argv[i], bench::where)) continue;
    rounds = std::strtoull(argv[i], nullptr, 10);
  }
  if (rounds < 100) rounds = 100;

  char dir[] = "/tmp/xenwire-bench-host-XXXXXX";
  if (::mkdtemp(dir) == nullptr) bench::die("mkdtemp", std::error_code(errno, std::generic_category()));
  auto loop = must(event_loop::create(), "event loop");
  sim::host_server_options opts;
  opts.name = "bench";
  opts.run_root = dir;
  auto server = must(sim::host_server::start(opts, *loop), "start the host");
  std::thread host_thread([&] {
    while (!loop->stopping()) static_cast<void>(loop->run_once(std::chrono::milliseconds(-1)));
  });

  std::printf("notify-to-wake round trips between two processes (%s), %zu rounds, the host served from a "
              "thread of a third\n",
              bench::name(bench::where), rounds);
  const auto efd = fd_pingpong(true, rounds);
  const auto pipe = fd_pingpong(false, rounds);
  const auto evtchn = event_channel_pingpong(server->paths().socket, rounds);
  std::printf("  raw eventfd pair        p50 %8.2f us   p99 %8.2f us\n", efd.p50_us, efd.p99_us);
  std::printf("  raw pipe pair           p50 %8.2f us   p99 %8.2f us\n", pipe.p50_us, pipe.p99_us);
  std::printf("  host event channel      p50 %8.2f us   p99 %8.2f us   (%.2fx eventfd, %.2fx pipe at p50)\n",
              evtchn.p50_us, evtchn.p99_us, evtchn.p50_us / efd.p50_us, evtchn.p50_us / pipe.p50_us);

  loop->stop();
  host_thread.join();
  server.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
