// struct xenevtchn_handle: one remote event-channel handle (an eventfd the host signals), shared by
// the handles xenevtchn_fdopen made from it.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "xenwire/sim/remote.hpp"

// The C API, declared with default visibility: the library is built with -fvisibility=hidden and
// only these (filtered again by the version script) are exported.
#pragma GCC visibility push(default)
extern "C" {
#include <xenevtchn.h>
}
#pragma GCC visibility pop

struct xenevtchn_handle {
  std::shared_ptr<xenwire::sim::remote_transport> transport;
  std::shared_ptr<xenwire::sim::remote_event_channel> channel;
  // O_NONBLOCK as the host handed the fd over: pending() only fails with EAGAIN if the caller set
  // O_NONBLOCK itself (the evtchn device's fd is blocking by default).
  bool born_nonblocking = false;

  std::mutex mutex;                            // guards restricted_to
  std::optional<xenwire::domid_t> restricted_to;  // xenevtchn_restrict
};

namespace xenwire::emu {

// Every open handle's channel by fd, for xenevtchn_fdopen.
void remember_channel(const std::shared_ptr<sim::remote_event_channel>& channel,
                      const std::shared_ptr<sim::remote_transport>& transport);
struct known_channel {
  std::shared_ptr<sim::remote_event_channel> channel;
  std::shared_ptr<sim::remote_transport> transport;
};
std::optional<known_channel> find_channel(int fd);

}  // namespace xenwire::emu
