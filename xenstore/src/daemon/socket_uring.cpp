#include "daemon/socket_uring.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
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
// Provided receive buffers, shared by every connection: each is handed back as soon as its bytes are
// fed to the core, so they only need to cover one batch of completions (ENOBUFS just re-arms).
constexpr unsigned buffer_count = 256;  // a power of two (the kernel's ring of buffer ids)
constexpr std::size_t buffer_size = 4096;
constexpr int buffer_group = 0;

std::error_code errno_code(int e) { return {e, std::generic_category()}; }

}  // namespace

struct socket_uring::ring {
  io_uring r{};
  bool ready = false;  // set up: io_uring_queue_exit would otherwise close a stray fd 0
  io_uring_buf_ring* buffers_ring = nullptr;  // shared with the kernel: ids of buffers it may fill
  std::size_t buffers_ring_size = 0;
  std::unique_ptr<std::byte[]> buffers;

  ~ring() {
    if (ready) io_uring_queue_exit(&r);  // before the memory the kernel may write goes
    if (buffers_ring != nullptr) ::munmap(buffers_ring, buffers_ring_size);
  }
  std::byte* buffer(unsigned id) const { return buffers.get() + std::size_t{id} * buffer_size; }
  // Fills the slot `offset` past the ring's tail; io_uring_buf_ring_advance() publishes it.
  void provide(unsigned id, int offset) {
    io_uring_buf_ring_add(buffers_ring, buffer(id), buffer_size, static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(buffer_count), offset);
  }
  // The kernel owns the ring's memory once registered; a page-aligned mapping is what it accepts.
  int register_buffers() {
    buffers_ring_size = buffer_count * sizeof(io_uring_buf);
    void* mem = ::mmap(nullptr, buffers_ring_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) return -errno;
    buffers_ring = static_cast<io_uring_buf_ring*>(mem);
    // The kernel pins these pages: a forked child (live update's check) must not share them.
    (void)::madvise(mem, buffers_ring_size, MADV_DONTFORK);
    io_uring_buf_ring_init(buffers_ring);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
    reg.ring_entries = buffer_count;
    reg.bgid = buffer_group;
    if (const int rc = io_uring_register_buf_ring(&r, &reg, 0); rc < 0) return rc;
    buffers = std::make_unique<std::byte[]>(buffer_count * buffer_size);
    for (unsigned id = 0; id < buffer_count; ++id) provide(id, static_cast<int>(id));
    io_uring_buf_ring_advance(buffers_ring, static_cast<int>(buffer_count));  // the kernel sees them all
    return 0;
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
  if (rc = r->register_buffers(); rc < 0) {
    if (rc == -EINVAL || rc == -ENOSYS || rc == -EPERM) return fail(errc::not_supported);
    return fail(errno_code(-rc));
  }
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

void socket_uring::recv_multishot(int fd, std::uint64_t tag) {
  auto* sqe = static_cast<io_uring_sqe*>(get_sqe());
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
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
  // One completion, though a send completing during the submission is one: a batch then costs a
  // second io_uring_enter. Waiting for one beyond the sends would need a timer (a send may instead
  // wait for room and need us to act first), and arming one per wait costs more than the enter.
  const unsigned wait_nr = 1;
  int rc = 0;
  if (!deadline) {
    rc = io_uring_submit_and_wait(&ring_->r, wait_nr);
  } else {
    const auto left = std::max(*deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    __kernel_timespec ts{};
    ts.tv_sec = ns / 1'000'000'000;
    ts.tv_nsec = ns % 1'000'000'000;
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_submit_and_wait_timeout(&ring_->r, &cqe, wait_nr, &ts, nullptr);
  }
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return fail(errno_code(-rc));
  return {};
}

bool socket_uring::next(completion& c) {
  for (;;) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(&ring_->r, &cqe) != 0 || cqe == nullptr) return false;
    c = {io_uring_cqe_get_data64(cqe), cqe->res, (cqe->flags & IORING_CQE_F_MORE) != 0, {}};
    if ((cqe->flags & IORING_CQE_F_BUFFER) != 0) {
      lent_ = static_cast<int>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      if (c.res > 0)
        c.data = {ring_->buffer(static_cast<unsigned>(lent_)), std::min(static_cast<std::size_t>(c.res), buffer_size)};
    }
    io_uring_cqe_seen(&ring_->r, cqe);  // the buffer stays ours until give_back()
    if (c.tag == cancel_tag) continue;
    if (!c.more) --in_flight_;
    return true;
  }
}

void socket_uring::give_back() {
  if (lent_ < 0) return;
  ring_->provide(static_cast<unsigned>(lent_), 0);
  io_uring_buf_ring_advance(ring_->buffers_ring, 1);
  lent_ = -1;
}

}  // namespace xenwire::xenstore
