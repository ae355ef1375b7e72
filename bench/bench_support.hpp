// Shared by the throughput benches: the memcpy baseline every ratio is taken against, and the small
// helpers that turn a failed setup step into a clear exit.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
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

// The ceiling for any two-thread ring on this machine: a bare SPSC byte ring (process memory, each
// index alone on its cache line, no liveness or notify protocol; a side that waits pauses, then
// yields every other round, as vchan's blocking calls do: pure spinning collapses on these VMs)
// moving `total` bytes in `chunk`-byte pieces through `ring` bytes. A protocol's rate divided by
// this one is what its own machinery costs; memcpy alone hides the cross-core transfer of the data.
inline double spsc_rate(std::size_t total, std::size_t chunk, std::size_t ring) {
  using clock_type = std::chrono::steady_clock;
  struct alignas(64) index {
    std::atomic<std::uint64_t> v{0};
  };
  index prod, cons;
  std::vector<std::byte> data(ring);
  std::atomic<bool> go{false};
  auto pause = [](unsigned& rounds) {
    if (++rounds > 4 && rounds % 2 == 0) {
      std::this_thread::yield();
    } else {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  };
  // Stream semantics, as vchan's read()/write(): each call moves what it can of its chunk.
  std::thread reader([&] {
    std::vector<std::byte> out(chunk);
    std::uint64_t c = 0, seen = 0;
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();  // pairs with the release below
    while (c < total) {
      // Acquire: pairs with the writer's release of prod (the bytes before it are written).
      for (unsigned rounds = 0; seen == c; pause(rounds)) seen = prod.v.load(std::memory_order_acquire);
      const std::size_t n = std::min<std::uint64_t>(chunk, seen - c);
      const std::size_t at = c % ring, first = std::min<std::size_t>(n, ring - at);
      std::memcpy(out.data(), data.data() + at, first);
      std::memcpy(out.data() + first, data.data(), n - first);
      c += n;
      cons.v.store(c, std::memory_order_release);  // pairs with the writer's acquire of cons
    }
  });
  std::vector<std::byte> in(chunk, std::byte{0xa5});
  const auto t0 = clock_type::now();
  go.store(true, std::memory_order_release);
  std::uint64_t p = 0, freed = 0;
  while (p < total) {
    // Acquire: pairs with the reader's release of cons (it finished copying those bytes out).
    for (unsigned rounds = 0; p - freed == ring; pause(rounds)) freed = cons.v.load(std::memory_order_acquire);
    const std::size_t n = std::min<std::uint64_t>({chunk, total - p, ring - (p - freed)});
    const std::size_t at = p % ring, first = std::min<std::size_t>(n, ring - at);
    std::memcpy(data.data() + at, in.data(), first);
    std::memcpy(data.data(), in.data() + first, n - first);
    p += n;
    prod.v.store(p, std::memory_order_release);  // pairs with the reader's acquire of prod
  }
  reader.join();
  return static_cast<double>(total) / std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace xenwire::bench
