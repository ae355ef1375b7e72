#include "xenwire/base/event_loop.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace xenwire {
namespace {

tl::unexpected<std::error_code> errno_error() noexcept {
  return tl::unexpected<std::error_code>(std::error_code(errno, std::generic_category()));
}

// epoll_event.data carries the fd and the slot's generation, so events for an fd removed (and
// perhaps reused) earlier in the same batch are recognised and skipped.
std::uint64_t pack(int fd, std::uint32_t generation) noexcept {
  return (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(fd);
}

constexpr std::size_t batch_size = 64;

}  // namespace

result<std::unique_ptr<event_loop>> event_loop::create() {
  unique_fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return errno_error();
  unique_fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return errno_error();
  std::unique_ptr<event_loop> loop(new event_loop(std::move(ep), std::move(wake)));
  const int wake_fd = loop->wake_.get();
  auto* raw = loop.get();
  if (auto r = loop->add_slot(wake_fd, EPOLLIN, [raw](std::uint32_t) { raw->on_wake(); }, true); !r)
    return fail(r.error());
  return loop;
}

event_loop::event_loop(unique_fd epoll, unique_fd wake) noexcept : epoll_(std::move(epoll)), wake_(std::move(wake)) {}
event_loop::~event_loop() = default;

result<void> event_loop::add(int fd, std::uint32_t events, fd_handler handler) {
  return add_slot(fd, events, std::move(handler), false);
}

result<void> event_loop::add_slot(int fd, std::uint32_t events, fd_handler handler, bool internal) {
  if (fd < 0 || !handler) return fail(errc::invalid_argument);
  const auto index = static_cast<std::size_t>(fd);
  if (index >= slots_.size()) slots_.resize(index + 1);
  slot& s = slots_[index];
  if (s.active) return fail(errc::invalid_argument);
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, ++generation_);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return errno_error();
  s.handler = std::make_unique<fd_handler>(std::move(handler));
  s.generation = generation_;
  s.active = true;
  s.internal = internal;
  if (!internal) ++registered_;
  return {};
}

result<void> event_loop::modify(int fd, std::uint32_t events) {
  if (!contains(fd)) return fail(errc::invalid_argument);
  const auto index = static_cast<std::size_t>(fd);
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, slots_[index].generation);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) return errno_error();
  return {};
}

bool event_loop::contains(int fd) const noexcept {
  return fd >= 0 && static_cast<std::size_t>(fd) < slots_.size() && slots_[static_cast<std::size_t>(fd)].active;
}

void event_loop::remove(int fd) noexcept {
  if (!contains(fd)) return;
  slot& s = slots_[static_cast<std::size_t>(fd)];
  // Failure only means the fd was already closed, which removed it from the set anyway.
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  s.active = false;
  if (!s.internal) --registered_;
  if (dispatching_ > 0)
    retired_.push_back(std::move(s.handler));  // it may be the handler running now
  else
    s.handler.reset();
}

result<void> event_loop::stop_on_signals(std::span<const int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) sigaddset(&set, sig);
  if (signal_) remove(signal_.get());
  signal_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_) return errno_error();
  return add_slot(signal_.get(), EPOLLIN, [this](std::uint32_t) { on_signal(); }, true);
}

result<std::size_t> event_loop::run_once(std::optional<time_point> deadline) {
  int timeout_ms = -1;
  if (deadline) {
    const auto left = *deadline - clock::now();
    // Round up: waking a millisecond early would only spin until the deadline.
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    timeout_ms = ms <= 0 ? 0 : static_cast<int>(std::min<long long>(ms, 60'000));
  }
  return wait_and_dispatch(timeout_ms);
}

result<std::size_t> event_loop::run_once(std::chrono::milliseconds timeout) {
  const auto ms = timeout.count();
  return wait_and_dispatch(ms < 0 ? -1 : static_cast<int>(std::min<long long>(ms, 60'000)));
}

result<std::size_t> event_loop::wait_and_dispatch(int timeout_ms) {
  if (stopping()) return std::size_t{0};
  std::array<epoll_event, batch_size> events{};
  const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return std::size_t{0};
    return errno_error();
  }
  struct dispatch_scope {
    explicit dispatch_scope(event_loop& l) noexcept : loop(l) { ++loop.dispatching_; }
    ~dispatch_scope() {
      if (--loop.dispatching_ == 0) loop.retired_.clear();
    }
    dispatch_scope(const dispatch_scope&) = delete;
    dispatch_scope& operator=(const dispatch_scope&) = delete;
    event_loop& loop;
  } scope(*this);
  std::size_t handled = 0;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t data = events[static_cast<std::size_t>(i)].data.u64;
    const auto index = static_cast<std::size_t>(data & 0xffffffffu);
    const auto generation = static_cast<std::uint32_t>(data >> 32);
    if (index >= slots_.size()) continue;
    slot& s = slots_[index];
    if (!s.active || s.generation != generation) continue;
    if (!s.internal) ++handled;
    // Through a copy of the pointer: the handler may reallocate slots_ or retire itself.
    fd_handler* handler = s.handler.get();
    (*handler)(events[static_cast<std::size_t>(i)].events);
  }
  return handled;
}

void event_loop::stop() noexcept {
  stopping_.store(true, std::memory_order_release);  // pairs with the acquire in stopping()
  const std::uint64_t one = 1;
  // An eventfd write only fails when the counter would overflow, and then a wake is pending anyway.
  (void)!::write(wake_.get(), &one, sizeof one);
}

bool event_loop::stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

void event_loop::on_wake() noexcept {
  std::uint64_t count = 0;
  (void)!::read(wake_.get(), &count, sizeof count);
}

void event_loop::on_signal() noexcept {
  signalfd_siginfo info{};
  while (::read(signal_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    stop_signal_ = static_cast<int>(info.ssi_signo);
    stop();
  }
}

result<void> block_signals(std::span<const int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) sigaddset(&set, sig);
  if (const int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0)
    return fail(std::error_code(rc, std::generic_category()));
  return {};
}

}  // namespace xenwire
