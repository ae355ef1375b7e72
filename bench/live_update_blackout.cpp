// Live-update blackout of xenwire-xenstored: with NODES nodes and CLIENTS watching clients on the
// socket, a probe client reads in a closed loop while xenstore-control's sequence (live-update -f,
// then -s) replaces the daemon with itself. Blackout = the longest gap between two of the probe's
// replies around the update (what a client sees). Baseline in the same run: a plain restart (SIGTERM,
// start, first reply) of an empty daemon, which loses every connection and the store.
//
// Usage: bench_live_update_blackout [--nodes N] [--clients K] [--rounds R]
//        bench_live_update_blackout --socket PATH [--binary FILE] [--cmdline ARGS] [--nodes N] [--clients K]
// With --socket it measures one update of a daemon already serving PATH (Xen's C xenstored or ours
// on the simulated host, with domains' rings connected: bench/live_update_compare.sh) to FILE with
// command line ARGS (default: ourselves, as the daemon's own argv), and no restart baseline.
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "xenwire/xenstore/wire.hpp"

namespace {

namespace xs = xenwire::xenstore;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_live_update_blackout: %s\n", what.c_str());
  std::exit(1);
}

std::string z(std::string_view s) { return std::string(s) + '\0'; }

class conn {
 public:
  explicit conn(const std::string& path) {
    for (int i = 0; i < 500 && fd_ < 0; ++i) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        fd_ = fd;
      } else {
        ::close(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (fd_ < 0) die("cannot connect to " + path);
  }
  ~conn() { ::close(fd_); }
  void send(xs::msg_type t, std::string_view payload) {
    std::string out;
    (void)xs::encode(out, xs::header{static_cast<std::uint32_t>(t), ++req_, 0, 0}, payload);
    for (std::string_view rest(out); !rest.empty();) {
      ssize_t n = ::write(fd_, rest.data(), rest.size());
      if (n <= 0) die("write: " + std::string(std::strerror(errno)));
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // The next reply's payload (watch events are skipped and counted).
  std::string reply() {
    for (;;) {
      xs::header h{};
      read_exact(reinterpret_cast<char*>(&h), sizeof h);
      std::string p(h.len, '\0');
      read_exact(p.data(), p.size());
      if (h.type == static_cast<std::uint32_t>(xs::msg_type::watch_event)) {
        ++events;
        continue;
      }
      return p.substr(0, p.find('\0'));
    }
  }
  std::string call(xs::msg_type t, std::string_view payload) {
    send(t, payload);
    return reply();
  }
  // Waits for one watch event (true) or gives up after `ms`.
  bool wait_event(int ms) {
    const std::size_t before = events;
    pollfd p{fd_, POLLIN, 0};
    while (events == before) {
      if (::poll(&p, 1, ms) <= 0) return false;
      xs::header h{};
      read_exact(reinterpret_cast<char*>(&h), sizeof h);
      std::string body(h.len, '\0');
      read_exact(body.data(), body.size());
      if (h.type == static_cast<std::uint32_t>(xs::msg_type::watch_event)) ++events;
    }
    return true;
  }
  std::size_t events = 0;

 private:
  void read_exact(char* p, std::size_t n) {
    while (n > 0) {
      ssize_t r = ::read(fd_, p, n);
      if (r <= 0) die("read: connection lost");
      p += r;
      n -= static_cast<std::size_t>(r);
    }
  }
  int fd_ = -1;
  std::uint32_t req_ = 0;
};

pid_t spawn(const fs::path& dir, const std::string& socket) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("XENSTORED_RUNDIR", dir.c_str(), 1);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 2);
    ::execl(XENWIRE_XENSTORED_BINARY, XENWIRE_XENSTORED_BINARY, "-N", "--socket", socket.c_str(), "--log-level", "warn",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  ::kill(pid, SIGTERM);
  int st = 0;
  ::waitpid(pid, &st, 0);
}

double ms(clock_type::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct round_result {
  double blackout_ms, ok_ms, restart_ms;
};

struct update_target {
  std::string socket;   // empty: spawn our own daemon in the round's directory
  std::string binary = XENWIRE_XENSTORED_BINARY;
  std::string cmdline;  // empty: the daemon's own argv
};

round_result one_round(const fs::path& dir, std::size_t nodes, std::size_t clients, const update_target& target) {
  const bool external = !target.socket.empty();
  const std::string socket = external ? target.socket : (dir / "socket").string();
  const pid_t pid = external ? -1 : spawn(dir, socket);
  {
    conn filler(socket);
    // Pipelined: 256 writes in flight.
    std::size_t sent = 0, done = 0;
    while (done < nodes) {
      while (sent < nodes && sent - done < 256) {
        filler.send(xs::msg_type::write, z("/bench/d" + std::to_string(sent % 1000) + "/n" + std::to_string(sent)) + "value");
        ++sent;
      }
      if (filler.reply() != "OK") die("populate: write refused");
      ++done;
    }
  }
  std::vector<std::unique_ptr<conn>> watchers;
  for (std::size_t i = 0; i < clients; ++i) {
    watchers.push_back(std::make_unique<conn>(socket));
    if (watchers.back()->call(xs::msg_type::watch, z("/bench/w" + std::to_string(i)) + z("t")) != "OK") die("watch");
    if (!watchers.back()->wait_event(2000)) die("no initial watch event");
  }
  // The probe: READs in a closed loop, stamping every reply.
  std::atomic<bool> stop_probe{false};
  std::vector<clock_type::time_point> stamps;
  stamps.reserve(1 << 20);
  conn probe(socket);
  std::thread t([&] {
    while (!stop_probe.load(std::memory_order_relaxed)) {
      if (probe.call(xs::msg_type::read, z("/bench/d0/n0")) != "value") die("probe: wrong value");
      stamps.push_back(clock_type::now());
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  conn control(socket);
  if (control.call(xs::msg_type::control, z("live-update") + z("-f") + z(target.binary)) != "OK")
    die("live-update -f refused");
  if (!target.cmdline.empty() &&
      control.call(xs::msg_type::control, z("live-update") + z("-c") + z(target.cmdline)) != "OK")
    die("live-update -c refused");
  const auto t0 = clock_type::now();
  const std::string ok = control.call(xs::msg_type::control, z("live-update") + z("-s") + z("-t") + z("60"));
  const auto t1 = clock_type::now();
  if (ok != "OK") die("live-update -s: " + ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop_probe.store(true, std::memory_order_relaxed);
  t.join();
  clock_type::duration gap{};
  for (std::size_t i = 1; i < stamps.size(); ++i) gap = std::max(gap, stamps[i] - stamps[i - 1]);
  // Every watcher still gets its events.
  conn writer(socket);
  for (std::size_t i = 0; i < clients; ++i) {
    if (writer.call(xs::msg_type::write, z("/bench/w" + std::to_string(i)) + "x") != "OK") die("write after update");
    if (!watchers[i]->wait_event(5000)) die("a watcher lost its watch across the update");
  }
  watchers.clear();
  if (external) return {ms(gap), ms(t1 - t0), 0};
  // Baseline: a plain restart, empty.
  const auto r0 = clock_type::now();
  stop(pid);
  const pid_t fresh = spawn(dir, socket);
  {
    conn c(socket);
    (void)c.call(xs::msg_type::read, z("/"));
  }
  const auto r1 = clock_type::now();
  stop(fresh);
  return {ms(gap), ms(t1 - t0), ms(r1 - r0)};
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t nodes = 1000, clients = 10;
  int rounds = 3;
  update_target target;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&] {
      if (i + 1 >= argc) die("missing value for " + std::string(a));
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (a == "--nodes") nodes = next();
    else if (a == "--clients") clients = next();
    else if (a == "--rounds") rounds = static_cast<int>(next());
    else if (a == "--socket" && i + 1 < argc) target.socket = argv[++i];
    else if (a == "--binary" && i + 1 < argc) target.binary = argv[++i];
    else if (a == "--cmdline" && i + 1 < argc) target.cmdline = argv[++i];
    else die("usage: bench_live_update_blackout [--nodes N] [--clients K] [--rounds R] [--socket PATH [--binary FILE] [--cmdline ARGS]]");
  }
  if (!target.socket.empty()) rounds = 1;  // the store stays: one update per run
  std::signal(SIGPIPE, SIG_IGN);
  // Each watcher is a socket here and in the daemon (which inherits the limit).
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < clients + 64) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, clients + 256);
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  std::string tmpl = (fs::temp_directory_path() / "xs-lu-bench-XXXXXX").string();
  const fs::path dir = ::mkdtemp(tmpl.data());
  std::vector<round_result> r;
  for (int i = 0; i < rounds; ++i) r.push_back(one_round(dir, nodes, clients, target));
  fs::remove_all(dir);
  auto median = [&](double round_result::*f) {
    std::vector<double> v;
    for (auto& x : r) v.push_back(x.*f);
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double blackout = median(&round_result::blackout_ms), ok = median(&round_result::ok_ms),
               restart = median(&round_result::restart_ms);
  std::printf("live update, %zu nodes, %zu watching clients + probe (median of %d)\n", nodes, clients, rounds);
  std::printf("  blackout seen by the probe  %8.1f ms\n", blackout);
  std::printf("  -s sent to OK received      %8.1f ms\n", ok);
  if (!target.socket.empty()) {
    std::printf("  to %s\n", target.binary.c_str());
    return 0;
  }
  std::printf("  baseline: empty restart     %8.1f ms (loses every connection and the store)\n", restart);
  std::printf("  blackout / empty restart    %8.2f\n", blackout / restart);
  return 0;
}
