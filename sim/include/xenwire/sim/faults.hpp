// Seed-driven fault injection for the simulator. A `faults` value is given to a sim::scheduler;
// every random decision it implies is drawn from that scheduler's single PRNG, so a seed replays
// the same faults at the same steps.
#pragma once

#include <cstdint>
#include <optional>

#include "xenwire/ring/transport.hpp"

namespace xenwire::sim {

// Destroys a domain (as a crash: no cleanup by its code) at a scheduler step.
struct crash_plan {
  std::optional<domid_t> domain = std::nullopt;      // unset: a random alive domain, drawn at that step
  std::optional<std::uint64_t> at_step = std::nullopt;  // unset: a random step in [1, horizon]
  std::uint64_t horizon = 1000;
};

struct faults {
  // Per scheduler step, the probability that a random connected or unbound port of a live
  // domain becomes pending although nobody notified it (protocols must tolerate spurious events).
  double spurious_event = 0.0;
  // Probability that an event (notify, unmap-notify, closure wake-up) is held back for
  // 1..max_delay_steps steps before it is delivered.
  double delay = 0.0;
  std::uint32_t max_delay_steps = 8;
  std::optional<crash_plan> crash = std::nullopt;
  // Probability that share() fails with errc::grant_exhausted, and that bind_unbound() /
  // bind_interdomain() fail with errc::port_exhausted, although the limit is not reached.
  // (Deterministic hard limits: host::set_grant_limit / host::set_port_limit.)
  double grant_failure = 0.0;
  double port_failure = 0.0;
};

}  // namespace xenwire::sim
