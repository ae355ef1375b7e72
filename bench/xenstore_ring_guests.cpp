// Request latency over a guest's Xenstore ring with 1 guest and with N guests connected (issue 15's
// scale target: p99 with 1,000 ring guests <= 2x the single guest's), on the cross-process host.
//
// `xenwire-host start` runs dom0's xenstored (xenwire-xenstored, or --xenstored PROGRAM ARGS...: C
// xenstored on the libxen emulation); `xenwire-host build` makes each guest as a toolstack does;
// this process then joins every guest as one of its processes, takes its ring and watches the
// guest's data/ (an event per write there). Latency is a READ of the guest's own name, round trip
// over the ring, from guest 1:
//   1. alone: only guest 1 built;
//   2. idle: N guests connected and watching, none busy;
//   3. busy: LOAD threads each writing data/k of guests of their own (so each write also sends
//      that guest a watch event) as fast as replies come: through LOAD guests, then through all N.
// Prints p50/p99 of each phase, the ratios to phase 1, and busy N guests / busy LOAD guests (what
// the number of guests costs under the same load).
//
// Usage: bench_xenstore_ring_guests [--guests N] [--requests R] [--load T] [--rate W] [--xenstored PROGRAM ARGS...]
// (W: the writes per second the LOAD threads aim at together, 400 by default)
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "xenwire/sim/remote.hpp"
#include "xenwire/xenstore/client/connection.hpp"

extern char** environ;

