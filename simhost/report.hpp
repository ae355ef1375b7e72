// Progress lines and counters shared by the simulated host's actors (dom0 toolstack, backend,
// guests). Results go to stdout; the daemon's own log goes to stderr.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace xenwire::simhost {

// A statistic several actors' threads add to. Relaxed: nothing is published through it (each
// addition is only a count), and the summary reads it after joining every actor's thread, which
// orders those reads after every addition.
class counter {
 public:
  void operator++(int) noexcept { v_.fetch_add(1, std::memory_order_relaxed); }
  void operator+=(std::uint64_t n) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class report {
 public:
  explicit report(bool quiet, std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now())
      : quiet_(quiet), start_(start) {}
  std::chrono::steady_clock::time_point start() const { return start_; }

  // One timestamped line: "[  0.123s] dom 3   connected over its xenstore ring".
  void line(int domid, const std::string& what) {
    if (quiet_) return;
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::lock_guard lock(mu_);
    if (domid >= 0) {
      std::printf("[%8.3fs] dom %-3d %s\n", t, domid, what.c_str());
    } else {
      std::printf("[%8.3fs]         %s\n", t, what.c_str());
    }
    std::fflush(stdout);
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  counter xs_ops;         // Xenstore requests made by guests and dom0 actors
  counter watch_events;   // events received by actors
  counter transactions;   // committed by actors
  counter retries;        // EAGAIN retries seen by actors
  counter entropy_bytes;  // received by guests from randomd over vchan
  counter rate_limited;   // rate-limited answers guests received
  counter failures;       // things that should not have failed

 private:
  bool quiet_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
};

}  // namespace xenwire::simhost
