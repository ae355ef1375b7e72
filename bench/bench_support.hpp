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
#include <cerrno>
#include <cstring>
#include <system_error>
#include <string_view>
#include <vector>

#include <pthread.h>
#include <sched.h>

#include "xenwire/base/error.hpp"

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

// Where a two-thread bench runs its threads. `spread`: the two sides on two different CPUs, as two
// domains on their own vCPUs (vchan's deployment); `one`: both on one CPU; `none`: the scheduler
// decides (and on these 2-vCPU VMs sometimes stacks both sides on one CPU for a while).
enum class placement { none, one, spread };

inline placement where = placement::none;

inline const char* name(placement p) {
  switch (p) {
    case placement::one: return "one CPU";
    case placement::spread: return "two CPUs";
    case placement::none: break;
  }
  return "unpinned";
}

// Parses "--pin=spread|one|none"; false if `arg` is not that option or names no placement.
inline bool parse_pin(std::string_view arg, placement& out) {
  constexpr std::string_view key = "--pin=";
  if (arg.substr(0, key.size()) != key) return false;
  const auto v = arg.substr(key.size());
  if (v == "spread") out = placement::spread;
  else if (v == "one") out = placement::one;
  else if (v == "none") out = placement::none;
  else return false;
  return true;
}

// Pins the calling thread for `side` 0 (the writer, main thread) or 1 (the reader) of `where`,
// choosing among the CPUs the process was started on.
inline void pin_side(int side) {
  if (where == placement::none) return;
  static const cpu_set_t allowed = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) die("sched_getaffinity", std::error_code(errno, std::generic_category()));
    return set;
  }();
  int cpus[2] = {-1, -1}, found = 0;
  for (int c = 0; c < CPU_SETSIZE && found < 2; ++c)
    if (CPU_ISSET(c, &allowed)) cpus[found++] = c;
  if (where == placement::spread && found < 2) die("--pin=spread", std::make_error_code(std::errc::invalid_argument));
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(where == placement::spread ? cpus[side] : cpus[0], &one);
  if (int e = pthread_setaffinity_np(pthread_self(), sizeof one, &one); e != 0)
    die("pthread_setaffinity_np", std::error_code(e, std::generic_category()));
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// memcpy of `total` bytes in `chunk`-byte pieces through a ring-sized buffer, like the ring copies:
// the baseline of every throughput ratio. Repeated for at least 20 ms: a single pass over a few
// MiB takes well under a millisecond, and such short timings swung the baseline (and every ratio)
// by 2x between runs.
inline double memcpy_rate(std::size_t total, std::size_t chunk, std::size_t ring) {
  using clock_type = std::chrono::steady_clock;
  std::vector<std::byte> src(chunk, std::byte{0x5a}), dst(ring + chunk);
  const auto t0 = clock_type::now();
  std::size_t moved = 0;
  std::chrono::duration<double> took{};
  do {
    std::size_t at = 0;
    for (std::size_t done = 0; done < total; done += chunk) {
      std::memcpy(dst.data() + at, src.data(), chunk);
      at = (at + chunk) % ring;
      asm volatile("" : : "r"(dst.data()) : "memory");  // keep the copy from being elided
    }
    moved += total;
    took = clock_type::now() - t0;
  } while (took < std::chrono::milliseconds(20));
  return static_cast<double>(moved) / took.count();
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
    pin_side(1);
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
