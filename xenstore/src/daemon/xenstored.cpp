#include "xenwire/xenstore/daemon/xenstored.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "daemon/live_update.hpp"
#include "daemon/ring_host.hpp"
#include "daemon/socket_connection.hpp"
#include "daemon/socket_uring.hpp"
#include "xenwire/base/event_loop.hpp"
#include "xenwire/xenstore/daemon/socket_listener.hpp"
#include "xenwire/xenstore/migration/stream.hpp"

namespace xenwire::xenstore {
namespace {

constexpr std::size_t scratch_size = 64 * 1024;
constexpr std::array<int, 2> stop_signals = {SIGTERM, SIGINT};
// Passes of drop/offer/flush per batch: each can enable another (output sent frees quota).
constexpr int settle_passes = 4;
// io_uring: submission queue entries (a full queue is submitted early, never refused).
constexpr unsigned uring_entries = 1024;
// Completion tags: a connection's id and the operation; tag 0 is the epoll loop's poll.
constexpr std::uint64_t epoll_tag = 0;
enum class op : std::uint64_t { recv = 1, send = 2 };
std::uint64_t tag_of(conn_id id, op o) { return (std::uint64_t{id} << 2) | static_cast<std::uint64_t>(o); }
// Live update: how long cancelled receives and sends may take to report before the exec.
constexpr auto quiesce_limit = std::chrono::seconds(2);

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
  // io_uring: null when sockets are served on the epoll loop. Closed connections wait in
  // `retiring` (their fds open, their buffers alive) until their cancelled operations report.
  std::unique_ptr<socket_uring> uring;
  std::unordered_map<conn_id, std::unique_ptr<socket_connection>> retiring;
  bool epoll_polled = false;  // the loop's poll is in flight
  bool epoll_ready = false;   // ... and reported the loop readable
  bool quiescing = false;     // live update: completions are held, nothing is re-armed
  struct {
    std::size_t cancelled = 0, held = 0, sent = 0;  // operations; bytes received, sent
  } quiesced;
  std::unique_ptr<ring_host> rings;
  transport* rings_transport = nullptr;  // rings' backend, when there is one
  std::vector<std::byte> scratch = std::vector<std::byte>(scratch_size);
  std::vector<conn_id> touched;  // sockets the poller reported since the last settle()
  std::vector<conn_id> visit_scratch, visited_scratch;
  std::vector<core_effect> effects_scratch;
  live_update_session live_update;
  // A xenwire binary's dry run in progress, and the start it decides.
  struct running_check {
    live_update_check dry;
    live_update_session::start_now go;
    std::vector<std::string> argv;
    time_point deadline;
    std::chrono::milliseconds limit;
  };
  std::optional<running_check> check;

  impl(daemon_settings s, log_sink sink, std::unique_ptr<event_loop> l)
      : settings(std::move(s)), log_out(std::move(sink)), loop(std::move(l)), core(settings.config) {}

  ~impl() {
    const auto now = clock::now();
    uring.reset();  // cancels what is in flight before the buffers go
    for (auto& [id, conn] : sockets) {
      loop->remove(conn->fd());
      core.close(id, now);
    }
    sockets.clear();
    retiring.clear();
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
    return serve_listener(std::move(*l), options);
  }

  // A listener bound here or inherited through live update: its clients get `options`.
  result<void> serve_listener(socket_listener l, connection_options options) {
    listeners.push_back({std::move(l), options});
    const std::size_t index = listeners.size() - 1;
    return loop->add(listeners.back().listener.fd(), EPOLLIN, [this, index](std::uint32_t) { accept_all(index); });
  }

  // A client socket for core connection `id` (accepted, or inherited through live update with
  // input it had not processed). If the loop cannot watch it, the core connection is closed.
  bool serve_socket(unique_fd fd, conn_id id, std::string_view held, time_point now) {
    auto conn = std::make_unique<socket_connection>(std::move(fd), id, static_cast<bool>(settings.trace));
    conn->hold(held);
    if (uring) {
      sockets.emplace(id, std::move(conn));
      touched.push_back(id);  // settle() arms its receive
      return true;
    }
    conn->registered_events = conn->wanted_events();
    if (auto r = loop->add(conn->fd(), conn->registered_events, [this, id](std::uint32_t ev) { on_socket(id, ev); });
        !r) {
      say(log_level::error, "cannot watch client " + std::to_string(id) + ": " + describe(r.error()));
      core.close(id, now);
      return false;
    }
    sockets.emplace(id, std::move(conn));
    return true;
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
      if (!serve_socket(std::move(**fd), id, {}, now)) continue;
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
    auto conn = std::move(it->second);
    sockets.erase(it);
    if (!uring) {
      loop->remove(conn->fd());
    } else if (conn->receiving || conn->sending) {
      cancel_all(id, *conn);
      retiring.emplace(id, std::move(conn));
    }
    conn.reset();  // closes the fd, unless it waits in `retiring`
    core.close(id, now);
    live_update.connection_closed(id);
    const bool normal = why == errc::peer_closed;
    say(normal ? log_level::debug : log_level::warn, "conn " + std::to_string(id) + " closed: " + describe(why));
  }

