// xenstored under many client processes (issue 15): N processes, one connection each, each in a
// closed loop of READs (or WRITEs, or a 9:1 mix) for T seconds. For every daemon it reports
// requests/s and the daemon's CPU per request (utime+stime of /proc/PID/stat over the run, divided
// by the requests answered; utime alone beside it), optionally its syscalls per request (perf's raw_syscalls:sys_enter),
// and the ratios of xenwire-xenstored's CPU per request to the others'.
//
// Daemons, all measured in one run, alternated within each round, median of the rounds:
//   xenwire  xenwire-xenstored from this build (-N --socket PATH --log-level warn --no-rate-limit)
//   floor    bench_floor_xenstored: a fixed reply per request, no store (the kernel-cost floor)
//   --daemon NAME=SPEC  SPEC an existing socket: that daemon (pid: the socket's listener); else a
//            program started as dom0's xenstored of a host of its own (xenwire-host start
//            --xenstored SPEC -N): Xen's C xenstored on the libxen emulation, whose libxenevtchn,
//            libxengnttab and libxenmanage are preloaded (upstream builds carry an RPATH to real ones)
//
// Usage: bench_xenstore_saturation [--clients 1,8,50] [--workload read,write] [--seconds 3]
//          [--rounds 3] [--pin=one|none] [--syscalls] [--daemon NAME=SPEC]... [--no-xenwire] [--xenwire-epoll]
//          [--no-floor] [--host-bin PATH]
// --pin=one (the default) puts the bench, its clients and the daemons it starts on one CPU (the
// primary figure on these 2-vCPU VMs: shared/benchmarking.md); --pin=none leaves them to the scheduler.
// --syscalls adds one round per measurement under perf (its tracepoint costs CPU, so that round's
// figures count syscalls only). Progress goes to stderr, the table to stdout.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "saturation_daemon.hpp"
#include "saturation_load.hpp"

namespace {

using namespace xenwire::bench;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= s.size()) {
    const auto comma = std::min(s.find(',', at), s.size());
    if (comma > at) out.push_back(s.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

workload parse_workload(const std::string& s) {
  if (s == "read") return workload::read;
  if (s == "write") return workload::write;
  if (s == "mix") return workload::mix;
  fail("unknown workload " + s + " (read, write, mix)");
}

struct options {
  std::vector<std::size_t> clients = {1, 8, 50};
  std::vector<workload> workloads = {workload::read, workload::write};
  double seconds = 3;
  int rounds = 3;
  bool syscalls = false;
  bool floor = true;
  daemon_options daemons;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    if (o.daemons.parse(argc, argv, i)) continue;
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail("missing value for " + a);
      return argv[++i];
    };
    if (a == "--clients") {
      o.clients.clear();
      for (const auto& n : split(next())) o.clients.push_back(std::stoul(n));
    } else if (a == "--workload") {
      o.workloads.clear();
      for (const auto& w : split(next())) o.workloads.push_back(parse_workload(w));
    } else if (a == "--seconds") o.seconds = std::stod(next());
    else if (a == "--rounds") o.rounds = std::max(1, std::stoi(next()));
    else if (a == "--syscalls") o.syscalls = true;
    else if (a == "--no-floor") o.floor = false;
    else {
      fail("unknown argument " + a + " (see the comment atop bench/xenstore_saturation.cpp)");
    }
  }
  return o;
}

std::vector<measured_daemon> start_daemons(const options& o) {
  std::vector<measured_daemon> ds;
  const std::string tmp = "/tmp/xenwire-sat-" + std::to_string(::getpid());
  o.daemons.start_xenwire(ds, tmp + "-xenwire.sock");
  if (o.floor) {
#ifdef XENWIRE_FLOOR_BINARY
    ds.push_back(measured_daemon::spawn("floor", {XENWIRE_FLOOR_BINARY, "--value-size", std::to_string(value_size)},
                                        tmp + "-floor.sock"));
#else
    fail("bench_floor_xenstored was not built with this bench (--no-floor)");
#endif
  }
  o.daemons.start_others(ds);
  for (const auto& d : ds) {
    prepare(d);
    std::fprintf(stderr, "bench_xenstore_saturation: %s (pid %d) at %s\n", d.name().c_str(), d.pid(), d.socket().c_str());
  }
  return ds;
}

struct cell {
  double per_second = 0;
  double cpu_us = 0;
  double user_us = 0;
  double syscalls = -1;
};

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  if (o.daemons.pin) pin_to_one_cpu();
  // Static: fail() ends the bench with std::exit, which destroys statics, not locals, and the
  // daemons must be stopped (hosts of their own included) however the bench ends.
  static std::vector<measured_daemon> daemons = start_daemons(o);
  if (daemons.empty()) fail("no daemon to measure");

  std::printf("# bench_xenstore_saturation: %s, %.1f s per run, median of %d rounds (daemons alternated)\n",
              o.daemons.pin ? "all processes pinned to one CPU" : "unpinned", o.seconds, o.rounds);
  std::printf("# CPU: utime+stime of /proc/PID/stat over the run / requests%s\n",
              o.syscalls ? "; syscalls: perf raw_syscalls:sys_enter -p PID, one extra round" : "");
  std::printf("\n| workload | clients | daemon | req/s | daemon CPU us/req | of which user | syscalls/req |");
  for (const auto& d : daemons)
    if (d.name() != "xenwire" && o.daemons.xenwire) std::printf(" xenwire/%s CPU |", d.name().c_str());
  std::printf("\n|---|---:|---|---:|---:|---:|---:|");
  for (const auto& d : daemons)
    if (d.name() != "xenwire" && o.daemons.xenwire) std::printf("---:|");
  std::printf("\n");
  std::fflush(stdout);

  for (workload w : o.workloads) {
    for (std::size_t n : o.clients) {
      std::map<std::string, std::vector<load_result>> runs;
      for (int round = 0; round < o.rounds; ++round) {
        for (const auto& d : daemons) {
          const load_result r = run_load(d, n, w, o.seconds);
          std::fprintf(stderr, "  %s x%zu %s round %d: %.0f req/s, %.2f us CPU/req\n", name(w), n, d.name().c_str(),
                       round + 1, r.per_second(), r.cpu_us_per_request());
          runs[d.name()].push_back(r);
        }
      }
      std::map<std::string, cell> cells;
      for (const auto& d : daemons) {
        cell c;
        std::vector<double> rate, cpu, user;
        for (const auto& r : runs[d.name()]) {
          rate.push_back(r.per_second());
          cpu.push_back(r.cpu_us_per_request());
          user.push_back(r.user_us_per_request());
        }
        c.per_second = median_of_rounds(rate);
        c.cpu_us = median_of_rounds(cpu);
        c.user_us = median_of_rounds(user);
        if (o.syscalls) c.syscalls = run_load(d, n, w, o.seconds, "perf").syscalls_per_request();
        cells[d.name()] = c;
      }
      for (const auto& d : daemons) {
        const cell& c = cells[d.name()];
        std::printf("| %s | %zu | %s | %.0f | %.2f | %.2f | ", name(w), n, d.name().c_str(), c.per_second, c.cpu_us,
                    c.user_us);
        if (c.syscalls >= 0) std::printf("%.2f |", c.syscalls);
        else std::printf("- |");
        for (const auto& other : daemons) {
          if (other.name() == "xenwire" || !o.daemons.xenwire) continue;
          if (d.name() == "xenwire") std::printf(" %.2f |", cells["xenwire"].cpu_us / cells[other.name()].cpu_us);
          else std::printf(" |");
        }
        std::printf("\n");
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
