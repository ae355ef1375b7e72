// Progress lines and counters shared by the simulated host's actors (dom0 toolstack, backend,
// guests). Results go to stdout; the daemon's own log goes to stderr.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace xenwire::sim_host {

class report {
 public:
  explicit report(bool quiet) : quiet_(quiet), start_(std::chrono::steady_clock::now()) {}

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

  std::atomic<std::uint64_t> xs_ops{0};          // Xenstore requests made by guests and dom0 actors
  std::atomic<std::uint64_t> watch_events{0};    // events received by actors
  std::atomic<std::uint64_t> transactions{0};    // committed by actors
  std::atomic<std::uint64_t> retries{0};         // EAGAIN retries seen by actors
  std::atomic<std::uint64_t> entropy_bytes{0};   // received by guests from randomd over vchan
  std::atomic<std::uint64_t> vchan_bytes{0};     // all bytes through vchans
  std::atomic<std::uint64_t> rate_limited{0};    // rate-limited answers guests received
  std::atomic<std::uint64_t> failures{0};        // things that should not have failed

 private:
  bool quiet_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
};

}  // namespace xenwire::sim_host