  // ---- io_uring ----
  void cancel_all(conn_id id, const socket_connection& conn) {
    if (conn.receiving) uring->cancel(tag_of(id, op::recv));
    if (conn.sending) uring->cancel(tag_of(id, op::send));
  }

  // Queues what the connection can do now: send its output, receive unless held back.
  void arm(conn_id id, socket_connection& conn) {
    if (!conn.sending && core.has_output(id)) {
      if (const auto bytes = conn.stage_send(core); !bytes.empty()) {
        uring->send(conn.fd(), bytes, tag_of(id, op::send));
        conn.sending = true;
      }
    }
    if (!conn.receiving && !conn.paused() && !quiescing) {
      uring->recv_multishot(conn.fd(), tag_of(id, op::recv));
      conn.receiving = true;
    } else if (conn.receiving && !conn.receive_cancelled && conn.paused()) {
      // Held back by quotas: stop receiving (back-pressure through the kernel's buffers), and
      // hold what arrives until the cancel lands.
      uring->cancel(tag_of(id, op::recv));
      conn.receive_cancelled = true;
    }
  }

  void arm_epoll() {
    if (epoll_polled) return;
    uring->poll_in(loop->fd(), epoll_tag);
    epoll_polled = true;
  }

  void on_completion(const socket_uring::completion& c, time_point now) {
    if (c.tag == epoll_tag) {
      epoll_polled = false;
      epoll_ready = true;
      return;
    }
    const auto id = static_cast<conn_id>(c.tag >> 2);
    const bool is_recv = (c.tag & 3) == static_cast<std::uint64_t>(op::recv);
    const bool last = !(is_recv && c.more);  // a multishot receive reports until its last
    if (auto r = retiring.find(id); r != retiring.end()) {
      if (last) (is_recv ? r->second->receiving : r->second->sending) = false;
      if (!r->second->receiving && !r->second->sending) retiring.erase(r);
      return;
    }
    auto it = sockets.find(id);
    if (it == sockets.end()) return;
    socket_connection& conn = *it->second;
    if (last) {
      (is_recv ? conn.receiving : conn.sending) = false;
      if (is_recv) conn.receive_cancelled = false;
    }
    if (c.res == -ECANCELED) {
      touched.push_back(id);  // re-armed once it may receive again
      return;
    }
    if (quiescing) {
      if (is_recv && c.res > 0) {
        conn.hold_received(c.data);
        quiesced.held += c.data.size();
      } else if (!is_recv && c.res > 0) {
        conn.on_sent(core, static_cast<std::size_t>(c.res), now, settings.trace);
        quiesced.sent += static_cast<std::size_t>(c.res);
      }
      return;  // errors and EOF: the next daemon finds them again
    }
    touched.push_back(id);
    if (c.res == -EINTR || c.res == -EAGAIN || c.res == -ENOBUFS) return;  // re-armed by settle()
    result<void> r;
    if (c.res < 0) {
      const int e = -c.res;
      r = e == ECONNRESET || e == EPIPE ? fail(errc::peer_closed) : fail(std::error_code(e, std::generic_category()));
    } else if (is_recv) {
      r = conn.on_received(core, c.data, now, settings.trace);
    } else {
      conn.on_sent(core, static_cast<std::size_t>(c.res), now, settings.trace);
    }
    if (!r) close_socket(id, r.error(), now);
  }

  void reap(time_point now) {
    uring->reap([&](const socket_uring::completion& c) { on_completion(c, now); });
  }

