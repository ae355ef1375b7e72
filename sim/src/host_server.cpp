// The cross-process host: serves sim::host's core to processes over a SOCK_SEQPACKET socket.
#include "xenwire/sim/host_server.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <span>
#include <unordered_map>
#include <variant>

#include "core.hpp"
#include "remote_wire.hpp"

namespace xenwire::sim {

namespace w = detail::wire;

namespace {

// An event-channel handle, as an open file of the evtchn device: held by every connection whose
// process has its fd (the image that opened it, a forked child that adopted it, the image after an
// exec), and closed with the last of them — or, kept across exec, when its process exits.
struct handle_entry {
  std::unique_ptr<event_channel> channel;
  domid_t domid = 0;
  bool keep_across_exec = false;
};

using object = std::variant<std::unique_ptr<shared_pages>, std::unique_ptr<mapped_pages>, std::shared_ptr<handle_entry>>;

// Handles kept across exec whose last connection closed while their process lives on: the image
// after exec adopts them from the inherited fd; the process's exit releases them.
struct parked_process {
  int pid = 0;
  std::vector<std::shared_ptr<handle_entry>> handles;
};

struct connection {
  unique_fd sock;
  int pid = 0;  // SO_PEERCRED at accept
  bool greeted = false;
  domid_t domid = 0;
  bool owner = false;
  std::unique_ptr<domain_transport> transport;
  std::unordered_map<std::uint64_t, object> objects;
  std::uint64_t next_id = 1;
};

std::error_code os_error() { return {errno, std::system_category()}; }

template <class T>
std::span<const std::byte> as_bytes_of(const T& v) {
  return std::as_bytes(std::span<const T>(&v, 1));
}

}  // namespace

struct host_server::impl {
  impl(host_server_options o, event_loop& l) : opts(std::move(o)), loop(l) {}
  ~impl();

  host_server_options opts;
  event_loop& loop;
  host_paths paths;
  unique_fd lock_fd;
  unique_fd listen_fd;
  std::unique_ptr<sim::host> host;  // before conns: connections release into it
  detail::host_core* core = nullptr;
  std::map<int, std::unique_ptr<connection>> conns;
  std::vector<std::byte> inbox;  // every request lands here in turn
  bool finished = false;

  // Shutdown in progress: the requester's connection, companions still running, the kill timer.
  std::vector<int> companions;
  std::map<int, int> companion_pidfds;  // pidfd -> pid
  std::map<int, parked_process> parked;  // by pidfd
  int shutdown_requester = -1;
  unique_fd kill_timer;

  void say(const std::string& line) const {
    if (opts.log) opts.log(line);
  }

  result<void> listen();
  void accept_ready();
  void readable(int fd);
  void close_connection(int fd, const char* why);
  result<void> reply(connection& c, w::reply r, std::span<const std::byte> tail = {}, std::span<const int> fds = {});
  // Text for a person (describe, the leak report): one line each, cut at the largest message.
  void reply_lines(connection& c, w::reply r, const std::vector<std::string>& lines);
  void handle(connection& c, const w::request& rq, std::span<const std::byte> tail, std::span<const int> fds);
  void hello(connection& c, const w::request& rq);
  event_channel* find_handle(connection& c, std::uint64_t id) {
    auto it = c.objects.find(id);
    if (it == c.objects.end()) return nullptr;
    auto* p = std::get_if<std::shared_ptr<handle_entry>>(&it->second);
    return p == nullptr ? nullptr : (*p)->channel.get();
  }
  void park_kept_handles(connection& c);
  void parked_process_exited(int pidfd);
  void release_parked(const char* why);
  void adopt_handle(connection& c, w::reply r, int fd);
  std::size_t processes_of(domid_t domid) const;
  std::vector<std::string> describe_lines() const;
  void begin_shutdown(connection& requester);
  void companion_exited(int pidfd);
  void finish_shutdown();
};

host_server::impl::~impl() {
  for (auto& [fd, c] : conns) loop.remove(fd);
  for (auto& [pidfd, p] : parked) {
    loop.remove(pidfd);
    ::close(pidfd);
  }
  for (auto& [pidfd, pid] : companion_pidfds) {
    loop.remove(pidfd);
    ::close(pidfd);
  }
  if (kill_timer) loop.remove(kill_timer.get());
  conns.clear();  // releases every object into the host
  if (listen_fd) {
    loop.remove(listen_fd.get());
    ::unlink(paths.socket.c_str());
  }
  host.reset();  // removes the shared-memory object
  if (lock_fd) {
    ::unlink(paths.lock.c_str());
    std::error_code ec;
    std::filesystem::remove(paths.run_dir, ec);  // only if empty: logs and foreign files stay
  }
}

result<void> host_server::impl::listen() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (paths.socket.native().size() >= sizeof addr.sun_path) return fail(errc::invalid_argument);
  std::strncpy(addr.sun_path, paths.socket.c_str(), sizeof addr.sun_path - 1);
  unique_fd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) return fail(os_error());
  ::unlink(paths.socket.c_str());
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return fail(os_error());
  if (::listen(s.get(), 128) != 0) return fail(os_error());
  listen_fd = std::move(s);
  return loop.add(listen_fd.get(), EPOLLIN, [this](std::uint32_t) { accept_ready(); });
}

