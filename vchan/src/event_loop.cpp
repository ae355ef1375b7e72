#include "xenwire/vchan/event_loop.hpp"

#include <sys/epoll.h>

namespace xenwire::vchan {

struct poll_set::state {
  std::unique_ptr<event_loop> loop;
  std::map<endpoint*, int> endpoints;  // the fd each was registered with
};

result<poll_set> poll_set::create() {
  auto loop = event_loop::create();
  if (!loop) return fail(loop.error());
  auto s = std::make_unique<state>();
  s->loop = std::move(*loop);
  return poll_set(std::move(s));
}

poll_set::poll_set(std::unique_ptr<state> s) noexcept : state_(std::move(s)) {}
poll_set::poll_set(poll_set&&) noexcept = default;
poll_set& poll_set::operator=(poll_set&&) noexcept = default;
poll_set::~poll_set() = default;

result<void> poll_set::add(endpoint& ep, handler h) {
  const int fd = ep.fd();
  if (fd < 0 || !h || state_->endpoints.contains(&ep)) return fail(errc::invalid_argument);
  auto r = state_->loop->add(fd, EPOLLIN, [ep = &ep, h = std::move(h)](std::uint32_t) {
    auto st = ep->handle_events();
    h(*ep, st ? *st : status::failed);
  });
  if (!r) return r;
  state_->endpoints.emplace(&ep, fd);
  return {};
}

result<void> poll_set::remove(endpoint& ep) {
  auto it = state_->endpoints.find(&ep);
  if (it == state_->endpoints.end()) return fail(errc::invalid_argument);
  // The fd may be closed already (endpoint closed): epoll dropped it then; the loop forgets it anyway.
  state_->loop->remove(it->second);
  state_->endpoints.erase(it);
  return {};
}

result<void> poll_set::add_fd(int fd, std::function<void()> h) {
  if (!h) return fail(errc::invalid_argument);
  return state_->loop->add(fd, EPOLLIN, [h = std::move(h)](std::uint32_t) { h(); });
}

result<void> poll_set::remove_fd(int fd) {
  if (!state_->loop->contains(fd)) return fail(errc::invalid_argument);
  for (const auto& [ep, ep_fd] : state_->endpoints)
    if (ep_fd == fd) return fail(errc::invalid_argument);  // an endpoint's: remove(ep) instead
  state_->loop->remove(fd);
  return {};
}

std::size_t poll_set::size() const noexcept { return state_->loop->size(); }
int poll_set::fd() const noexcept { return state_->loop->fd(); }
event_loop& poll_set::loop() noexcept { return *state_->loop; }

result<std::size_t> poll_set::run_once(std::chrono::milliseconds timeout) { return state_->loop->run_once(timeout); }

}  // namespace xenwire::vchan
