// Shared by the throughput benches: the memcpy baseline every ratio is taken against, and the small
// helpers that turn a failed setup step into a clear exit.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <vector>

#include "xenwire/ring/error.hpp"

namespace xenwire::bench {

// Set by each bench's main(): prefixes error messages.
inline const char* program = "bench";

[[noreturn]] inline void die(const char* what, const std::error_code& ec) {
  std::fprintf(stderr, "%s: %s: %s\n", program, what, ec.message().c_str());
  std::exit(1);
}
template <class T>
T must(result<T> r, const char* what) {
  if (!r) die(what, r.error());
  return std::move(*r);
}
inline void must(result<void> r, const char* what) {
  if (!r) die(what, r.error());
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// memcpy of `total` bytes in `chunk`-byte pieces through a ring-sized buffer, like the ring copies:
// the baseline of every throughput ratio.
inline double memcpy_rate(std::size_t total, std::size_t chunk, std::size_t ring) {
  using clock_type = std::chrono::steady_clock;
  std::vector<std::byte> src(chunk, std::byte{0x5a}), dst(ring + chunk);
  const auto t0 = clock_type::now();
  std::size_t at = 0;
  for (std::size_t done = 0; done < total; done += chunk) {
    std::memcpy(dst.data() + at, src.data(), chunk);
    at = (at + chunk) % ring;
    asm volatile("" : : "r"(dst.data()) : "memory");  // keep the copy from being elided
  }
  return static_cast<double>(total) / std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace xenwire::bench
