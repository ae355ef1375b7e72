#include "xenwire/xenstore/daemon/xenstored.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "daemon/ring_host.hpp"
#include "daemon/socket_connection.hpp"
#include "xenwire/base/event_loop.hpp"
#include "xenwire/xenstore/daemon/socket_listener.hpp"

namespace xenwire::xenstore {
namespace {

constexpr std::size_t scratch_size = 64 * 1024;
constexpr std::array<int, 2> stop_signals = {SIGTERM, SIGINT};
// Passes of drop/offer/flush per batch: each can enable another (output sent frees quota).
constexpr int settle_passes = 4;

std::string describe(const std::error_code& ec) { return ec.message(); }

std::string explain_listen_error(const std::string& path, const std::error_code& ec) {
  if (ec == std::errc::address_in_use) return path + ": another xenstored is already answering on this socket";
  if (ec == std::errc::not_a_socket) return path + ": exists and is not a socket (refusing to replace it)";
  if (ec == errc::invalid_argument) return path + ": not a usable Unix socket path";
  return path + ": " + ec.message();
}

}  // namespace

struct xenstored::impl final {
  struct listener_entry {
    socket_listener listener;
    connection_options options;
  };

  daemon_settings settings;
  log_sink log_out;
  std::unique_ptr<event_loop> loop;
  server_core core;
  std::vector<listener_entry> listeners;
  std::unordered_map<conn_id, std::unique_ptr<socket_connection>> sockets;
  std::unique_ptr<ring_host> rings;
  std::vector<std::byte> scratch = std::vector<std::byte>(scratch_size);
  std::vector<conn_id> touched;  // sockets the poller reported since the last settle()
  std::vector<conn_id> visit_scratch, visited_scratch;
  std::vector<core_effect> effects_scratch;

  impl(daemon_settings s, log_sink sink, std::unique_ptr<event_loop> l)
      : settings(std::move(s)), log_out(std::move(sink)), loop(std::move(l)), core(settings.config) {}

  ~impl() {
    const auto now = clock::now();
    for (auto& [id, conn] : sockets) {
      loop->remove(conn->fd());
      core.close(id, now);
    }
    sockets.clear();
    if (rings) rings->close_all(now);
  }

  void say(log_level level, const std::string& message) const {
    if (log_out) log_out(level, message);
  }

  // ---- sockets ----
  result<void> listen(const std::string& path, connection_options options) {
    auto l = socket_listener::open(path);
    if (!l) {
      say(log_level::error, explain_listen_error(path, l.error()));
      return fail(l.error());
    }
    listeners.push_back({std::move(*l), options});
    const std::size_t index = listeners.size() - 1;
    return loop->add(listeners.back().listener.fd(), EPOLLIN, [this, index](std::uint32_t) { accept_all(index); });
  }

  void accept_all(std::size_t index) {
    auto& entry = listeners[index];
    for (;;) {
      auto fd = entry.listener.accept();
      if (!fd) {
        // EMFILE and friends: the client stays queued; log and retry on the next readiness.
        say(log_level::error, "accept on " + entry.listener.path() + ": " + describe(fd.error()));
        return;
      }
      if (!*fd) return;
      const auto now = clock::now();
      const conn_id id = core.open(entry.options, now);
      auto conn = std::make_unique<socket_connection>(std::move(**fd), id, static_cast<bool>(settings.trace));
      const int raw_fd = conn->fd();
      conn->registered_events = EPOLLIN;
      if (auto r = loop->add(raw_fd, EPOLLIN, [this, id](std::uint32_t ev) { on_socket(id, ev); }); !r) {
        say(log_level::error, "cannot watch a new client: " + describe(r.error()));
        core.close(id, now);
        continue;
      }
      sockets.emplace(id, std::move(conn));
      say(log_level::debug, "conn " + std::to_string(id) + ": client on " + entry.listener.path() +
                                (entry.options.kind == conn_kind::guest_socket
                                     ? " as domain " + std::to_string(entry.options.domid)
                                     : (entry.options.read_only ? " (read-only)" : "")));
    }
  }

