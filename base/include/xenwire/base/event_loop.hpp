// The one epoll loop every xenwire adapter runs on (the daemon, vchan's poll_set, randomd):
// fd readiness callbacks, one optional deadline per wait, a thread-safe stop, and SIGTERM/SIGINT
// through a signalfd. Single-threaded: everything but stop() runs on the thread that calls
// run_once().
//
// The rule that makes it safe to drive many peers: a handler may add, modify or remove any fd, its
// own included, and run_once() may be re-entered from a handler. A removed fd's events still
// pending in the current batch are not delivered, and its handler is destroyed only when no batch
// is running any more (it may be the one running).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "xenwire/base/error.hpp"
#include "xenwire/base/unique_fd.hpp"

namespace xenwire {

// Readiness as epoll reports it (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR bits).
using fd_handler = std::function<void(std::uint32_t events)>;

class event_loop {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  static result<std::unique_ptr<event_loop>> create();
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  // Registers `fd` (not owned) for `events`.
  result<void> add(int fd, std::uint32_t events, fd_handler handler);
  result<void> modify(int fd, std::uint32_t events);
  void remove(int fd) noexcept;
  bool contains(int fd) const noexcept;
  // Registered fds, the loop's own wake and signal fds excluded.
  std::size_t size() const noexcept { return registered_; }

  // Turns the given signals into a clean stop. The caller must have blocked them in every thread
  // (block_signals() before starting threads), or they keep their default action.
  result<void> stop_on_signals(std::span<const int> signals);

  // Waits until an fd is ready, `deadline` passes or a stop is requested, then runs the handlers.
  // Returns how many of the caller's handlers ran.
  result<std::size_t> run_once(std::optional<time_point> deadline);
  // The same with a relative timeout: negative waits forever, zero only looks.
  result<std::size_t> run_once(std::chrono::milliseconds timeout);
  // Thread-safe and async-signal-safe: run_once() returns promptly and stopping() turns true.
  void stop() noexcept;
  bool stopping() const noexcept;
  // The signal that stopped the loop, if one did.
  std::optional<int> stop_signal() const noexcept { return stop_signal_; }
  // The epoll fd itself (readable while an fd is ready), to nest this loop in a bigger one.
  int fd() const noexcept { return epoll_.get(); }

 private:
  event_loop(unique_fd epoll, unique_fd wake) noexcept;
  struct slot {
    std::unique_ptr<fd_handler> handler;
    std::uint32_t generation = 0;
    bool active = false;
    bool internal = false;  // the wake or signal fd: not counted, not the caller's
  };
  result<void> add_slot(int fd, std::uint32_t events, fd_handler handler, bool internal);
  result<std::size_t> wait_and_dispatch(int timeout_ms);
  void on_wake() noexcept;
  void on_signal() noexcept;

  unique_fd epoll_;
  unique_fd wake_;    // eventfd written by stop()
  unique_fd signal_;  // signalfd, if stop_on_signals() was called
  std::vector<slot> slots_;  // indexed by fd
  // Handlers removed while a batch runs (perhaps themselves): destroyed when the outermost batch ends.
  std::vector<std::unique_ptr<fd_handler>> retired_;
  std::uint32_t generation_ = 0;
  std::size_t registered_ = 0;
  int dispatching_ = 0;  // run_once() depth
  std::optional<int> stop_signal_;
  // Written by stop() from any thread or a signal handler, read by the loop's thread; release/acquire
  // so whatever the stopping thread did before stop() is visible once the loop sees the flag.
  std::atomic<bool> stopping_{false};
};

// Blocks `signals` in the calling thread (and threads it starts later), for stop_on_signals().
result<void> block_signals(std::span<const int> signals);

}  // namespace xenwire
