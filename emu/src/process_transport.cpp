#include "process_transport.hpp"

#include <poll.h>

#include <mutex>

namespace xenwire::emu {

result<std::shared_ptr<sim::remote_transport>> process_transport() {
  static std::mutex mutex;
  static std::weak_ptr<sim::remote_transport> current;  // weak: the last handle closes it
  std::lock_guard lock(mutex);
  if (auto t = current.lock()) return t;
  auto connected = sim::remote_transport::connect();
  if (!connected) return fail(connected.error());
  std::shared_ptr<sim::remote_transport> t = std::move(*connected);
  current = t;
  return t;
}

bool host_gone(const sim::remote_transport& t) noexcept {
  pollfd p{t.connection_fd(), POLLRDHUP, 0};
  if (::poll(&p, 1, 0) != 1) return false;
  return (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace xenwire::emu
