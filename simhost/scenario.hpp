// What a simulated-host run does, drawn from one seed: how many guests, which one crashes and
// when, how much work each guest does. The same seed gives the same scenario (thread interleavings
// between domains still vary from run to run, as on a real host).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "xenwire/ring/transport.hpp"

namespace xenwire::simhost {

struct guest_plan {
  domid_t domid;
  unsigned rounds;        // read/write/transaction rounds after boot
  unsigned vifs;          // network devices to set up with the backend
  bool crashes = false;   // destroyed mid-way by the host
  unsigned crash_after;   // ...after this many rounds
  std::size_t entropy_bytes = 0;     // fetched from randomd over vchan once its devices are up
  bool crash_while_fetching = false; // the crash hits during the entropy fetch instead
  unsigned crash_fetch_delay_ms = 0; // ...this long after the fetch starts
};

struct scenario {
  std::uint64_t seed;
  std::vector<guest_plan> guests;

  static scenario make(std::uint64_t seed, unsigned guests, unsigned rounds, bool crash, std::size_t entropy = 0) {
    scenario s{seed, {}};
    std::mt19937_64 rng(seed);
    for (unsigned i = 0; i < guests; ++i) {
      guest_plan g{};
      g.domid = static_cast<domid_t>(i + 1);
      g.rounds = rounds / 2 + static_cast<unsigned>(rng() % (rounds / 2 + 1));
      g.vifs = 1 + static_cast<unsigned>(rng() % 2);
      s.guests.push_back(g);
    }
    if (crash && guests > 1) {
      auto& victim = s.guests[rng() % guests];
      victim.crashes = true;
      victim.crash_after = victim.rounds / 3 + static_cast<unsigned>(rng() % (victim.rounds / 3 + 1));
    }
    // Drawn after the rest, so a seed's other choices do not depend on whether entropy is on.
    for (auto& g : s.guests) g.entropy_bytes = entropy;
    if (crash && guests > 1 && entropy > 0) {
      for (auto& g : s.guests) {
        if (!g.crashes) continue;
        g.crash_while_fetching = rng() % 2 == 0;
        g.crash_fetch_delay_ms = static_cast<unsigned>(rng() % 400);
      }
    }
    return s;
  }
};

}  // namespace xenwire::simhost
