// The scheduler's state, shared with the host core that posts events into its queue.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "xenwire/sim/scheduler.hpp"

namespace xenwire::sim::detail {

class host_core;
class domain;

// xoshiro256** seeded with splitmix64: fast, and the same sequence on every platform.
class prng {
 public:
  explicit prng(std::uint64_t seed) noexcept;
  std::uint64_t next() noexcept;
  std::uint64_t uniform(std::uint64_t bound) noexcept { return next() % bound; }
  bool chance(double p) noexcept {
    return p > 0.0 && static_cast<double>(next() >> 11) * 0x1.0p-53 < p;
  }

 private:
  std::uint64_t s_[4];
};

struct queued_event {
  std::uint64_t due;
  std::weak_ptr<domain> target;
  evtchn_port_t port;
  std::uint32_t generation;
};

struct actor {
  std::string name;
  scheduler::step_fn step;
  std::optional<domid_t> domain;
  bool done = false;
};

class scheduler_impl {
 public:
  scheduler_impl(std::uint64_t seed, faults f);

  prng rng;
  faults config;
  std::uint64_t crash_step = 0;  // 0: no crash planned (or done)
  std::uint64_t now = 0;
  std::deque<actor> actors;  // stable addresses: an actor may add actors while it runs
  std::vector<queued_event> queue;
  std::vector<trace_entry> trace;
  std::shared_ptr<host_core> core;  // set while attached

  // Called by the host core under its mutex.
  void post(std::weak_ptr<domain> target, evtchn_port_t port, std::uint32_t generation);
  void record(trace_kind kind, std::uint32_t a, std::uint32_t b) { trace.push_back({now, kind, a, b}); }
};

}  // namespace xenwire::sim::detail
