#include "xenwire/vchan/event_loop.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace xenwire::vchan {

namespace {
std::error_code last_errno() { return {errno, std::system_category()}; }
}  // namespace

result<poll_set> poll_set::create() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return fail(last_errno());
  return poll_set(fd);
}

poll_set::poll_set(poll_set&& o) noexcept
    : epfd_(o.epfd_), entries_(std::move(o.entries_)), fds_(std::move(o.fds_)), retired_(std::move(o.retired_)) {
  o.epfd_ = -1;
}
poll_set& poll_set::operator=(poll_set&& o) noexcept {
  if (this != &o) {
    if (epfd_ >= 0) ::close(epfd_);
    epfd_ = o.epfd_;
    entries_ = std::move(o.entries_);
    fds_ = std::move(o.fds_);
    retired_ = std::move(o.retired_);
    o.epfd_ = -1;
  }
  return *this;
}
poll_set::~poll_set() {
  if (epfd_ >= 0) ::close(epfd_);
}

result<void> poll_set::add(endpoint& ep, handler h) {
  if (ep.fd() < 0 || entries_.contains(&ep)) return fail(errc::invalid_argument);
  auto e = std::make_unique<entry>(entry{&ep, std::move(h), {}});
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = e.get();
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, ep.fd(), &ev) != 0) return fail(last_errno());
  entries_.emplace(&ep, std::move(e));
  return {};
}

result<void> poll_set::remove(endpoint& ep) {
  auto it = entries_.find(&ep);
  if (it == entries_.end()) return fail(errc::invalid_argument);
  // The fd may be closed already (endpoint closed): epoll dropped it then, nothing to undo.
  if (ep.fd() >= 0) (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, ep.fd(), nullptr);
  retire(std::move(it->second));
  entries_.erase(it);
  return {};
}

result<void> poll_set::add_fd(int fd, std::function<void()> h) {
  if (fd < 0 || !h || fds_.contains(fd)) return fail(errc::invalid_argument);
  auto e = std::make_unique<entry>(entry{nullptr, {}, std::move(h)});
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = e.get();
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return fail(last_errno());
  fds_.emplace(fd, std::move(e));
  return {};
}

result<void> poll_set::remove_fd(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return fail(errc::invalid_argument);
  (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  retire(std::move(it->second));
  fds_.erase(it);
  return {};
}

void poll_set::retire(std::unique_ptr<entry> e) {
  if (dispatching_ == 0) return;  // no batch refers to it: freed here
  e->removed = true;
  retired_.push_back(std::move(e));
}

result<std::size_t> poll_set::run_once(std::chrono::milliseconds timeout) {
  std::array<epoll_event, 64> evs{};
  const int n = ::epoll_wait(epfd_, evs.data(), static_cast<int>(evs.size()), static_cast<int>(timeout.count()));
  if (n < 0) {
    if (errno == EINTR) return std::size_t{0};
    return fail(last_errno());
  }
  struct dispatch_scope {
    explicit dispatch_scope(poll_set& p) noexcept : p_(p) { ++p_.dispatching_; }
    ~dispatch_scope() {
      if (--p_.dispatching_ == 0) p_.retired_.clear();
    }
    dispatch_scope(const dispatch_scope&) = delete;
    dispatch_scope& operator=(const dispatch_scope&) = delete;
    poll_set& p_;
  } scope(*this);
  std::size_t handled = 0;
  for (int i = 0; i < n; ++i) {
    auto* e = static_cast<entry*>(evs[static_cast<std::size_t>(i)].data.ptr);
    if (e->removed) continue;  // an earlier handler of this batch removed it
    if (e->ep == nullptr) {
      e->on_fd();
      ++handled;
      continue;
    }
    auto st = e->ep->handle_events();
    e->h(*e->ep, st ? *st : status::failed);
    ++handled;
  }
  return handled;
}

}  // namespace xenwire::vchan