void host_server::impl::accept_ready() {
  for (;;) {
    unique_fd fd(::accept4(listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) return;  // EAGAIN, or a client that gave up before we accepted
    auto c = std::make_unique<connection>();
    const int raw = fd.get();
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(raw, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) c->pid = cred.pid;
    c->sock = std::move(fd);
    if (auto r = loop.add(raw, EPOLLIN, [this, raw](std::uint32_t) { readable(raw); }); !r) continue;
    conns.emplace(raw, std::move(c));
  }
}

void host_server::impl::readable(int fd) {
  auto it = conns.find(fd);
  if (it == conns.end()) return;
  connection& c = *it->second;
  auto m = w::receive_message(fd, inbox);
  if (!m) {
    if (m.error() == errc::would_block || m.error() == std::errc::resource_unavailable_try_again) return;
    close_connection(fd, m.error() == errc::peer_closed ? "closed" : "broken");
    return;
  }
  w::request rq;
  if (m->bytes.size() < sizeof rq) return close_connection(fd, "sent a short request");
  std::memcpy(&rq, m->bytes.data(), sizeof rq);
  std::span<const std::byte> tail(m->bytes.data() + sizeof rq, m->bytes.size() - sizeof rq);
  if (tail.size() != std::size_t{rq.count} * sizeof(std::uint32_t)) return close_connection(fd, "sent a malformed request");
  const bool takes_fd = rq.op == static_cast<std::uint32_t>(w::op::adopt_handle);
  if (m->fds.size() != (takes_fd ? 1U : 0U)) return close_connection(fd, "sent file descriptors");
  if (!c.greeted && rq.op != static_cast<std::uint32_t>(w::op::hello)) return close_connection(fd, "did not say hello");
  handle(c, rq, tail, m->fds);
}

void host_server::impl::close_connection(int fd, const char* why) {
  auto it = conns.find(fd);
  if (it == conns.end()) return;
  std::unique_ptr<connection> c = std::move(it->second);
  conns.erase(it);
  loop.remove(fd);
  if (c->greeted) {
    say("dom" + std::to_string(c->domid) + (c->owner ? " (owner)" : "") + " process " + why + ": releasing " +
        std::to_string(c->objects.size()) + " objects");
  }
  // As the kernel does for a process that exits: unmap, unshare, close event channels. Mappings
  // first, so that a share we also map ourselves is freed at once.
  for (auto& [id, o] : c->objects) {
    if (std::holds_alternative<std::unique_ptr<mapped_pages>>(o)) std::get<std::unique_ptr<mapped_pages>>(o).reset();
  }
  if (c->greeted && !c->owner) park_kept_handles(*c);
  c->objects.clear();
  c->transport.reset();
  if (c->owner && c->greeted) {
    static_cast<void>(host->destroy_domain(c->domid));
    say("dom" + std::to_string(c->domid) + " destroyed: its owner process is gone");
  }
  if (fd == shutdown_requester) shutdown_requester = -1;
}

result<void> host_server::impl::reply(connection& c, w::reply r, std::span<const std::byte> tail, std::span<const int> fds) {
  r.count = static_cast<std::uint32_t>(tail.size());
  auto sent = w::send_message(c.sock.get(), as_bytes_of(r), tail, fds);
  // A full socket means the process is not reading its replies (each request waits for one):
  // it is broken or hostile, and must not stall the host.
  if (!sent) close_connection(c.sock.get(), "stopped reading replies");
  return sent;
}

void host_server::impl::reply_lines(connection& c, w::reply r, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  if (text.size() > w::max_message - sizeof r) text.resize(w::max_message - sizeof r);
  reply(c, r, std::as_bytes(std::span(text.data(), text.size())));
}

void host_server::impl::hello(connection& c, const w::request& rq) {
  auto refuse = [&](std::error_code ec) {
    w::reply r;
    r.error = w::encode_error(ec);
    const int fd = c.sock.get();
    if (reply(c, r)) close_connection(fd, "refused");
  };
  if (c.greeted || rq.c != w::magic || rq.a >= domid_first_reserved || rq.b > 1) {
    return refuse(make_error_code(errc::protocol_error));
  }
  const auto domid = static_cast<domid_t>(rq.a);
  const bool owner = rq.b == 0 && domid != 0;  // dom0 belongs to the host
  auto st = host->state(domid);
  if (owner) {
    for (const auto& [fd, other] : conns) {
      if (other->greeted && other->owner && other->domid == domid) return refuse(make_error_code(errc::invalid_argument));
    }
    if (st && *st == domain_state::dying) return refuse(make_error_code(errc::domain_dying));
    if (!st || *st == domain_state::dead) {
      if (auto made = host->create_domain(domid); !made) return refuse(made.error());
    }
  } else if (!st) {
    return refuse(st.error());
  } else if (*st != domain_state::alive) {
    return refuse(make_error_code(errc::domain_dying));
  }
  auto t = host->transport(domid);
  if (!t) return refuse(t.error());
  c.greeted = true;
  c.domid = domid;
  c.owner = owner;
  c.transport = std::move(*t);
  say("dom" + std::to_string(domid) + (owner ? " owner" : "") + " process connected");
  w::reply r;
  const int pages_fd = core->memory.fd();
  reply(c, r, {}, std::span<const int>(&pages_fd, 1));
}

std::size_t host_server::impl::processes_of(domid_t domid) const {
  std::size_t n = 0;
  for (const auto& [fd, c] : conns) n += c->greeted && c->domid == domid ? 1 : 0;
  return n;
}

std::vector<std::string> host_server::impl::describe_lines() const {
  std::vector<std::string> out;
  std::lock_guard lock(core->mutex);
  for (const auto& [id, d] : core->domains) {
    if (d->state == domain_state::dead) continue;
    out.push_back("dom" + std::to_string(id) + " " + to_string(d->state) + ", " +
                  std::to_string(processes_of(id)) + " processes, " + std::to_string(d->grants.size()) + " grants, " +
                  std::to_string(d->ports_in_use) + " ports");
    for (auto& line : core->leaks_locked(*d)) out.push_back("  " + line);
  }
  return out;
}

void host_server::impl::begin_shutdown(connection& requester) {
  shutdown_requester = requester.sock.get();
  std::vector<domid_t> guests;
  {
    std::lock_guard lock(core->mutex);
    for (const auto& [id, d] : core->domains) {
      if (id != 0 && d->state == domain_state::alive) guests.push_back(id);
    }
  }
  for (domid_t id : guests) static_cast<void>(host->destroy_domain(id));
  say("shutdown: " + std::to_string(guests.size()) + " guest domains destroyed");
  for (int pid : companions) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) continue;  // already gone
    ::kill(pid, SIGTERM);
    companion_pidfds.emplace(pidfd, pid);
    static_cast<void>(loop.add(pidfd, EPOLLIN, [this, pidfd](std::uint32_t) { companion_exited(pidfd); }));
  }
  companions.clear();
  if (companion_pidfds.empty()) return finish_shutdown();
  kill_timer = unique_fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  itimerspec spec{};
  spec.it_value.tv_sec = 5;
  ::timerfd_settime(kill_timer.get(), 0, &spec, nullptr);
  static_cast<void>(loop.add(kill_timer.get(), EPOLLIN, [this](std::uint32_t) {
    for (auto& [pidfd, pid] : companion_pidfds) {
      say("shutdown: companion " + std::to_string(pid) + " ignored SIGTERM for 5 s: SIGKILL");
      ::kill(pid, SIGKILL);
    }
    loop.remove(kill_timer.get());
    kill_timer.reset();
  }));
}