  void on_socket(conn_id id, std::uint32_t events) {
    auto it = sockets.find(id);
    if (it == sockets.end()) return;
    touched.push_back(id);
    socket_connection& conn = *it->second;
    const auto now = clock::now();
    result<void> r;
    if ((events & EPOLLERR) != 0) {
      r = fail(errc::peer_closed);
    } else {
      if ((events & (EPOLLIN | EPOLLHUP)) != 0) r = conn.on_readable(core, scratch, now, settings.trace);
      if (r && (events & EPOLLOUT) != 0) r = conn.flush(core, now, settings.trace);
    }
    if (!r) close_socket(id, r.error(), now);
  }

  void close_socket(conn_id id, const std::error_code& why, time_point now) {
    auto it = sockets.find(id);
    if (it == sockets.end()) return;
    loop->remove(it->second->fd());
    sockets.erase(it);  // closes the fd
    core.close(id, now);
    const bool normal = why == errc::peer_closed;
    say(normal ? log_level::debug : log_level::warn, "conn " + std::to_string(id) + " closed: " + describe(why));
  }

  // ---- after each batch ----
  // Carries out the core's effects in order until none are left (carrying one out may queue more);
  // connections that have work are added to `visit`.
  void run_effects(time_point now, std::vector<conn_id>& visit) {
    std::vector<core_effect>& batch = effects_scratch;
    for (core.take_effects(batch); !batch.empty(); core.take_effects(batch)) {
      for (core_effect& e : batch) {
        if (const auto* r = std::get_if<effect::ready>(&e)) {
          visit.push_back(r->conn);
        } else if (const auto* d = std::get_if<effect::drop>(&e)) {
          drop(d->conn, d->reason, now);
        } else if (const auto* in = std::get_if<effect::introduce_domain>(&e)) {
          if (rings) {
            rings->introduce(*in, now);
          } else {
            say(log_level::warn, "INTRODUCE of domain " + std::to_string(in->domid) + " refused: no ring transport");
            (void)core.complete_introduce(in->token, fail(errc::not_supported), now);
          }
        } else if (const auto* rel = std::get_if<effect::release_domain>(&e)) {
          if (rings) rings->release(rel->domid, rel->conn);
        } else if (auto* l = std::get_if<effect::log>(&e)) {
          if (log_out) log_out(l->level, l->text);
        }
      }
    }
  }

  void drop(conn_id id, drop_reason why, time_point now) {
    if (sockets.contains(id)) {
      const auto code = why == drop_reason::protocol_error ? make_error_code(errc::protocol_error)
                        : why == drop_reason::released     ? make_error_code(errc::peer_closed)
                                                           : std::make_error_code(std::errc::not_enough_memory);
      close_socket(id, code, now);
    } else if (rings && rings->owns(id)) {
      rings->drop(id, why, now);
    }
  }

