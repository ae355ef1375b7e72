// A seeded, single-threaded scheduler: runs registered actors (step functions) in an order drawn
// from one PRNG. Attached to a host (host::attach), it also owns event delivery: notifications are
// queued and delivered as scheduler steps, possibly delayed, and faults (spurious events, crashes,
// allocation failures) are injected from the same PRNG. The same seed, actors and faults replay
// the same interleaving, which trace() / trace_hash() let a test assert.
//
// Deterministic mode is single-threaded: call everything (actors included) from one thread, and
// never block in an actor. event_channel::wait() on an attached host does not block: it returns
// errc::timed_out at once when nothing is deliverable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xenwire/ring/transport.hpp"
#include "xenwire/sim/faults.hpp"

namespace xenwire::sim {

namespace detail {
class scheduler_impl;
}

enum class trace_kind : std::uint8_t {
  actor,     // a = actor index
  deliver,   // an event reached its port: a = domid, b = port
  drop,      // a queued event found its port gone: a = domid, b = port
  spurious,  // fault: a = domid, b = port
  crash,     // fault: a = domid
  idle,      // only delayed events were left; time advanced
};

struct trace_entry {
  std::uint64_t step;
  trace_kind kind;
  std::uint32_t a;
  std::uint32_t b;
  friend bool operator==(const trace_entry&, const trace_entry&) = default;
};

std::string to_string(const trace_entry& e);

struct run_result {
  std::uint64_t steps = 0;  // steps taken by this run() call
  bool finished = false;    // every actor is done and no event is queued
};

class scheduler {
 public:
  // Return true to be scheduled again, false when the actor has finished.
  using step_fn = std::function<bool()>;

  explicit scheduler(std::uint64_t seed, faults f = {});
  ~scheduler();  // detaches from its host
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // An actor bound to `domain` is retired when that domain is no longer alive (e.g. crashed).
  std::size_t add_actor(std::string name, step_fn step, std::optional<domid_t> domain = {});

  // One step: inject step faults, then run one actor or deliver one due event, chosen at random.
  // Returns false when there is nothing left to do.
  bool step();
  run_result run(std::uint64_t max_steps);

  std::uint64_t now() const noexcept;  // steps taken so far
  const std::vector<trace_entry>& trace() const noexcept;
  std::uint64_t trace_hash() const noexcept;  // FNV-1a over the trace
  const std::string& actor_name(std::size_t actor) const;
  bool actor_done(std::size_t actor) const;

  // Draws from the scheduler's PRNG, for actors that want seeded choices of their own.
  std::uint64_t random();
  std::uint64_t uniform(std::uint64_t bound);  // in [0, bound), bound > 0

 private:
  friend class host;
  std::unique_ptr<detail::scheduler_impl> impl_;
};

}  // namespace xenwire::sim