void host_server::impl::companion_exited(int pidfd) {
  auto it = companion_pidfds.find(pidfd);
  if (it == companion_pidfds.end()) return;
  int status = 0;
  ::waitpid(it->second, &status, WNOHANG);  // reaps it if it is our child
  loop.remove(pidfd);
  ::close(pidfd);
  companion_pidfds.erase(it);
  if (companion_pidfds.empty()) {
    if (kill_timer) {
      loop.remove(kill_timer.get());
      kill_timer.reset();
    }
    // Its connection may close after its exit is seen: take what is readable now.
    for (int fd : [&] { std::vector<int> v; for (auto& [f, c] : conns) v.push_back(f); return v; }()) {
      if (fd != shutdown_requester) readable(fd);
    }
    finish_shutdown();
  }
}

void host_server::impl::park_kept_handles(connection& c) {
  std::vector<std::shared_ptr<handle_entry>> kept;
  for (auto& [id, o] : c.objects) {
    auto* h = std::get_if<std::shared_ptr<handle_entry>>(&o);
    // use_count 1: no other connection (and no parked process) holds it.
    if (h != nullptr && (*h)->keep_across_exec && h->use_count() == 1) kept.push_back(*h);
  }
  if (kept.empty() || c.pid <= 0) return;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, c.pid, 0));
  if (pidfd < 0) return;  // the process is gone: nothing will adopt them
  if (auto r = loop.add(pidfd, EPOLLIN, [this, pidfd](std::uint32_t) { parked_process_exited(pidfd); }); !r) {
    ::close(pidfd);
    return;
  }
  say("dom" + std::to_string(c.domid) + " process " + std::to_string(c.pid) + " keeps " + std::to_string(kept.size()) +
      " event-channel handles across exec");
  parked.emplace(pidfd, parked_process{c.pid, std::move(kept)});
}

