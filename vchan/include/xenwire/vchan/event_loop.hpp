// Driving many vchans from one thread: an epoll set over their event-channel fds.
//
//   auto loop = vchan::poll_set::create().value();
//   loop.add(server, [&](vchan::endpoint& ep, vchan::status st) { /* non-blocking reads/writes */ });
//   for (;;) loop.run_once(std::chrono::milliseconds(-1));
//
// Each endpoint should be in io_mode::non_blocking. When its fd is readable, run_once() calls
// handle_events() (consumes the events, refreshes the status, re-arms a persistent server) and
// then the handler with the new status (status::failed: error() says why). The handler reads until
// would_block (a read that comes up short asks the peer for the next signal, so the fd wakes the
// loop again) and writes until would_block (which asks for a signal when the peer makes room).
// An endpoint must not move while it is registered; remove() it before destroying it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>

#include "xenwire/vchan/endpoint.hpp"

namespace xenwire::vchan {

class poll_set {
 public:
  using handler = std::function<void(endpoint&, status)>;

  static result<poll_set> create();
  poll_set(poll_set&&) noexcept;
  poll_set& operator=(poll_set&&) noexcept;
  ~poll_set();

  result<void> add(endpoint& ep, handler h);
  result<void> remove(endpoint& ep);
  std::size_t size() const noexcept { return entries_.size(); }
  // The epoll fd itself, to nest this set in a bigger loop.
  int fd() const noexcept { return epfd_; }

  // Waits up to `timeout` (negative: forever; 0: just look) and handles every ready endpoint.
  // Returns how many were handled.
  result<std::size_t> run_once(std::chrono::milliseconds timeout);

 private:
  struct entry {
    endpoint* ep;
    handler h;
  };
  explicit poll_set(int epfd) noexcept : epfd_(epfd) {}
  int epfd_ = -1;
  std::map<endpoint*, std::unique_ptr<entry>> entries_;
};

}  // namespace xenwire::vchan
