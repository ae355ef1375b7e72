// --mode=client (the default): for stdin/stdout, connect to the vchan at once and pump until the
// vchan closes or stdin ends; for a socket path (or a listening socket's fd number), accept local
// connections one after another and connect a fresh vchan for each, as vchan-socket-proxy does.
#include <poll.h>

#include <array>
#include <cerrno>
#include <variant>

#include <spdlog/spdlog.h>

#include "local_socket.hpp"
#include "peer_domain.hpp"
#include "proxy.hpp"
#include "session.hpp"

namespace xenwire::vchan_proxy {

namespace {

constexpr int key_poll_ms = 5;  // when the rendezvous has no fd: connect_wait's pace

// Waits for the server's keys (skipping stale ones) and connects; fails when the server's domain is
// not (or no longer) there.
result<vchan::endpoint> connect_vchan(context& ctx, peer_domain& peer) {
  auto c = vchan::connector::start(ctx.t, ctx.rdv,
                                   {.server = ctx.opts.domid,
                                    .path = ctx.opts.vchan_path,
                                    .io = {.mode = vchan::io_mode::non_blocking}});
  if (!c) return tl::unexpected(c.error());
  for (;;) {
    auto got = c->poll();
    if (!got) return tl::unexpected(got.error());
    if (*got) return std::move(**got);
    std::array<pollfd, 2> fds{{{.fd = c->fd(), .events = POLLIN, .revents = 0},
                               {.fd = peer.fd(), .events = POLLIN, .revents = 0}}};
    if (::poll(fds.data(), fds.size(), c->fd() < 0 ? key_poll_ms : 1000) < 0 && errno != EINTR) {
      return fail(std::error_code(errno, std::generic_category()));
    }
    if (auto ok = peer.check_due(); !ok) return tl::unexpected(ok.error());
  }
}

void log_connect_error(const options& o, std::error_code ec) {
  if (ec == errc::no_such_domain) {
    spdlog::error("vchan client init: domain {} does not exist or is gone", o.domid);
  } else {
    spdlog::error("vchan client init (domain {}, {}): {}", o.domid, o.vchan_path, ec.message());
  }
}

}  // namespace

int run_client(context& ctx) {
  const options& o = ctx.opts;
  const bool stdio = std::holds_alternative<use_stdio>(o.local);
  unique_fd listener;
  int listen_fd = -1;
  if (const auto* f = std::get_if<use_fd>(&o.local)) {
    if (!fd_is_open(f->fd)) {
      spdlog::error("listen socket failed: fd {} is not open", f->fd);
      return 1;
    }
    listen_fd = f->fd;
  } else if (const auto* p = std::get_if<use_path>(&o.local)) {
    auto l = listen_unix(p->path);
    if (!l) {
      spdlog::error("listen socket failed: {}: {}", p->path, l.error().message());
      return 1;
    }
    listener = std::move(*l);
    listen_fd = listener.get();
    spdlog::info("listening on {}", p->path);
  }

  auto peer = peer_domain::watch(ctx.t, ctx.xs, o.domid);
  if (!peer) {
    log_connect_error(o, peer.error());
    return 1;
  }
  if (!write_state(ctx)) return 1;

  for (;;) {
    local_end local = local_end::stdio();
    if (!stdio) {
      auto conn = accept_one(listen_fd);
      if (!conn) {
        spdlog::error("accept: {}", conn.error().message());
        return 1;
      }
      local = local_end::socket(std::move(*conn));
      spdlog::info("local connection accepted");
    }
    auto ep = connect_vchan(ctx, *peer);
    if (!ep) {
      log_connect_error(o, ep.error());
      return 1;
    }
    spdlog::info("vchan connected to domain {} at {}", o.domid, o.vchan_path);
    auto end = run_session(*ep, local);
    if (!end) return 1;
    if (stdio) return *end == session_end::local_error ? 1 : 0;
    // The local connection and the vchan close here; the next local connection gets a new vchan.
  }
}

}  // namespace xenwire::vchan_proxy