void host_server::impl::parked_process_exited(int pidfd) {
  auto it = parked.find(pidfd);
  if (it == parked.end()) return;
  say("process " + std::to_string(it->second.pid) + " exited: releasing " + std::to_string(it->second.handles.size()) +
      " event-channel handles it kept across exec");
  loop.remove(pidfd);
  ::close(pidfd);
  parked.erase(it);
}

void host_server::impl::release_parked(const char* why) {
  for (auto& [pidfd, p] : parked) {
    say("process " + std::to_string(p.pid) + " " + why + ": releasing " + std::to_string(p.handles.size()) +
        " event-channel handles it kept across exec");
    loop.remove(pidfd);
    ::close(pidfd);
  }
  parked.clear();
}

// The fd is the capability, as for the evtchn device: whoever holds a handle's eventfd (passed
// down by exec or fork) may use the handle, within the same domain.
void host_server::impl::adopt_handle(connection& c, w::reply r, int fd) {
  const int self = ::getpid();
  auto same_file = [&](const handle_entry& h) {
    return ::syscall(SYS_kcmp, self, self, KCMP_FILE, fd, h.channel->fd()) == 0;
  };
  std::shared_ptr<handle_entry> found;
  for (auto& [sock, other] : conns) {
    if (!other->greeted || other->domid != c.domid) continue;
    for (auto& [id, o] : other->objects) {
      auto* h = std::get_if<std::shared_ptr<handle_entry>>(&o);
      if (h != nullptr && same_file(**h)) found = *h;
    }
  }
  for (auto it = parked.begin(); !found && it != parked.end(); ++it) {
    auto& hs = it->second.handles;
    for (auto h = hs.begin(); h != hs.end(); ++h) {
      if ((*h)->domid != c.domid || !same_file(**h)) continue;
      found = std::move(*h);
      hs.erase(h);
      break;
    }
    if (found && hs.empty()) {
      loop.remove(it->first);
      ::close(it->first);
      parked.erase(it);
      break;
    }
  }
  if (!found) {
    r.error = w::encode_error(make_error_code(errc::invalid_argument));
    reply(c, r);
    return;
  }
  r.object = c.next_id++;
  c.objects.emplace(r.object, std::move(found));
  reply(c, r);
}

