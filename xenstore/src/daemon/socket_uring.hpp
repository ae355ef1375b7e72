// The daemon's io_uring (liburing): socket clients' receives and sends, and one poll of the epoll
// loop that keeps every other fd (listeners, event channels, signals). A batch of requests from
// many clients then costs one io_uring_enter: it submits every reply and every re-armed receive of
// the last batch and waits for the next completions, where the epoll path makes a recv and a send
// per request and an epoll_wait per batch.
//
// Receives are multishot from a ring of provided buffers: a connection's receive stays armed across
// requests (no poll to set up again per request), and buffers are shared by all connections.
//
// Single issuer: the ring is created disabled and enabled by the thread that runs the loop, so the
// kernel may defer completion work to our own io_uring_enter (IORING_SETUP_DEFER_TASKRUN) instead
// of interrupting us for each one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "xenwire/base/error.hpp"

namespace xenwire::xenstore {

class socket_uring {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // Fails with not_supported when the kernel refuses io_uring or provided buffer rings (before
  // Linux 5.19, io_uring disabled by sysctl or a seccomp filter): the caller serves with epoll.
  static result<std::unique_ptr<socket_uring>> create(unsigned entries);
  ~socket_uring();
  socket_uring(const socket_uring&) = delete;
  socket_uring& operator=(const socket_uring&) = delete;

  // On the thread that will submit from now on; before it, operations are only queued.
  result<void> enable();

  // Queue an operation; its completion reports `tag`. Buffers must stay valid until it completes.
  // Armed until it reports without `more` (an error, ENOBUFS when every buffer is in use, or a
  // cancel); each report's `data` is a provided buffer, valid during the reap callback only.
  void recv_multishot(int fd, std::uint64_t tag);
  // Completes during its submission, or once the socket has room.
  void send(int fd, std::span<const std::byte> bytes, std::uint64_t tag);
  void poll_in(int fd, std::uint64_t tag);  // one shot: completes once fd is readable
  void cancel(std::uint64_t tag);           // its completion is not reported

  // Submits what is queued and waits for at least one completion, or until `deadline` (none:
  // forever; past: only looks). EINTR is not an error.
  result<void> submit_and_wait(std::optional<time_point> deadline);

  struct completion {
    std::uint64_t tag;
    int res;     // bytes, or -errno
    bool more;   // a multishot operation stays armed
    std::span<const std::byte> data;  // a receive's bytes
  };
  // Hands every completion available to `f` (tags of cancel requests are skipped); a receive's
  // buffer goes back to the kernel after `f` returns.
  template <class F>
  void reap(F&& f) {
    completion c{};
    while (next(c)) {
      f(c);
      give_back();
    }
  }

  std::size_t in_flight() const noexcept { return in_flight_; }

 private:
  struct ring;
  explicit socket_uring(std::unique_ptr<ring> r) noexcept;
  void* get_sqe();
  bool next(completion& c);
  void give_back();

  std::unique_ptr<ring> ring_;
  std::size_t in_flight_ = 0;  // operations queued or submitted whose last completion is not reaped
  int lent_ = -1;              // the buffer of the completion being handled
  bool enabled_ = false;
};

}  // namespace xenwire::xenstore
