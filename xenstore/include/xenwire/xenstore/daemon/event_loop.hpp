// A small epoll loop: fd readiness callbacks, one optional deadline per wait, a thread-safe stop,
// and SIGTERM/SIGINT through a signalfd. Single-threaded: everything but stop() runs on the thread
// that calls run_once().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "xenwire/ring/error.hpp"
#include "xenwire/xenstore/daemon/unique_fd.hpp"
#include "xenwire/xenstore/server/core.hpp"  // time_point

namespace xenwire::xenstore {

// Readiness as epoll reports it (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR bits).
using fd_handler = std::function<void(std::uint32_t events)>;

class event_loop {
 public:
  static result<std::unique_ptr<event_loop>> create();
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  // Registers `fd` (not owned) for `events`. Handlers may add, modify or remove any fd, their own
  // included: a removed fd's events still pending in the current batch are not delivered.
  result<void> add(int fd, std::uint32_t events, fd_handler handler);
  result<void> modify(int fd, std::uint32_t events);
  void remove(int fd) noexcept;

  // Turns the given signals into a clean stop. The caller must have blocked them in every thread
  // (block_signals() before starting threads), or they keep their default action.
  result<void> stop_on_signals(std::span<const int> signals);

  // Waits until an fd is ready, `deadline` passes or a stop is requested, then runs the handlers.
  result<void> run_once(std::optional<time_point> deadline);
  // Thread-safe and async-signal-safe: run_once() returns promptly and stopping() turns true.
  void stop() noexcept;
  bool stopping() const noexcept;
  // The signal that stopped the loop, if one did.
  std::optional<int> stop_signal() const noexcept { return stop_signal_; }

 private:
  event_loop(unique_fd epoll, unique_fd wake) noexcept;
  struct slot {
    std::unique_ptr<fd_handler> handler;
    std::uint32_t generation = 0;
    bool active = false;
  };
  void on_wake() noexcept;
  void on_signal() noexcept;

  unique_fd epoll_;
  unique_fd wake_;    // eventfd written by stop()
  unique_fd signal_;  // signalfd, if stop_on_signals() was called
  std::vector<slot> slots_;  // indexed by fd
  // Handlers removed while a batch runs (perhaps by themselves): destroyed after the batch.
  std::vector<std::unique_ptr<fd_handler>> retired_;
  std::uint32_t generation_ = 0;
  std::optional<int> stop_signal_;
  std::atomic<bool> stopping_{false};
};

// Blocks `signals` in the calling thread (and threads it starts later), for stop_on_signals().
result<void> block_signals(std::span<const int> signals);

}  // namespace xenwire::xenstore
