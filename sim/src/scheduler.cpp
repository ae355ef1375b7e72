#include "xenwire/sim/scheduler.hpp"

#include <algorithm>
#include <stdexcept>

#include "core.hpp"
#include "scheduler_impl.hpp"

namespace xenwire::sim {
namespace detail {

namespace {
std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
}  // namespace

prng::prng(std::uint64_t seed) noexcept {
  for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t prng::next() noexcept {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

scheduler_impl::scheduler_impl(std::uint64_t seed, faults f) : rng(seed), config(f) {
  if (config.crash) {
    crash_step = config.crash->at_step ? *config.crash->at_step
                                       : 1 + rng.uniform(std::max<std::uint64_t>(config.crash->horizon, 1));
  }
}

void scheduler_impl::post(std::weak_ptr<domain> target, evtchn_port_t port, std::uint32_t generation) {
  // Due at the next step, or held back for 1..max_delay_steps more steps.
  std::uint64_t due = now + 1;
  if (rng.chance(config.delay)) due += 1 + rng.uniform(std::max<std::uint32_t>(config.max_delay_steps, 1));
  queue.push_back({due, std::move(target), port, generation});
}

}  // namespace detail

std::string to_string(const trace_entry& e) {
  static constexpr const char* names[] = {"actor", "deliver", "drop", "spurious", "crash", "idle"};
  return "#" + std::to_string(e.step) + " " + names[static_cast<int>(e.kind)] + " " + std::to_string(e.a) + " " +
         std::to_string(e.b);
}

scheduler::scheduler(std::uint64_t seed, faults f) : impl_(std::make_unique<detail::scheduler_impl>(seed, f)) {}

scheduler::~scheduler() {
  if (auto core = impl_->core) core->detach_scheduler();
}

std::size_t scheduler::add_actor(std::string name, step_fn step, std::optional<domid_t> domain) {
  impl_->actors.push_back({std::move(name), std::move(step), domain, false});
  return impl_->actors.size() - 1;
}

bool scheduler::step() {
  detail::scheduler_impl& s = *impl_;
  const auto core = s.core;  // keeps the host's state alive for this step
  ++s.now;

  if (core && s.crash_step != 0 && s.now >= s.crash_step) {
    s.crash_step = 0;
    auto victim = s.config.crash->domain ? s.config.crash->domain : core->random_alive_domain(s);
    if (victim && core->destroy(*victim)) s.record(trace_kind::crash, *victim, 0);
  }
  if (core && s.rng.chance(s.config.spurious_event)) {
    if (auto hit = core->spurious_event(s)) s.record(trace_kind::spurious, hit->first, hit->second);
  }

  // Candidates: runnable actors, then due events, in a fixed order; one is drawn at random.
  std::vector<std::size_t> runnable;
  for (std::size_t i = 0; i < s.actors.size(); ++i) {
    detail::actor& a = s.actors[i];
    if (!a.done && a.domain && core && !core->domain_alive(*a.domain)) a.done = true;
    if (!a.done) runnable.push_back(i);
  }
  std::vector<std::size_t> due;
  for (std::size_t i = 0; i < s.queue.size(); ++i) {
    if (s.queue[i].due <= s.now) due.push_back(i);
  }
  const std::size_t choices = runnable.size() + due.size();
  if (choices == 0) {
    if (s.queue.empty()) {
      --s.now;
      return false;
    }
    s.record(trace_kind::idle, 0, 0);
    return true;
  }
  const std::size_t pick = static_cast<std::size_t>(s.rng.uniform(choices));
  if (pick < runnable.size()) {
    const std::size_t i = runnable[pick];
    s.record(trace_kind::actor, static_cast<std::uint32_t>(i), 0);
    detail::actor& a = s.actors[i];
    if (!a.step()) a.done = true;
  } else {
    detail::queued_event ev = std::move(s.queue[due[pick - runnable.size()]]);
    s.queue.erase(s.queue.begin() + static_cast<std::ptrdiff_t>(due[pick - runnable.size()]));
    domid_t domid = 0;
    const bool delivered = core && detail::deliver_event(*core, ev.target, ev.port, ev.generation, domid);
    s.record(delivered ? trace_kind::deliver : trace_kind::drop, domid, ev.port);
  }
  return true;
}

run_result scheduler::run(std::uint64_t max_steps) {
  run_result r;
  while (r.steps < max_steps) {
    if (!step()) {
      r.finished = true;
      break;
    }
    ++r.steps;
  }
  if (!r.finished) {
    r.finished = impl_->queue.empty();
    for (const auto& a : impl_->actors) r.finished = r.finished && a.done;
  }
  return r;
}

std::uint64_t scheduler::now() const noexcept { return impl_->now; }
const std::vector<trace_entry>& scheduler::trace() const noexcept { return impl_->trace; }

std::uint64_t scheduler::trace_hash() const noexcept {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  auto mix = [&h](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xFF;
      h *= 0x100000001B3ULL;
    }
  };
  for (const auto& e : impl_->trace) {
    mix(e.step);
    mix(static_cast<std::uint64_t>(e.kind));
    mix(e.a);
    mix(e.b);
  }
  return h;
}

const std::string& scheduler::actor_name(std::size_t actor) const { return impl_->actors.at(actor).name; }
bool scheduler::actor_done(std::size_t actor) const { return impl_->actors.at(actor).done; }
std::uint64_t scheduler::random() { return impl_->rng.next(); }
std::uint64_t scheduler::uniform(std::uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("sim::scheduler::uniform: bound must be > 0");
  return impl_->rng.uniform(bound);
}

}  // namespace xenwire::sim