void host_server::impl::finish_shutdown() {
  release_parked("outlives the host");
  if (opts.before_leak_check) opts.before_leak_check();
  const clean_report report = host->check_clean();
  finished = true;
  loop.stop();
  auto it = conns.find(shutdown_requester);
  if (it == conns.end()) return;
  reply_lines(*it->second, w::reply{}, report.leaks());
}

void host_server::impl::handle(connection& c, const w::request& rq, std::span<const std::byte> tail,
                               std::span<const int> fds) {
  w::reply r;
  r.object = rq.object;
  auto answer = [&](const std::error_code& ec) {
    r.error = w::encode_error(ec);
    reply(c, r);
  };
  auto ok = [&] { reply(c, r); };
  const auto peer = static_cast<domid_t>(rq.a);
  const auto port = static_cast<evtchn_port_t>(rq.a);
  switch (static_cast<w::op>(rq.op)) {
    case w::op::hello:
      return hello(c, rq);

    case w::op::share:
    case w::op::map: {
      const bool sharing = rq.op == static_cast<std::uint32_t>(w::op::share);
      if (rq.a > 0xFFFF || rq.c > 1 || (sharing && (rq.b == 0 || rq.b > w::max_refs)) ||
          (!sharing && (rq.count == 0 || rq.count > w::max_refs))) {
        return answer(make_error_code(errc::invalid_argument));
      }
      unmap_notify notify;
      std::optional<std::uint32_t> np;
      w::unpack_notify(rq.d, notify.clear_byte, np);
      notify.port = np;
      const access mode = rq.c == 0 ? access::read_only : access::read_write;
      std::vector<std::byte> out;
      object made;
      if (sharing) {
        auto s = c.transport->grants().share(peer, rq.b, mode, notify);
        if (!s) return answer(s.error());
        out = w::encode_share((*s)->refs(), detail::backing_pages(**s));
        made = std::move(*s);
      } else {
        std::vector<grant_ref_t> refs(rq.count);
        std::memcpy(refs.data(), tail.data(), tail.size());
        auto m = c.transport->grants().map(peer, refs, mode, notify);
        if (!m) return answer(m.error());
        const auto pages = detail::backing_pages(**m);
        out.resize(pages.size_bytes());
        std::memcpy(out.data(), pages.data(), out.size());
        made = std::move(*m);
      }
      r.object = c.next_id++;
      c.objects.emplace(r.object, std::move(made));
      reply(c, r, out);
      return;
    }
    case w::op::unshare:
    case w::op::unmap:
    case w::op::close_handle: {
      auto it = c.objects.find(rq.object);
      const std::size_t want = rq.op == static_cast<std::uint32_t>(w::op::unshare) ? 0
                               : rq.op == static_cast<std::uint32_t>(w::op::unmap) ? 1 : 2;
      if (it == c.objects.end() || it->second.index() != want) return answer(make_error_code(errc::invalid_argument));
      c.objects.erase(it);
      return ok();
    }
    case w::op::open_handle: {
      if (rq.a > 1) return answer(make_error_code(errc::invalid_argument));
      auto h = c.transport->open_event_channel();
      if (!h) return answer(h.error());
      const int efd = (*h)->fd();
      r.object = c.next_id++;
      c.objects.emplace(r.object, std::make_shared<handle_entry>(handle_entry{std::move(*h), c.domid, rq.a == 1}));
      reply(c, r, {}, std::span<const int>(&efd, 1));
      return;
    }
    case w::op::adopt_handle:
      return adopt_handle(c, r, fds[0]);
    case w::op::bind_unbound:
    case w::op::bind_interdomain:
    case w::op::bind_virq:
    case w::op::unbind:
    case w::op::notify:
    case w::op::pending:
    case w::op::pending_batch:
    case w::op::mask:
    case w::op::unmask:
    case w::op::port_state: {
      event_channel* h = find_handle(c, rq.object);
      if (h == nullptr) return answer(make_error_code(errc::invalid_argument));
      result<evtchn_port_t> got = evtchn_port_t{0};
      switch (static_cast<w::op>(rq.op)) {
        case w::op::bind_unbound:
          got = rq.a > 0xFFFF ? fail(errc::invalid_argument) : h->bind_unbound(peer);
          break;
        case w::op::bind_interdomain:
          got = rq.a > 0xFFFF || rq.b > 0xFFFFFFFF ? fail(errc::invalid_argument)
                                                   : h->bind_interdomain(peer, static_cast<evtchn_port_t>(rq.b));
          break;
        case w::op::bind_virq:
          got = detail::bind_virq(*h, static_cast<std::uint32_t>(rq.a));
          break;
        case w::op::unbind:
          if (auto u = h->unbind(port); !u) got = fail(u.error());
          break;
        case w::op::notify:
          if (auto u = h->notify(port); !u) got = fail(u.error());
          break;
        case w::op::mask:
          if (auto u = h->mask(port); !u) got = fail(u.error());
          break;
        case w::op::unmask:
          if (auto u = h->unmask(port); !u) got = fail(u.error());
          break;
        case w::op::port_state: {
          auto st = h->state(port);
          if (!st) return answer(st.error());
          got = static_cast<evtchn_port_t>(*st);
          break;
        }
        case w::op::pending: {
          auto p = rq.a == 1 ? detail::pending_and_mask(*h) : h->pending();
          if (!p) return answer(p.error());
          r.v0 = p->value_or(0);
          r.v1 = p->has_value() ? 1 : 0;
          return ok();
        }
        case w::op::pending_batch: {
          if (rq.a == 0 || rq.a > w::max_pending_batch) return answer(make_error_code(errc::invalid_argument));
          std::array<evtchn_port_t, w::max_pending_batch> ports{};
          auto n = h->pending_batch(std::span(ports).first(rq.a));
          if (!n) return answer(n.error());
          r.v0 = *n;
          reply(c, r, std::as_bytes(std::span(ports).first(*n)));
          return;
        }
        default:
          break;
      }
      if (!got) return answer(got.error());
      r.v0 = *got;
      return ok();
    }
    case w::op::take_xenstore: {
      auto ep = c.transport->take_xenstore();
      if (!ep) return answer(ep.error());
      const auto out = w::encode_share(ep->page->refs(), detail::backing_pages(*ep->page));
      const int efd = ep->events->fd();
      r.object = c.next_id++;
      r.v0 = ep->page->refs()[0];
      r.v1 = ep->port;
      r.v2 = c.next_id++;
      c.objects.emplace(r.object, std::move(ep->page));
      c.objects.emplace(r.v2, std::make_shared<handle_entry>(handle_entry{std::move(ep->events), c.domid, false}));
      reply(c, r, out, std::span<const int>(&efd, 1));
      return;
    }
    case w::op::create_domain:
    case w::op::destroy_domain:
    case w::op::domains:
    case w::op::describe:
    case w::op::shutdown:
      if (c.domid != 0) return answer(make_error_code(errc::permission_denied));
      break;
    default:
      return close_connection(c.sock.get(), "sent an unknown request");
  }

  switch (static_cast<w::op>(rq.op)) {
    case w::op::create_domain: {
      if (rq.a >= domid_first_reserved || rq.c >= domid_first_reserved) return answer(make_error_code(errc::invalid_argument));
      domain_config cfg;
      cfg.xenstore = rq.b == 1;
      cfg.xenstore_domid = static_cast<domid_t>(rq.c);
      auto info = host->create_domain(peer, cfg);
      if (!info) return answer(info.error());
      r.v0 = info->xenstore_ref ? *info->xenstore_ref : ~std::uint64_t{0};
      r.v1 = info->xenstore_port.value_or(0);
      say("dom" + std::to_string(peer) + " created" + (cfg.xenstore ? " with a Xenstore page and port" : ""));
      return ok();
    }
    case w::op::destroy_domain: {
      if (rq.a == 0 || rq.a >= domid_first_reserved) return answer(make_error_code(errc::invalid_argument));
      auto st = host->state(peer);
      if (!st) return answer(st.error());
      if (*st != domain_state::alive) return answer(make_error_code(errc::domain_dying));
      if (auto d = host->destroy_domain(peer); !d) return answer(d.error());
      say("dom" + std::to_string(peer) + " destroyed on request");
      return ok();
    }
    case w::op::domains: {
      std::vector<w::domain_entry> entries;
      {
        std::lock_guard lock(core->mutex);
        for (const auto& [id, d] : core->domains) {
          entries.push_back({id, static_cast<std::uint32_t>(d->state), d->grants.size(), d->ports_in_use, 0});
        }
      }
      for (auto& e : entries) e.processes = processes_of(static_cast<domid_t>(e.domid));
      reply(c, r, std::as_bytes(std::span(entries)));
      return;
    }
    case w::op::describe: {
      reply_lines(c, r, describe_lines());
      return;
    }
    case w::op::shutdown:
      if (shutdown_requester >= 0) return answer(make_error_code(errc::invalid_argument));
      return begin_shutdown(c);
    default:
      return;
  }
}

