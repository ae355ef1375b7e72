// Closed-loop load from N client processes (one connection each, one request outstanding) against
// one daemon, and what it cost the daemon: its CPU time over the run, optionally its syscalls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "saturation_daemon.hpp"

namespace xenwire::bench {

enum class workload { read, write, mix };  // mix: 9 reads to 1 write

const char* name(workload w);

// The value every READ returns and every WRITE stores (the floor answers READ with as many bytes).
inline constexpr std::size_t value_size = 64;

struct load_result {
  double seconds = 0;
  std::uint64_t requests = 0;
  double daemon_cpu_seconds = 0;   // utime+stime
  double daemon_user_seconds = 0;  // of which utime
  double syscalls = -1;  // raw_syscalls:sys_enter of the daemon over the run; -1: not counted

  double per_second() const { return static_cast<double>(requests) / seconds; }
  double cpu_us_per_request() const { return daemon_cpu_seconds * 1e6 / static_cast<double>(requests); }
  double user_us_per_request() const { return daemon_user_seconds * 1e6 / static_cast<double>(requests); }
  double syscalls_per_request() const { return syscalls / static_cast<double>(requests); }
};

// Writes the node READs ask for (/bench/key).
void prepare(const measured_daemon& d);

// `clients` processes forked (the caller has no threads), connected and warmed up before the
// daemon's CPU time is first read; each then runs `seconds`. With `perf` (a perf binary), the
// daemon's syscalls are counted by `perf stat -e raw_syscalls:sys_enter -p PID` over the run.
load_result run_load(const measured_daemon& d, std::size_t clients, workload w, double seconds,
                     const std::string& perf = {});

}  // namespace xenwire::bench