namespace {

using namespace xenwire;
using clock_type = std::chrono::steady_clock;
using bench::must;
namespace fs = std::filesystem;

constexpr std::uint32_t xs_read = 2, xs_watch = 4, xs_write = 11, xs_watch_event = 15, xs_error = 16;

struct header {
  std::uint32_t type, req_id, tx_id, len;
};
static_assert(sizeof(header) == 16);

// Runs a xenwire-host command; `quiet`: its output (a line per guest built) goes to /dev/null.
int run(const std::vector<std::string>& argv, bool quiet = false) {
  std::vector<char*> raw;
  for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
  raw.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  if (quiet) {
    ::posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    ::posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// One guest process's ring, spoken synchronously: a request, then frames until its reply (watch
// events in between are counted and dropped).
class guest {
 public:
  guest(domid_t domid, const fs::path& host_socket) : domid_(domid) {
    transport_ = must(sim::remote_transport::connect({.socket = host_socket, .domid = domid, .mode = sim::membership::member}),
                      "join the guest");
    auto ep = must(transport_->take_xenstore(), "take the guest's Xenstore ring");
    conn_ = must(xenstore::connect_ring(std::move(ep.page), std::move(ep.events), ep.port), "connect the ring");
  }

  // Sends one request and waits for its reply; false on an ERROR reply.
  bool call(std::uint32_t type, std::string_view payload) {
    header h{type, ++req_, 0, static_cast<std::uint32_t>(payload.size())};
    out_.assign(reinterpret_cast<const char*>(&h), sizeof h);
    out_.append(payload);
    must(conn_->write_all(std::as_bytes(std::span(out_.data(), out_.size()))), "send a request");
    for (;;) {
      header r = frame();
      if (r.type == xs_watch_event) {
        ++events_;
        continue;
      }
      if (r.req_id != h.req_id) bench::die("reply", make_error_code(errc::protocol_error));
      return r.type != xs_error;
    }
  }
  std::string home() const { return "/local/domain/" + std::to_string(domid_); }
  std::uint64_t events() const { return events_; }

 private:
  header frame() {
    fill(sizeof(header));
    header h;
    std::memcpy(&h, in_.data(), sizeof h);
    fill(sizeof h + h.len);
    in_.erase(0, sizeof h + h.len);
    return h;
  }
  void fill(std::size_t want) {
    while (in_.size() < want) {
      std::byte buf[4096];
      const std::size_t n = must(conn_->read_some(buf), "read the ring");
      in_.append(reinterpret_cast<const char*>(buf), n);
    }
  }

  domid_t domid_;
  std::unique_ptr<sim::remote_transport> transport_;
  std::unique_ptr<xenstore::client_connection> conn_;
  std::string out_, in_;
  std::uint32_t req_ = 0;
  std::uint64_t events_ = 0;
};

struct latency {
  double p50_us = 0, p99_us = 0;
};

latency measure(guest& g, std::size_t requests) {
  const std::string path = g.home() + "/name";
  std::string payload = path;
  payload.push_back('\0');
  std::vector<double> us;
  us.reserve(requests);
  for (std::size_t i = 0; i < requests; ++i) {
    const auto t0 = clock_type::now();
    if (!g.call(xs_read, payload)) bench::die("read the name", make_error_code(errc::protocol_error));
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

struct busy_result {
  latency lat;
  double writes_per_s = 0;
};

// Guest 1's latency while `threads` threads write `rate` writes/s in all (or as fast as replies come
// if they cannot), each through its own share of guests 2.. (a ring has one caller at a time).
busy_result busy(const std::vector<std::unique_ptr<guest>>& all, std::size_t threads, double rate, std::size_t requests) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> writes{0};
  std::vector<std::thread> load;
  for (std::size_t t = 0; t < threads; ++t) {
    load.emplace_back([&, t] {
      std::vector<guest*> mine;
      for (std::size_t j = 1 + t; j < all.size(); j += threads) mine.push_back(all[j].get());
      const auto every = std::chrono::duration_cast<clock_type::duration>(
          std::chrono::duration<double>(static_cast<double>(threads) / rate));
      auto next = clock_type::now();
      for (std::size_t i = 0; !mine.empty() && !stop.load(std::memory_order_relaxed); ++i) {
        std::this_thread::sleep_until(next);
        next += every;
        guest& g = *mine[i % mine.size()];
        const std::string w = g.home() + "/data/k" + std::string(1, '\0') + "v";
        if (!g.call(xs_write, w)) bench::die("write", make_error_code(errc::protocol_error));
        writes.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto w0 = writes.load();
  const auto t0 = clock_type::now();
  busy_result out;
  out.lat = measure(*all[0], requests);
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  out.writes_per_s = static_cast<double>(writes.load() - w0) / secs;
  stop = true;
  for (auto& th : load) th.join();
  return out;
}

void print(const char* what, latency l, latency base) {
  std::printf("  %-44s p50 %8.1f us  p99 %8.1f us   p99 / alone %5.2f\n", what, l.p50_us, l.p99_us, l.p99_us / base.p99_us);
}

}  // namespace

int main(int argc, char** argv) {
  bench::program = "bench_xenstore_ring_guests";
  std::size_t guests = 1000, requests = 20000, load_threads = 2;
  double rate = 400;
  std::vector<std::string> xenstored;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] { return i + 1 < argc ? std::strtoul(argv[++i], nullptr, 10) : 0UL; };
    if (a == "--guests") guests = value();
    else if (a == "--requests") requests = value();
    else if (a == "--load") load_threads = value();
    else if (a == "--rate") rate = static_cast<double>(value());
    else if (a == "--xenstored") {
      for (++i; i < argc; ++i) xenstored.emplace_back(argv[i]);
    } else {
      std::fprintf(stderr, "usage: %s [--guests N] [--requests R] [--load T] [--rate W] [--xenstored PROGRAM ARGS...]\n", argv[0]);
      return 2;
    }
  }
  // dom0 has 1024 ports: its xenbus port, VIRQ_DOM_EXC and one per guest ring.
  if (guests < 2 || guests > 1000 || requests < 100 || load_threads < 1 || rate < 1) {
    std::fprintf(stderr, "%s: 2 <= guests <= 1000, requests >= 100\n", argv[0]);
    return 2;
  }
  char dir[] = "/tmp/xenwire-ring-guests-XXXXXX";
  if (::mkdtemp(dir) == nullptr) bench::die("mkdtemp", {errno, std::generic_category()});
  ::setenv("XENWIRE_RUN_DIR", dir, 1);
  const std::string host_bin = XENWIRE_HOST_BINARY, name = "rg" + std::to_string(::getpid());
  std::vector<std::string> start{host_bin, "--host", name, "start"};
  if (!xenstored.empty()) {
    start.emplace_back("--xenstored");
    start.insert(start.end(), xenstored.begin(), xenstored.end());
  }
  if (run(start) != 0) bench::die("xenwire-host start", make_error_code(errc::system_error));
  const fs::path host_socket = fs::path(dir) / name / "host.sock";
  auto build = [&](domid_t d) {
    if (run({host_bin, "--host", name, "build", "--domid", std::to_string(d)}, true) != 0)
      bench::die("xenwire-host build", make_error_code(errc::system_error));
  };

  std::printf("Xenstore request latency over a guest's ring (READ of its name, %zu requests), %s\n", requests,
              xenstored.empty() ? "xenwire-xenstored" : xenstored.front().c_str());
  build(1);
  std::vector<std::unique_ptr<guest>> all;
  all.push_back(std::make_unique<guest>(1, host_socket));
  static_cast<void>(measure(*all[0], requests / 10));  // warm up
  const latency alone = measure(*all[0], requests);
  print("1 guest", alone, alone);

  // The same load through as many guests as there are writing threads: what the load costs alone.
  const std::size_t few_guests = std::min(guests, load_threads + 1);
  for (std::size_t d = 2; d <= few_guests; ++d) {
    build(static_cast<domid_t>(d));
    all.push_back(std::make_unique<guest>(static_cast<domid_t>(d), host_socket));
  }
  const busy_result few = busy(all, load_threads, rate, requests);
  char what[96];
  std::snprintf(what, sizeof what, "%zu guests, %zu threads writing (%.0f writes/s)", few_guests, load_threads, few.writes_per_s);
  print(what, few.lat, alone);

  const auto t0 = clock_type::now();
  for (std::size_t d = few_guests + 1; d <= guests; ++d) build(static_cast<domid_t>(d));
  for (std::size_t d = few_guests + 1; d <= guests; ++d)
    all.push_back(std::make_unique<guest>(static_cast<domid_t>(d), host_socket));
  for (auto& g : all) {
    const std::string w = g->home() + "/data" + std::string(1, '\0') + "t" + std::string(1, '\0');
    if (!g->call(xs_watch, w)) bench::die("watch", make_error_code(errc::protocol_error));
  }
  std::fprintf(stderr, "%zu guests built, joined and watching in %.1f s\n", guests,
               std::chrono::duration<double>(clock_type::now() - t0).count());
  const latency idle = measure(*all[0], requests);
  std::snprintf(what, sizeof what, "%zu guests connected and watching, idle", guests);
  print(what, idle, alone);

  const busy_result crowd = busy(all, load_threads, rate, requests);
  std::snprintf(what, sizeof what, "%zu guests, %zu threads writing (%.0f writes/s)", guests, load_threads, crowd.writes_per_s);
  print(what, crowd.lat, alone);
  std::printf("  busy: p99 with %zu guests / with %zu: %.2f\n", guests, load_threads + 1, crowd.lat.p99_us / few.lat.p99_us);

  all.clear();
  const int stopped = run({host_bin, "--host", name, "stop"});
  std::error_code ec;
  fs::remove_all(dir, ec);
  return stopped == 0 ? 0 : 1;
}
