// event_channel::wait() for every backend: the seam's blocking wait over a backend's own
// non-blocking take and its pollable descriptors, so the deadline and the poll loop are written once;
// and the drain a domain_watch's consume() does.
#pragma once

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <system_error>

#include "xenwire/base/error.hpp"
#include "xenwire/base/ids.hpp"

namespace xenwire {

// Calls take() (result<optional<port>>: the next deliverable port, or none yet) until it yields a
// port or fails; between tries polls `fds` (the handle's fd first, POLLIN) until one is ready or
// `timeout` passes (errc::timed_out; negative: never). Any further fd that hangs up or errs ends the
// wait with errc::peer_closed: what a backend watches besides its handle (the host's socket).
template <class Take>
result<evtchn_port_t> wait_for_event(Take&& take, std::span<pollfd> fds, std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  for (;;) {
    result<std::optional<evtchn_port_t>> got = take();
    if (!got) return fail(got.error());
    if (*got) return **got;
    int wait_ms = -1;
    if (timeout.count() >= 0) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
      if (left.count() <= 0) return fail(errc::timed_out);
      wait_ms = static_cast<int>(std::min<std::chrono::milliseconds::rep>(left.count(), 1 << 30));
    }
    for (pollfd& p : fds) p.revents = 0;
    if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) {
      return fail(std::error_code(errno, std::system_category()));
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLHUP | POLLERR)) != 0) return fail(errc::peer_closed);
    }
  }
}

// Calls take() until it yields nothing or fails: true if it yielded at least one port. A VIRQ only
// says "something changed", so how many times it fired does not matter.
template <class Take>
result<bool> drain_events(Take&& take) {
  bool fired = false;
  for (;;) {
    result<std::optional<evtchn_port_t>> got = take();
    if (!got) return fail(got.error());
    if (!*got) return fired;
    fired = true;
  }
}

}  // namespace xenwire
