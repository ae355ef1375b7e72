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
// An endpoint must not move while it is registered; remove() it before destroying it. A handler may
// remove any entry, its own included: a removed entry is not called again, even when it was ready
// in the same batch. The set runs on xenwire's one epoll loop (base/event_loop.hpp), whose rules
// these are; loop() gives it to code that wants to add its own descriptors with their own events.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>

#include "xenwire/base/event_loop.hpp"
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
  // Any other descriptor in the same loop (a Xenstore watch's fd(), a socket, a timerfd): `h` runs
  // when it is readable. Level-triggered: `h` (or the caller after run_once) must consume what made
  // it readable. remove_fd() before closing it.
  result<void> add_fd(int fd, std::function<void()> h);
  result<void> remove_fd(int fd);
  std::size_t size() const noexcept;
  // The epoll fd itself, to nest this set in a bigger loop.
  int fd() const noexcept;
  event_loop& loop() noexcept;

  // Waits up to `timeout` (negative: forever; 0: just look) and handles every ready endpoint.
  // Returns how many were handled.
  result<std::size_t> run_once(std::chrono::milliseconds timeout);

 private:
  struct state;
  explicit poll_set(std::unique_ptr<state> s) noexcept;
  std::unique_ptr<state> state_;  // on the heap: the loop's handlers point at it across moves
};

}  // namespace xenwire::vchan
