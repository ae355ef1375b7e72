#include "xenwire/xenstore/client/helpers.hpp"

#include <random>
#include <thread>

namespace xenwire::xenstore {

namespace detail {
void sleep_with_jitter(std::chrono::milliseconds base) {
  // Jitter keeps clients that conflicted together from retrying in lockstep.
  thread_local std::minstd_rand rng(std::random_device{}());
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(base).count();
  std::uniform_int_distribution<long long> extra(0, us / 2);
  std::this_thread::sleep_for(std::chrono::microseconds(us + extra(rng)));
}
}  // namespace detail

client_result<std::optional<std::string>> wait_for(client& c, std::string_view path, const node_predicate& pred,
                                                   std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  // Small queue: every event (or overflow marker) only means "read again".
  auto w = c.add_watch(path, {.depth = std::nullopt, .queue_limit = 4, .token = {}});
  if (!w) return client_fail(w.error());
  for (;;) {
    auto value = c.try_read(path);
    if (!value) return client_fail(value.error());
    if (pred(*value)) return value;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) return client_fail(errc::timed_out);
    auto ev = w->next(left);
    if (!ev) return client_fail(ev.error());
  }
}

}  // namespace xenwire::xenstore