  // Live update: every receive and send in flight cancelled and reported, so the state written next
  // holds every byte a client sent (as held input) and nothing the kernel is still sending.
  std::string quiesce() {
    if (!uring) return {};
    quiescing = true;
    quiesced = {};
    for (auto& [id, conn] : sockets) {
      cancel_all(id, *conn);
      quiesced.cancelled += (conn->receiving ? 1U : 0U) + (conn->sending ? 1U : 0U);
    }
    // Everything in flight but the epoll loop's poll, which stays.
    auto client_ops = [this] { return uring->in_flight() - (epoll_polled ? 1U : 0U); };
    const auto deadline = clock::now() + quiesce_limit;
    while (client_ops() > 0 && clock::now() < deadline) {
      if (auto r = uring->submit_and_wait(deadline); !r) return "io_uring: " + r.error().message();
      reap(clock::now());
    }
    if (client_ops() > 0) return "client I/O did not stop in time";
    say(log_level::debug, "live update: " + std::to_string(quiesced.cancelled) + " client operations stopped; " +
                              std::to_string(quiesced.held) + " bytes received held, " +
                              std::to_string(quiesced.sent) + " bytes sent meanwhile");
    return {};
  }

  // The exec failed: serve on, re-arming every connection.
  void resume() {
    if (!quiescing) return;
    quiescing = false;
    for (auto& [id, conn] : sockets) touched.push_back(id);
  }

  // ---- live update ----
  // A waiting start: refused, still waiting, or carried out now (then we only come back on failure).
  void poll_live_update(time_point now) {
    if (check) return;  // one start at a time: a second -s waits for the first's outcome
    auto next = live_update.poll(now, core.open_transactions());
    if (auto* a = std::get_if<live_update_session::answer>(&next)) {
      say(log_level::warn, "live update refused: " + a->text);
      (void)core.complete_live_update(a->token, a->text, now);
    } else if (auto* go = std::get_if<live_update_session::start_now>(&next)) {
      std::string failure = start_live_update(*go);
      if (failure.empty()) return;  // the new binary's check runs; we serve on meanwhile
      live_update_failed(go->token, failure, now);
    } else {
      return;
    }
    touched.push_back(0);  // the answer is output (an effect::ready): settle again without sleeping
  }

  void live_update_failed(live_update_token token, const std::string& failure, time_point now) {
    say(log_level::error, "live update failed: " + failure + "; still serving");
    live_update.end();
    (void)core.complete_live_update(token, failure, now);
  }

  // A start: a foreign binary (C xenstored) is exec'd at once, as C does. A xenwire binary is first
  // tried on the state and its command line (what it would refuse after exec, when nobody is left
  // to serve, it refuses now); the check runs beside us while we serve, so only the final state,
  // written again when it passes, and the exec are the clients' blackout.
  std::string start_live_update(const live_update_session::start_now& go) {
    if (!settings.guest_sockets.empty()) return "Live update with --guest-socket is not supported.";
    if (rings && rings->size() > 0 && !rings->exec_event_fd())
      return "Live update with domains' rings connected needs event channels that survive exec (the Xen backend).";
    auto argv = live_update_argv(settings.argv, live_update.binary(), live_update.cmdline());
    if (!takes_live_update_check(argv.front())) return exec_new_binary(go, argv);
    std::size_t records = 0;
    if (std::string failure = write_state(go, argv, records); !failure.empty()) return failure;
    auto dry = argv;
    dry.insert(dry.end(), {"--live-update-check", live_update_state_path()});
    auto started = live_update_check::start(dry);
    if (!started) {
      ::unlink(live_update_state_path().c_str());
      return "The new binary refused the state: cannot run its check: " + started.error().message();
    }
    // It imports the whole store (a few µs a node here): allow for that, and a margin.
    const auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::seconds(10) +
                                                                              std::chrono::microseconds(50) * records);
    check.emplace(running_check{std::move(*started), go, std::move(argv), clock::now() + limit, limit});
    const int fd = check->dry.fd();
    if (auto r = loop->add(fd, EPOLLIN, [this](std::uint32_t) {
          if (!check->dry.read()) finish_check(false, clock::now());
        });
        !r) {
      check.reset();
      ::unlink(live_update_state_path().c_str());
      return "The new binary refused the state: cannot watch its check: " + r.error().message();
    }
    say(log_level::info, "live update: checking " + check->argv.front() + " on the state, serving meanwhile");
    return {};
  }

