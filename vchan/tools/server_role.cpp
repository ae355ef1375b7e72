// --mode=server: publish a vchan server for the peer domain; when a client connects, connect the
// local end (the Unix socket, the given fd or stdin/stdout) and pump.
//
// As vchan-socket-proxy: a local end that ends (EOF) while the vchan client is still there is
// connected again when it is an absolute socket path, else the proxy exits; the vchan closing ends
// the proxy for an fd or stdin/stdout. With an absolute socket path vchan-socket-proxy means to
// serve subsequent vchan clients, but libxenvchan's server cannot take a second client (it waits
// forever); here the server is persistent: it re-publishes fresh keys for the next client.
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

// Waits until a client is connected. A client that leaves (or dies) before the server saw it
// connected fails a one-shot server; a persistent one re-arms by itself.
result<void> wait_for_client(vchan::endpoint& ep, peer_domain& peer) {
  for (;;) {
    auto st = ep.handle_events();
    if (!st) return tl::unexpected(st.error());
    switch (*st) {
      case vchan::status::connected: return {};
      case vchan::status::failed: return fail(ep.error());
      case vchan::status::closed: return fail(errc::peer_closed);
      case vchan::status::waiting: break;
    }
    std::array<pollfd, 2> fds{{{.fd = ep.fd(), .events = POLLIN, .revents = 0},
                               {.fd = peer.fd(), .events = POLLIN, .revents = 0}}};
    // The 1 s bound re-checks the shared page even if a signal got lost; it costs nothing.
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) {
      return fail(std::error_code(errno, std::generic_category()));
    }
    if (auto ok = peer.check_due(); !ok) return ok;
  }
}

result<local_end> open_local(const options& o) {
  if (std::holds_alternative<use_stdio>(o.local)) return local_end::stdio();
  if (const auto* f = std::get_if<use_fd>(&o.local)) {
    if (!fd_is_open(f->fd)) return fail(std::error_code(EBADF, std::generic_category()));
    return local_end::borrowed(f->fd);
  }
  auto s = connect_unix(std::get<use_path>(o.local).path);
  if (!s) return tl::unexpected(s.error());
  return local_end::socket(std::move(*s));
}

}  // namespace

int run_server(context& ctx) {
  const options& o = ctx.opts;
  const auto* path = std::get_if<use_path>(&o.local);
  const bool subsequent = path != nullptr && !path->path.empty() && path->path[0] == '/';

  auto peer = peer_domain::watch(ctx.t, ctx.xs, o.domid);
  if (!peer) {
    spdlog::error("domain {}: {}", o.domid,
                  peer.error() == errc::no_such_domain ? "no such domain"
                                                       : peer.error().message());
    return 1;
  }
  // libxenvchan_server_init(…, 0, 0) as vchan-socket-proxy: the smallest rings, inside the control page.
  auto ep = vchan::endpoint::serve(ctx.t, ctx.rdv,
                                   {.client = o.domid,
                                    .path = o.vchan_path,
                                    .read_min = 0,
                                    .write_min = 0,
                                    .persistent = subsequent,
                                    .io = {.mode = vchan::io_mode::non_blocking}});
  if (!ep) {
    spdlog::error("cannot serve a vchan for domain {} at {}: {}", o.domid, o.vchan_path, ep.error().message());
    return 1;
  }
  spdlog::info("vchan server for domain {} at {} (ring-ref {}, event-channel {}){}", o.domid, o.vchan_path,
               ep->published().ring_ref, ep->published().port, subsequent ? ", serving clients one after another" : "");
  if (!write_state(ctx)) return 1;

  for (;;) {
    if (auto ok = wait_for_client(*ep, *peer); !ok) {
      if (ok.error() == errc::no_such_domain) {
        spdlog::error("domain {} is gone", o.domid);
      } else if (ok.error() == errc::peer_closed) {
        spdlog::error("the vchan client left before it was connected");
      } else {
        spdlog::error("waiting for the vchan client: {}", ok.error().message());
      }
      return 1;
    }
    spdlog::info("vchan client connected");
    auto local = open_local(o);
    if (!local) {
      spdlog::error("cannot connect to {}: {}", o.local_text, local.error().message());
      return 1;
    }
    auto end = run_session(*ep, *local);
    if (!end) return 1;
    if (!subsequent) return *end == session_end::local_error ? 1 : 0;
  }
}

}  // namespace xenwire::vchan_proxy
