#include "daemon/socket_uring.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

namespace xenwire::xenstore {
namespace {

// Completions of cancel requests carry this tag; reap() skips them.
constexpr std::uint64_t cancel_tag = std::numeric_limits<std::uint64_t>::max();

std::error_code errno_code(int e) { return {e, std::generic_category()}; }

}  // namespace

struct socket_uring::ring {
  io_uring r{};
  bool ready = false;  // set up: io_uring_queue_exit would otherwise close a stray fd 0
  ~ring() {
    if (ready) io_uring_queue_exit(&r);
  }
};

socket_uring::socket_uring(std::unique_ptr<ring> r) noexcept : ring_(std::move(r)) {}
socket_uring::~socket_uring() = default;

result<std::unique_ptr<socket_uring>> socket_uring::create(unsigned entries) {
  auto r = std::make_unique<ring>();
  // Deferred task work needs a single issuer; older kernels know neither: then plain.
  const unsigned preferred = IORING_SETUP_R_DISABLED | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int rc = io_uring_queue_init(entries, &r->r, preferred);
  if (rc == -EINVAL) rc = io_uring_queue_init(entries, &r->r, IORING_SETUP_R_DISABLED);
  if (rc < 0) {
    if (rc == -ENOSYS || rc == -EPERM || rc == -EINVAL || rc == -EACCES) return fail(errc::not_supported);
    return fail(errno_code(-rc));
  }
  r->ready = true;
  return std::unique_ptr<socket_uring>(new socket_uring(std::move(r)));
}

result<void> socket_uring::enable() {
  if (enabled_) return {};
  // Debian's liburing 2.3 declares io_uring_enable_rings() but does not export it.
  if (::syscall(__NR_io_uring_register, ring_->r.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0)
    return fail(errno_code(errno));
  enabled_ = true;
  return {};
}

void* socket_uring::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_->r);
  if (sqe == nullptr && enabled_) {
    // The submission queue is full: hand it to the kernel now, then there is room.
    (void)io_uring_submit(&ring_->r);
    sqe = io_uring_get_sqe(&ring_->r);
  }
  return sqe;
}

void socket_uring::recv(int fd, std::span<std::byte> into, std::uint64_t tag) {
  auto* sqe = static_cast<io_uring_sqe*>(get_sqe());
  io_uring_prep_recv(sqe, fd, into.data(), into.size(), 0);
  io_uring_sqe_set_data64(sqe, tag);
  ++in_flight_;
}

void socket_uring::send(int fd, std::span<const std::byte> bytes, std::uint64_t tag) {
  auto* sqe = static_cast<io_uring_sqe*>(get_sqe());
  io_uring_prep_send(sqe, fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, tag);
  ++in_flight_;
}

void socket_uring::poll_in(int fd, std::uint64_t tag) {
  auto* sqe = static_cast<io_uring_sqe*>(get_sqe());
  io_uring_prep_poll_add(sqe, fd, POLLIN);
  io_uring_sqe_set_data64(sqe, tag);
  ++in_flight_;
}

void socket_uring::cancel(std::uint64_t tag) {
  auto* sqe = static_cast<io_uring_sqe*>(get_sqe());
  io_uring_prep_cancel64(sqe, tag, 0);
  io_uring_sqe_set_data64(sqe, cancel_tag);
}

result<void> socket_uring::submit_and_wait(std::optional<time_point> deadline) {
  int rc = 0;
  if (!deadline) {
    rc = io_uring_submit_and_wait(&ring_->r, 1);
  } else {
    const auto left = std::max(*deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    __kernel_timespec ts{};
    ts.tv_sec = ns / 1'000'000'000;
    ts.tv_nsec = ns % 1'000'000'000;
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_submit_and_wait_timeout(&ring_->r, &cqe, 1, &ts, nullptr);
  }
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return fail(errno_code(-rc));
  return {};
}

bool socket_uring::next(completion& c) {
  for (;;) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(&ring_->r, &cqe) != 0 || cqe == nullptr) return false;
    c = {io_uring_cqe_get_data64(cqe), cqe->res};
    io_uring_cqe_seen(&ring_->r, cqe);
    if (c.tag == cancel_tag) continue;
    --in_flight_;
    return true;
  }
}

}  // namespace xenwire::xenstore