  // The check ended (or ran out of time): exec with the state as it is now, or say why not.
  void finish_check(bool timed_out, time_point now) {
    running_check done = std::move(*check);
    check.reset();
    loop->remove(done.dry.fd());
    const std::string why = done.dry.finish(timed_out, done.limit);
    std::string failure;
    if (!live_update.active()) {
      failure = "Cancellation was requested";  // -a, or the session's owner went away
    } else if (!why.empty()) {
      failure = "The new binary refused the state: " + why;
    }
    if (failure.empty()) failure = exec_new_binary(done.go, done.argv);  // returns only on failure
    ::unlink(live_update_state_path().c_str());
    live_update_failed(done.go.token, failure, now);
    touched.push_back(0);
  }

  // Writes the state (C's state_dump, with the requester's "OK" in it) to live_update_state_path().
  // Returns "" or the sentence the operator gets.
  std::string write_state(const live_update_session::start_now& go, const std::vector<std::string>& argv,
                          std::size_t& records) {
    export_options opt;
    opt.version = migration::stream_version::v1;  // what C xenstored 4.17 reads
    opt.socket_fd = [this](conn_id id) {
      auto it = sockets.find(id);
      return it == sockets.end() ? -1 : it->second->fd();
    };
    opt.held_input = [this](conn_id id) {
      auto it = sockets.find(id);
      if (it != sockets.end()) return it->second->held();
      return rings ? rings->held_input(id) : std::string_view{};
    };
    opt.answer = std::make_pair(go.token, std::string("OK"));
    opt.drop_transactions = go.drop_transactions;
    // Checked again: the file may have been replaced since the start was requested. A C binary
    // would lose them, so then open transactions make the export refuse (would_block).
    opt.keep_transactions = go.keep_transactions && carries_live_update_transactions(argv.front());
    auto state = core.export_state(opt);
    if (!state && state.error() == make_error_code(errc::not_supported)) {
      opt.version = migration::stream_version::v2;  // depth watches
      state = core.export_state(opt);
    }
    if (!state) return "Dump state error: " + state.error().message();
    // The stream names fds and ports as this process holds them: our listening socket and event
    // channel handle, and each ring's local port (the core knows the domain's end only).
    for (auto& r : state->records) {
      if (auto* g = std::get_if<migration::global_record>(&r)) {
        g->socket_fd = listeners.front().listener.fd();
        g->evtchn_fd = rings ? rings->exec_event_fd().value_or(-1) : -1;
      } else if (auto* c = std::get_if<migration::connection_record>(&r)) {
        if (auto* ring = std::get_if<migration::ring_spec>(&c->spec)) {
          auto port = rings ? rings->local_port(c->conn_id) : std::nullopt;
          if (!port) return "Dump state error: no port for domain " + std::to_string(ring->domid) + "'s ring";
          ring->evtchn = *port;
        }
      }
    }
    records = state->records.size();
    auto bytes = migration::write_stream(*state);
    if (!bytes) return "Dump state error: " + bytes.error().message();
    const std::string path = live_update_state_path();
    unique_fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!f) return "Dump state open error";
    std::string_view rest(*bytes);
    while (!rest.empty()) {
      const ssize_t n = ::write(f.get(), rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::unlink(path.c_str());
        return "Dump write error";
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }

  // Writes the state as it is now and execs the new binary with our fds inherited. Returns only on
  // failure, with the sentence the operator gets.
  std::string exec_new_binary(const live_update_session::start_now& go, const std::vector<std::string>& argv) {
    std::size_t records = 0;
    if (std::string failure = quiesce(); !failure.empty()) {
      resume();
      return "Dump state error: " + failure;
    }
    if (std::string failure = write_state(go, argv, records); !failure.empty()) {
      resume();
      return failure;
    }
    const std::string path = live_update_state_path();
    std::vector<int> inherited{listeners.front().listener.fd()};
    for (auto& [id, conn] : sockets) inherited.push_back(conn->fd());
    for (int fd : inherited) ::fcntl(fd, F_SETFD, 0);
    say(log_level::info, "live update: " + std::to_string(sockets.size()) + " socket and " +
                             std::to_string(rings ? rings->size() : 0) + " ring connections, state in " + path +
                             ", exec " + argv.front());
    const std::error_code ec = exec_live_update(argv);
    for (int fd : inherited) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    resume();
    ::unlink(path.c_str());
    say(log_level::error, "live update: exec " + argv.front() + ": " + ec.message());
    return "Error activating new binary.";
  }

  // -U: the previous daemon's listening socket, connections and store.
  result<void> restore(migration::stream& state, time_point now) {
    const migration::global_record* global = nullptr;
    for (const auto& r : state.records)
      if (const auto* g = std::get_if<migration::global_record>(&r)) global = g;
    if (global == nullptr || global->socket_fd < 0) {
      say(log_level::error, "live update: the state names no listening socket (GLOBAL_DATA)");
      return fail(errc::invalid_argument);
    }
    auto listener = socket_listener::adopt(global->socket_fd);
    if (!listener) {
      say(log_level::error, "live update: the inherited listening socket (fd " + std::to_string(global->socket_fd) +
                                "): " + listener.error().message());
      return fail(listener.error());
    }
    if (listener->path() != settings.socket_path)
      say(log_level::warn, "live update: serving the inherited socket " + listener->path() + ", not " +
                               settings.socket_path);
    settings.socket_path = listener->path();
    if (auto r = serve_listener(std::move(*listener), {conn_kind::socket, 0, settings.read_only}); !r)
      return fail(r.error());
    auto opened = import_live_update_state(state, core, rings != nullptr);
    if (!opened) {
      say(log_level::error, "live update: " + opened.error());
      return fail(errc::invalid_argument);
    }
    for (const auto& r : state.records) {
      const auto* c = std::get_if<migration::connection_record>(&r);
      if (c == nullptr) continue;
      const auto* sock = std::get_if<migration::socket_spec>(&c->spec);
      if (sock == nullptr) continue;
      conn_id id = 0;
      for (const auto& o : *opened)
        if (o.stream_id == c->conn_id) id = o.conn;
      struct stat st{};
      if (sock->fd < 0 || ::fstat(sock->fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        say(log_level::warn, "live update: connection " + std::to_string(c->conn_id) + ": fd " +
                                 std::to_string(sock->fd) + " is not an inherited socket; dropped");
        core.close(id, now);
        continue;
      }
      unique_fd fd(sock->fd);
      ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);
      ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
      if (serve_socket(std::move(fd), id, c->unprocessed_input, now))
        touched.push_back(id);  // held input and unsent output go first
    }
    if (auto r = restore_rings(state, *global, *opened, now); !r) return r;
    say(log_level::info, "live update: restored " + std::to_string(sockets.size()) + " socket and " +
                             std::to_string(rings ? rings->size() : 0) + " ring connections, " +
                             std::to_string(core.stats().nodes) + " nodes");
    return {};
  }

  // The rings' event-channel handle from GLOBAL's fd (its ports still bound), then every ring
  // connection's page mapped again: grant ref 1, or our own kernel's page for our own domain. A
  // page that cannot be mapped (the domain is dying, or revoked the grant) leaves the domain
  // introduced without a connection, as C xenstored does: it is released when it dies.
  result<void> restore_rings(const migration::stream& state, const migration::global_record& global,
                             const std::vector<imported_connection>& opened, time_point now) {
    if (global.evtchn_fd >= 0) {
      if (!rings) {
        ::close(global.evtchn_fd);
      } else if (auto r = rings->adopt_event_channel(global.evtchn_fd); !r) {
        say(log_level::error, "live update: the inherited event-channel handle (fd " +
                                  std::to_string(global.evtchn_fd) + "): " + r.error().message());
        return fail(r.error());
      }
    }
    for (const auto& rec : state.records) {
      const auto* c = std::get_if<migration::connection_record>(&rec);
      const auto* spec = c ? std::get_if<migration::ring_spec>(&c->spec) : nullptr;
      if (spec == nullptr) continue;
      auto o = std::find_if(opened.begin(), opened.end(), [&](const auto& i) { return i.stream_id == c->conn_id; });
      if (o == opened.end()) continue;
      if (!rings || global.evtchn_fd < 0) {
        say(log_level::error, "live update: domain " + std::to_string(spec->domid) +
                                  "'s ring, and " + (rings ? "no event-channel handle in the state" : "no backend"));
        return fail(errc::invalid_argument);
      }
      std::shared_ptr<mapped_pages> page;
      if (spec->domid == rings_transport->self() && settings.dom0_ring) {
        page = std::move(settings.dom0_ring->page);
        settings.dom0_ring.reset();
      } else {
        const grant_ref_t ref = gnttab_reserved_xenstore;
        auto mapped = rings_transport->grants().map(spec->domid, std::span<const grant_ref_t>(&ref, 1), access::read_write);
        if (mapped) page = std::move(*mapped);
        else say(log_level::warn, "live update: domain " + std::to_string(spec->domid) + "'s page: " +
                                      mapped.error().message() + "; its connection is closed");
      }
      if (page) {
        if (auto r = rings->restore(o->conn, spec->domid, std::move(page), spec->evtchn, o->unprocessed_input); r)
          continue;
        else say(log_level::warn, "live update: domain " + std::to_string(spec->domid) + "'s ring: " +
                                      r.error().message() + "; its connection is closed");
      }
      core.close(o->conn, now);
    }
    return {};
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
        } else if (const auto* lu = std::get_if<effect::live_update>(&e)) {
          for (auto& a : live_update.handle(*lu, now, check_live_update_binary, carries_live_update_transactions))
            (void)core.complete_live_update(a.token, a.text, now);
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
        if (r && uring) {
          arm(id, conn);  // its completions come back through on_completion()
        } else if (r && core.has_output(id)) {
          const bool held = conn.paused();
          r = conn.flush(core, now, settings.trace);
          // Output sent may free the outstanding-request quota a held-back client waits for.
          progressed = progressed || (held && r);
        }
        if (!r) close_socket(id, r.error(), now);
      }
      if (rings) rings->settle(now, progressed, visit);
      visit.clear();
      // Output queued during this pass (e.g. a watch event caused by a ring's request) is more work.
      run_effects(now, visit);
      if (!progressed && visit.empty()) break;
    }
    if (check && now >= check->deadline) finish_check(true, now);
    if (live_update.deadline()) poll_live_update(now);
    // Still busy after the last pass: run() polls without sleeping until this drains.
    touched.insert(touched.end(), visit.begin(), visit.end());
    if (uring) return;  // sockets are not on the epoll loop
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
  if (s.io != daemon_settings::socket_io::epoll) {
    auto u = socket_uring::create(uring_entries);
    if (u) {
      p->uring = std::move(*u);
    } else if (s.io == daemon_settings::socket_io::uring) {
      p->say(log_level::error, "io_uring: " + u.error().message());
      return fail(u.error());
    } else {
      p->say(log_level::info, "io_uring unavailable (" + u.error().message() + "): serving sockets with epoll");
    }
  }
  if (rings == nullptr && p->settings.dom0_ring) {
    return fail(errc::invalid_argument);  // a ring to serve, and no transport to bind its port with
  }
  if (rings != nullptr) {
    p->rings_transport = rings;
    p->rings = std::make_unique<ring_host>(
        *rings, *p->loop, p->core, [raw = p.get()](log_level l, const std::string& m) { raw->say(l, m); },
        p->settings.trace);
  }
  if (p->settings.restore) {
    auto state = std::move(*p->settings.restore);
    p->settings.restore.reset();
    if (auto r = p->restore(state, clock::now()); !r) return fail(r.error());
  } else if (auto r = p->listen(s.socket_path, {conn_kind::socket, 0, s.read_only}); !r) {
    return fail(r.error());
  }
  for (const auto& g : s.guest_sockets) {
    if (auto r = p->listen(g.path, {conn_kind::guest_socket, g.domid, false}); !r) return fail(r.error());
  }
  if (rings != nullptr) {
    p->rings->start_domain_watch();
    // Our own kernel's ring, unless a live update's state already served it.
    if (p->settings.dom0_ring) {
      auto& local = *p->settings.dom0_ring;
      auto id = p->rings->adopt(rings->self(), std::move(local.page), local.port, clock::now());
      p->settings.dom0_ring.reset();
      if (!id) {
        p->say(log_level::error, "serving our own kernel's xenbus ring: " + id.error().message());
        return fail(id.error());
      }
    }
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
  if (d.uring) {
    if (auto r = d.uring->enable(); !r) return fail(r.error());
    d.arm_epoll();
  }
  while (!d.loop->stopping()) {
    // Leftover work from the last settle: poll without sleeping.
    auto deadline = d.touched.empty() ? d.core.next_deadline() : std::optional<time_point>(clock::now());
    if (auto lu = d.live_update.deadline(); lu && (!deadline || *lu < *deadline)) deadline = lu;
    if (d.check && (!deadline || d.check->deadline < *deadline)) deadline = d.check->deadline;
    if (!d.uring) {
      if (auto r = d.loop->run_once(deadline); !r) return fail(r.error());
    } else {
      // One io_uring_enter: last batch's sends and receives out, the next completions in.
      if (auto r = d.uring->submit_and_wait(deadline); !r) return fail(r.error());
      d.reap(clock::now());
      if (d.epoll_ready) {
        d.epoll_ready = false;
        if (auto r = d.loop->run_once(std::chrono::milliseconds(0)); !r) return fail(r.error());
        d.arm_epoll();
      }
    }
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