// host_server

host_server::host_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
host_server::~host_server() = default;

detail::host_core& host_server::core_of(sim::host& h) noexcept { return *h.core_; }

result<std::unique_ptr<host_server>> host_server::start(host_server_options opts, event_loop& loop) {
  auto paths = paths_for(opts.name, opts.run_root);
  if (!paths) return fail(paths.error());
  auto p = std::make_unique<impl>(std::move(opts), loop);
  p->paths = *paths;
  std::error_code ec;
  std::filesystem::create_directories(p->paths.run_dir, ec);
  if (ec) return fail(ec);
  unique_fd lock(::open(p->paths.lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) return fail(os_error());
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return fail(errno == EWOULDBLOCK ? std::error_code(EBUSY, std::system_category()) : os_error());
  }
  // The pid, for operators (and tests that crash the host on purpose).
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock.get(), 0) != 0 || ::write(lock.get(), pid.data(), pid.size()) < 0) return fail(os_error());
  p->lock_fd = std::move(lock);
  // Whatever a crashed run left under this name goes now: its sockets (below, and the
  // shared-memory object in use_shared_memory).
  ::unlink(p->paths.xenstored_socket.c_str());
  p->host = std::make_unique<sim::host>(p->opts.limits);
  p->core = &core_of(*p->host);
  if (auto r = p->core->memory.use_shared_memory(p->paths.pages_object); !r) return fail(r.error());
  if (auto r = p->host->create_domain(0); !r) return fail(r.error());
  if (auto r = p->listen(); !r) return fail(r.error());
  return std::unique_ptr<host_server>(new host_server(std::move(p)));
}

const host_paths& host_server::paths() const noexcept { return impl_->paths; }
bool host_server::finished() const noexcept { return impl_->finished; }
std::size_t host_server::connections() const noexcept { return impl_->conns.size(); }
sim::host& host_server::host() noexcept { return *impl_->host; }
void host_server::add_companion(int pid) { impl_->companions.push_back(pid); }

}  // namespace xenwire::sim