  // Visits only connections with work: those the poller reported this batch (touched) and those the
  // core says have new output or may take held-back input again (effect::ready). Idle connections
  // cost nothing per request.
  void settle(time_point now) {
    if (auto due = core.next_deadline(); due && *due <= now) core.tick(now);
    std::vector<conn_id>& visit = visit_scratch;
    visit.assign(touched.begin(), touched.end());
    touched.clear();
    std::vector<conn_id>& visited = visited_scratch;
    visited.clear();
    for (int pass = 0; pass < settle_passes; ++pass) {
      bool progressed = false;
      run_effects(now, visit);
      std::sort(visit.begin(), visit.end());
      visit.erase(std::unique(visit.begin(), visit.end()), visit.end());
      for (conn_id id : visit) {
        auto it = sockets.find(id);
        if (it == sockets.end()) continue;  // a ring, or closed meanwhile
        socket_connection& conn = *it->second;
        visited.push_back(id);
        result<void> r = conn.offer_pending(core, now, settings.trace, progressed);
        if (r && core.has_output(id)) {
          const bool held = conn.paused();
          r = conn.flush(core, now, settings.trace);
          // Output sent may free the outstanding-request quota a held-back client waits for.
          progressed = progressed || (held && r);
        }
        if (!r) close_socket(id, r.error(), now);
      }
      visit.clear();
      if (rings) rings->settle(now, progressed);
      // Output queued during this pass (e.g. a watch event caused by a ring's request) is more work.
      run_effects(now, visit);
      if (!progressed && visit.empty()) break;
    }
    // Still busy after the last pass: run() polls without sleeping until this drains.
    touched.insert(touched.end(), visit.begin(), visit.end());
    std::sort(visited.begin(), visited.end());
    visited.erase(std::unique(visited.begin(), visited.end()), visited.end());
    for (conn_id id : visited) {
      auto it = sockets.find(id);
      if (it == sockets.end()) continue;
      socket_connection& conn = *it->second;
      const std::uint32_t want = conn.wanted_events();
      if (want == conn.registered_events) continue;
      if (auto r = loop->modify(conn.fd(), want); r) {
        conn.registered_events = want;
      } else {
        say(log_level::error, "conn " + std::to_string(id) + ": epoll: " + describe(r.error()));
      }
    }
  }
};

result<std::unique_ptr<xenstored>> xenstored::create(daemon_settings settings, transport* rings, log_sink log) {
  auto loop = event_loop::create();
  if (!loop) return fail(loop.error());
  if (settings.stop_on_signals) {
    if (auto r = block_signals(stop_signals); !r) return fail(r.error());
    if (auto r = (*loop)->stop_on_signals(stop_signals); !r) return fail(r.error());
  }
  auto p = std::make_unique<impl>(std::move(settings), std::move(log), std::move(*loop));
  const auto& s = p->settings;
  if (auto r = p->listen(s.socket_path, {conn_kind::socket, 0, s.read_only}); !r) return fail(r.error());
  for (const auto& g : s.guest_sockets) {
    if (auto r = p->listen(g.path, {conn_kind::guest_socket, g.domid, false}); !r) return fail(r.error());
  }
  if (rings != nullptr) {
    p->rings = std::make_unique<ring_host>(
        *rings, *p->loop, p->core, [raw = p.get()](log_level l, const std::string& m) { raw->say(l, m); },
        p->settings.trace);
    p->rings->start_domain_watch();
    if (p->settings.dom0_ring) {
      auto& local = *p->settings.dom0_ring;
      auto id = p->rings->adopt(rings->self(), std::move(local.page), local.port, clock::now());
      p->settings.dom0_ring.reset();
      if (!id) {
        p->say(log_level::error, "serving our own kernel's xenbus ring: " + id.error().message());
        return fail(id.error());
      }
    }
  } else if (p->settings.dom0_ring) {
    return fail(errc::invalid_argument);  // a ring to serve, and no transport to bind its port with
  }
  return std::unique_ptr<xenstored>(new xenstored(std::move(p)));
}

xenstored::xenstored(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
xenstored::~xenstored() = default;

result<void> xenstored::run() {
  impl& d = *impl_;
  d.say(log_level::info, "serving " + d.settings.socket_path + (d.settings.read_only ? " (read-only)" : ""));
  for (const auto& g : d.settings.guest_sockets)
    d.say(log_level::info, "serving " + g.path + " as domain " + std::to_string(g.domid));
  while (!d.loop->stopping()) {
    // Leftover work from the last settle: poll without sleeping.
    auto deadline = d.touched.empty() ? d.core.next_deadline() : std::optional<time_point>(clock::now());
    if (auto r = d.loop->run_once(deadline); !r) return fail(r.error());
    d.settle(clock::now());
  }
  if (auto sig = d.loop->stop_signal()) d.say(log_level::info, "stopping on signal " + std::to_string(*sig));
  return {};
}

void xenstored::stop() noexcept { impl_->loop->stop(); }
std::optional<int> xenstored::stop_signal() const noexcept { return impl_->loop->stop_signal(); }
const server_core& xenstored::core() const noexcept { return impl_->core; }
std::size_t xenstored::open_connections() const noexcept {
  return impl_->sockets.size() + (impl_->rings ? impl_->rings->size() : 0);
}

}  // namespace xenwire::xenstore
