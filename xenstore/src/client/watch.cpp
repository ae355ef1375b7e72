#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include "client_core.hpp"

namespace xenwire::xenstore {
namespace detail {

watch_state::watch_state(std::string p, std::string t, std::optional<std::uint32_t> d, std::size_t lim)
    : path(std::move(p)),
      token(std::move(t)),
      depth(d),
      limit(lim == 0 ? 1 : lim),
      ready_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

watch_state::~watch_state() {
  if (ready_fd >= 0) ::close(ready_fd);
}

void watch_state::sync_fd_locked() noexcept {
  if (ready_fd < 0) return;
  const bool ready = !queue.empty() || unreported_drops > 0 || ended.has_value();
  if (ready == fd_raised) return;
  std::uint64_t v = 1;
  // Non-blocking either way: raising adds 1 to a counter we keep at 0 or 1; lowering reads it back
  // to 0 (it is 1, so the read cannot fail with EAGAIN).
  const ssize_t n = ready ? ::write(ready_fd, &v, sizeof v) : ::read(ready_fd, &v, sizeof v);
  if (n == static_cast<ssize_t>(sizeof v)) fd_raised = ready;
}

// Bounded queue with in-order overflow markers: when full, events are counted instead of queued;
// the count becomes a marker entry as soon as there is room (or is reported once the queue drains).
void watch_state::push(std::string_view event_path) {
  std::lock_guard lk(mu);
  push_locked(event_path);
  sync_fd_locked();
}

void watch_state::push_locked(std::string_view event_path) {
  if (ended) return;
  if (queue.size() >= limit) {
    if (!queue.empty() && queue.back().overflow()) {
      ++queue.back().dropped;
    } else {
      ++unreported_drops;
    }
    return;
  }
  if (unreported_drops > 0) {
    queue.push_back(watch_event{{}, unreported_drops});
    unreported_drops = 0;
    if (queue.size() >= limit) {  // the marker took the last slot: count this event in it
      ++queue.back().dropped;
      cv.notify_all();
      return;
    }
  }
  queue.push_back(watch_event{std::string(event_path), 0});
  cv.notify_all();
}

void watch_state::end(client_error why) {
  std::lock_guard lk(mu);
  if (!ended) ended = why;
  sync_fd_locked();
  cv.notify_all();
}

std::optional<watch_event> watch_state::pop_locked() {
  std::optional<watch_event> e;
  if (!queue.empty()) {
    e = std::move(queue.front());
    queue.pop_front();
  } else if (unreported_drops > 0) {
    e = watch_event{{}, unreported_drops};
    unreported_drops = 0;
  }
  if (e) sync_fd_locked();
  return e;
}

client_result<watch_event> watch_state::next(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto e = pop_locked()) return std::move(*e);
    if (ended) return client_fail(*ended);
    if (cv.wait_until(lk, deadline) == std::cv_status::timeout) {
      if (auto e = pop_locked()) return std::move(*e);
      if (ended) return client_fail(*ended);
      return client_fail(errc::timed_out);
    }
  }
}

std::optional<watch_event> watch_state::try_next() {
  std::lock_guard lk(mu);
  return pop_locked();
}

}  // namespace detail

watch::watch(std::shared_ptr<detail::watch_state> s, std::weak_ptr<detail::client_core> c) noexcept
    : state_(std::move(s)), core_(std::move(c)) {}

watch& watch::operator=(watch&& other) noexcept {
  if (this != &other) {
    this->~watch();
    state_ = std::move(other.state_);
    core_ = std::move(other.core_);
  }
  return *this;
}

watch::~watch() {
  if (!state_) return;
  auto core = core_.lock();
  if (core && !state_->ended) {
    core->forget_watch(state_->token);
    std::string frame;
    message_writer w(frame, msg_type::unwatch, 0, 0);
    w.arg(state_->path).arg(state_->token);
    if (w.finish()) core->submit(std::move(frame), [](client_result<message>) {});
  }
  state_->end(make_error_code(errc::invalid_argument));
  state_.reset();
}

static const std::string empty_string;

const std::string& watch::path() const noexcept { return state_ ? state_->path : empty_string; }
const std::string& watch::token() const noexcept { return state_ ? state_->token : empty_string; }

client_result<watch_event> watch::next(std::chrono::milliseconds timeout) {
  if (!state_) return client_fail(errc::invalid_argument);
  return state_->next(timeout);
}

std::optional<watch_event> watch::try_next() {
  if (!state_) return std::nullopt;
  return state_->try_next();
}

int watch::fd() const noexcept { return state_ ? state_->ready_fd : -1; }

std::size_t watch::queued() const noexcept {
  if (!state_) return 0;
  std::lock_guard lk(state_->mu);
  return state_->queue.size();
}

client_result<void> watch::unwatch() {
  if (!state_) return {};
  auto state = std::move(state_);
  auto core = core_.lock();
  state->end(make_error_code(errc::invalid_argument));
  if (!core) return {};
  core->forget_watch(state->token);
  std::string frame;
  message_writer w(frame, msg_type::unwatch, 0, 0);
  w.arg(state->path).arg(state->token);
  if (auto f = w.finish(); !f) return client_fail(f.error());
  auto r = core->call_blocking(std::move(frame));
  if (r) return {};
  // Already gone on the server, or the connection is: nothing left to undo.
  if (r.error().is(xs_error::enoent) || r.error().is(errc::peer_closed) ||
      r.error().transport() == std::make_error_code(std::errc::operation_canceled))
    return {};
  return client_fail(r.error());
}

}  // namespace xenwire::xenstore
