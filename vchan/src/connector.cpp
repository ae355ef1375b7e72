// Connecting without blocking a thread (connector, connect_wait): wait through the rendezvous for
// the server's keys, then endpoint::connect(); keys that turn out stale are skipped until new ones
// are published.
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "xenwire/vchan/endpoint.hpp"

namespace xenwire::vchan {

namespace {

using clock_type = std::chrono::steady_clock;

// Errors connect() reports for keys of a server that died or re-armed: wait for the next publish.
bool stale_error(const std::error_code& ec) noexcept {
  return ec == errc::bad_grant_ref || ec == errc::bad_port || ec == errc::peer_closed ||
         ec == errc::domain_dying || ec == errc::no_such_domain;
}

}  // namespace

struct connector::state {
  transport* t = nullptr;
  client_config cfg;
  std::unique_ptr<key_wait> wait;
  std::optional<keys> stale;
};

connector::connector(std::unique_ptr<state> s) noexcept : s_(std::move(s)) {}
connector::connector(connector&&) noexcept = default;
connector& connector::operator=(connector&&) noexcept = default;
connector::~connector() = default;

result<connector> connector::start(transport& t, rendezvous& r, client_config cfg) {
  auto w = r.wait_for_keys(cfg.path);
  if (!w) return fail(w.error());
  auto s = std::make_unique<state>();
  s->t = &t;
  s->cfg = std::move(cfg);
  s->wait = std::move(*w);
  return connector(std::move(s));
}

int connector::fd() const noexcept { return s_ ? s_->wait->fd() : -1; }

result<std::optional<endpoint>> connector::poll() {
  if (!s_) return fail(errc::invalid_argument);
  auto k = s_->wait->poll();
  if (!k) return fail(k.error());
  if (!*k || (s_->stale && **k == *s_->stale)) return std::optional<endpoint>{};
  auto ep = endpoint::connect(*s_->t, **k, s_->cfg);
  if (ep) return std::optional<endpoint>{std::move(*ep)};
  if (!stale_error(ep.error())) return fail(ep.error());
  s_->stale = **k;  // a dead or re-armed server's keys: wait for the next publish
  return std::optional<endpoint>{};
}

result<endpoint> connect_wait(transport& t, rendezvous& r, client_config cfg, std::chrono::milliseconds timeout) {
  auto c = connector::start(t, r, std::move(cfg));
  if (!c) return fail(c.error());
  const auto until = clock_type::now() + timeout;
  for (;;) {
    auto ep = c->poll();
    if (!ep) return fail(ep.error());
    if (*ep) return std::move(**ep);
    auto wait_ms = std::chrono::milliseconds(c->fd() >= 0 ? 100 : 5);  // no fd: poll on a timer
    if (timeout.count() >= 0) {
      const auto now = clock_type::now();
      if (now >= until) return fail(errc::timed_out);
      wait_ms = std::min(wait_ms, std::chrono::ceil<std::chrono::milliseconds>(until - now));
    }
    if (c->fd() >= 0) {
      pollfd pfd{c->fd(), POLLIN, 0};
      (void)::poll(&pfd, 1, static_cast<int>(wait_ms.count()));
    } else {
      std::this_thread::sleep_for(wait_ms);
    }
  }
}

}  // namespace xenwire::vchan
