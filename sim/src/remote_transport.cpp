// The client side of the cross-process host: the seam's objects as requests to the host, granted
// pages mapped from the host's shared-memory object, each handle's eventfd polled locally.
#include "xenwire/sim/remote.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "page_memory.hpp"
#include "remote_connection.hpp"
#include "xenwire/ring/event_wait.hpp"
#include "xenwire/sim/host_paths.hpp"

namespace xenwire::sim {

namespace w = detail::wire;
using detail::remote_connection;

namespace {
// testing::die_at_request: the request to die at (~0: never), and when.
std::atomic<std::uint64_t> die_at{~std::uint64_t{0}};
std::atomic<bool> die_after_send{false};
std::atomic<std::uint64_t> requests_sent{0};
}  // namespace

void testing::die_at_request(std::uint64_t n, bool after_send) noexcept {
  die_after_send.store(after_send, std::memory_order_relaxed);
  requests_sent.store(0, std::memory_order_relaxed);
  die_at.store(n, std::memory_order_relaxed);
}

namespace detail {

result<call_result> remote_connection::call(wire::request rq, std::span<const std::uint32_t> refs,
                                            std::span<const int> fds) {
  rq.count = static_cast<std::uint32_t>(refs.size());
  std::lock_guard lock(mutex_);
  const bool dies = requests_sent.fetch_add(1, std::memory_order_relaxed) == die_at.load(std::memory_order_relaxed);
  if (dies && !die_after_send.load(std::memory_order_relaxed)) ::raise(SIGKILL);
  if (auto s = wire::send_message(sock_.get(), std::as_bytes(std::span(&rq, 1)), std::as_bytes(refs), fds); !s) {
    return fail(s.error());
  }
  if (dies) ::raise(SIGKILL);
  auto m = wire::receive_message(sock_.get(), inbox_);
  if (!m) return fail(m.error());
  call_result out;
  if (m->bytes.size() < sizeof out.head) return fail(errc::protocol_error);
  std::memcpy(&out.head, m->bytes.data(), sizeof out.head);
  if (m->bytes.size() - sizeof out.head != out.head.count) return fail(errc::protocol_error);
  if (out.head.error != 0) return fail(wire::decode_error(out.head.error));
  out.tail.assign(m->bytes.begin() + sizeof out.head, m->bytes.end());
  out.raw = std::move(*m);
  return out;
}

}  // namespace detail

namespace {

using request = w::request;

request make(w::op op, std::uint64_t object = 0, std::uint64_t a = 0, std::uint64_t b = 0, std::uint64_t c = 0,
             std::uint64_t d = 0) {
  request rq;
  rq.op = static_cast<std::uint32_t>(op);
  rq.object = object;
  rq.a = a;
  rq.b = b;
  rq.c = c;
  rq.d = d;
  return rq;
}

class remote_shared_pages final : public shared_pages {
 public:
  remote_shared_pages(std::shared_ptr<remote_connection> conn, std::uint64_t id, domid_t peer,
                      std::vector<grant_ref_t> refs, detail::page_view view)
      : conn_(std::move(conn)), id_(id), peer_(peer), refs_(std::move(refs)), view_(std::move(view)) {}
  ~remote_shared_pages() override {
    view_ = {};  // ours goes first, as a kernel's unmap precedes the grant's release
    static_cast<void>(conn_->call(make(w::op::unshare, id_)));
  }
  std::span<std::byte> bytes() noexcept override { return view_.bytes(); }
  std::span<const grant_ref_t> refs() const noexcept override { return refs_; }
  domid_t peer() const noexcept override { return peer_; }

 private:
  std::shared_ptr<remote_connection> conn_;
  std::uint64_t id_;
  domid_t peer_;
  std::vector<grant_ref_t> refs_;
  detail::page_view view_;
};

class remote_mapped_pages final : public mapped_pages {
 public:
  remote_mapped_pages(std::shared_ptr<remote_connection> conn, std::uint64_t id, domid_t peer, access mode,
                      detail::page_view view)
      : conn_(std::move(conn)), id_(id), peer_(peer), mode_(mode), view_(std::move(view)) {}
  ~remote_mapped_pages() override {
    view_ = {};
    static_cast<void>(conn_->call(make(w::op::unmap, id_)));
  }
  std::span<std::byte> bytes() noexcept override { return view_.bytes(); }
  access mode() const noexcept override { return mode_; }
  domid_t peer() const noexcept override { return peer_; }

 private:
  std::shared_ptr<remote_connection> conn_;
  std::uint64_t id_;
  domid_t peer_;
  access mode_;
  detail::page_view view_;
};

std::uint64_t notify_word(const unmap_notify& n) {
  std::optional<std::uint32_t> port;
  if (n.port) port = *n.port;
  return w::pack_notify(n.clear_byte, port);
}

class remote_grant_table final : public grant_table {
 public:
  explicit remote_grant_table(std::shared_ptr<remote_connection> conn) : conn_(std::move(conn)) {}

  result<std::unique_ptr<shared_pages>> share(domid_t peer, std::size_t pages, access peer_access,
                                              unmap_notify notify) override {
    if (pages == 0 || pages > w::max_refs) return fail(errc::invalid_argument);
    if (notify.clear_byte && *notify.clear_byte >= page_size) return fail(errc::invalid_argument);
    auto r = conn_->call(make(w::op::share, 0, peer, pages, peer_access == access::read_write ? 1 : 0, notify_word(notify)));
    if (!r) return fail(r.error());
    auto split = w::decode_share(r->tail);
    if (!split || split->refs.size() != pages) return fail(errc::protocol_error);
    auto view = detail::map_file_pages(conn_->pages_fd(), split->pages, true);
    if (!view) {
      static_cast<void>(conn_->call(make(w::op::unshare, r->head.object)));
      return fail(view.error());
    }
    return std::make_unique<remote_shared_pages>(conn_, r->head.object, peer == domid_self ? conn_->domid() : peer,
                                                 std::move(split->refs), std::move(*view));
  }

  result<std::unique_ptr<mapped_pages>> map(domid_t peer, std::span<const grant_ref_t> refs, access mode,
                                            unmap_notify notify) override {
    if (refs.empty() || refs.size() > w::max_refs) return fail(errc::invalid_argument);
    if (notify.clear_byte && *notify.clear_byte >= page_size) return fail(errc::invalid_argument);
    auto r = conn_->call(make(w::op::map, 0, peer, 0, mode == access::read_write ? 1 : 0, notify_word(notify)), refs);
    if (!r) return fail(r.error());
    if (r->tail.size() != refs.size() * 8) return fail(errc::protocol_error);
    std::vector<detail::page_index> pages(refs.size());
    std::memcpy(pages.data(), r->tail.data(), r->tail.size());
    auto view = detail::map_file_pages(conn_->pages_fd(), pages, mode == access::read_write);
    if (!view) {
      static_cast<void>(conn_->call(make(w::op::unmap, r->head.object)));
      return fail(view.error());
    }
    return std::make_unique<remote_mapped_pages>(conn_, r->head.object, peer == domid_self ? conn_->domid() : peer,
                                                 mode, std::move(*view));
  }

 private:
  std::shared_ptr<remote_connection> conn_;
};

class remote_event_channel_impl final : public remote_event_channel {
 public:
  remote_event_channel_impl(std::shared_ptr<remote_connection> conn, std::uint64_t id, unique_fd efd)
      : conn_(std::move(conn)), id_(id), efd_(std::move(efd)) {}
  ~remote_event_channel_impl() override { static_cast<void>(conn_->call(make(w::op::close_handle, id_))); }

  result<evtchn_port_t> bind_unbound(domid_t remote) override { return port_call(w::op::bind_unbound, remote); }
  result<evtchn_port_t> bind_interdomain(domid_t remote, evtchn_port_t remote_port) override {
    return port_call(w::op::bind_interdomain, remote, remote_port);
  }
  result<evtchn_port_t> bind_virq(std::uint32_t virq) override { return port_call(w::op::bind_virq, virq); }
  result<void> unbind(evtchn_port_t port) override { return void_call(w::op::unbind, port); }
  result<void> notify(evtchn_port_t port) override { return void_call(w::op::notify, port); }
  result<void> mask(evtchn_port_t port) override { return void_call(w::op::mask, port); }
  result<void> unmask(evtchn_port_t port) override { return void_call(w::op::unmask, port); }

  result<port_state> state(evtchn_port_t port) override {
    auto r = port_call(w::op::port_state, port);
    if (!r) return fail(r.error());
    if (*r > static_cast<evtchn_port_t>(port_state::peer_closed)) return fail(errc::protocol_error);
    return static_cast<port_state>(*r);
  }

  result<std::optional<evtchn_port_t>> pending() override { return take(false); }
  result<std::optional<evtchn_port_t>> pending_and_mask() override { return take(true); }
  // Every port that fired, in one round trip (Linux's evtchn device too hands over many per read).
  result<std::size_t> pending_batch(std::span<evtchn_port_t> out) override {
    pollfd p{efd_.get(), POLLIN, 0};
    if (out.empty() || ::poll(&p, 1, 0) == 0) return std::size_t{0};
    const std::size_t want = std::min(out.size(), w::max_pending_batch);
    auto r = conn_->call(make(w::op::pending_batch, id_, want));
    if (!r) return fail(r.error());
    const std::uint64_t n = r->head.v0;
    if (n > want || r->tail.size() != n * sizeof(evtchn_port_t)) return fail(errc::protocol_error);
    std::memcpy(out.data(), r->tail.data(), r->tail.size());
    return static_cast<std::size_t>(n);
  }

  result<evtchn_port_t> wait(std::chrono::milliseconds timeout) override {
    // The host's socket too: if the host dies, its hang-up ends the wait.
    pollfd fds[] = {{efd_.get(), POLLIN, 0}, {conn_->socket(), 0, 0}};
    return wait_for_event([this] { return take(false); }, fds, timeout);
  }

  int fd() const noexcept override { return efd_.get(); }

 private:
  result<evtchn_port_t> port_call(w::op op, std::uint64_t a, std::uint64_t b = 0) {
    auto r = conn_->call(make(op, id_, a, b));
    if (!r) return fail(r.error());
    return static_cast<evtchn_port_t>(r->head.v0);
  }
  result<void> void_call(w::op op, std::uint64_t a) {
    auto r = conn_->call(make(op, id_, a));
    if (!r) return fail(r.error());
    return {};
  }
  result<std::optional<evtchn_port_t>> take(bool and_mask) {
    // The host keeps the eventfd readable exactly while a port of ours is deliverable (it writes
    // it before answering whoever raised the port): a quiet fd saves asking.
    pollfd p{efd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) return std::optional<evtchn_port_t>{};
    auto r = conn_->call(make(w::op::pending, id_, and_mask ? 1 : 0));
    if (!r) return fail(r.error());
    if (r->head.v1 == 0) return std::optional<evtchn_port_t>{};
    return std::optional<evtchn_port_t>{static_cast<evtchn_port_t>(r->head.v0)};
  }

  std::shared_ptr<remote_connection> conn_;
  std::uint64_t id_;
  unique_fd efd_;
};

std::error_code os_error() { return {errno, std::system_category()}; }

}  // namespace

remote_transport::remote_transport(std::shared_ptr<remote_connection> conn)
    : conn_(std::move(conn)), grants_(std::make_unique<remote_grant_table>(conn_)) {}
remote_transport::~remote_transport() = default;

result<std::unique_ptr<remote_transport>> remote_transport::connect(remote_options opts) {
  std::filesystem::path socket = opts.socket.empty() ? default_host_socket() : opts.socket;
  domid_t domid = 0;
  if (opts.domid) {
    domid = *opts.domid;
  } else if (const char* env = std::getenv("XENWIRE_DOMID"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const unsigned long v = std::strtoul(env, &end, 10);
    if (*end != '\0' || v >= domid_first_reserved) return fail(errc::invalid_argument);
    domid = static_cast<domid_t>(v);
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.native().size() >= sizeof addr.sun_path) return fail(errc::invalid_argument);
  std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
  unique_fd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) return fail(os_error());
  for (;;) {
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) break;
    if (errno == EINTR) continue;
    return fail(os_error());
  }
  auto conn = std::make_shared<remote_connection>(std::move(s), domid, unique_fd{});
  auto r = conn->call(make(w::op::hello, 0, domid, opts.mode == membership::owner ? 0 : 1, w::magic));
  if (!r) return fail(r.error());
  const int pages = r->raw.take_fd(0);
  if (pages < 0) return fail(errc::protocol_error);
  conn->adopt_pages(unique_fd(pages));
  return std::unique_ptr<remote_transport>(new remote_transport(std::move(conn)));
}

domid_t remote_transport::self() const noexcept { return conn_->domid(); }
grant_table& remote_transport::grants() noexcept { return *grants_; }
int remote_transport::connection_fd() const noexcept { return conn_->socket(); }

result<std::unique_ptr<event_channel>> remote_transport::open_event_channel() {
  auto h = open_remote_event_channel();
  if (!h) return fail(h.error());
  return std::unique_ptr<event_channel>(std::move(*h));
}

result<std::unique_ptr<remote_event_channel>> remote_transport::open_remote_event_channel(bool keep_across_exec) {
  auto r = conn_->call(make(w::op::open_handle, 0, keep_across_exec ? 1 : 0));
  if (!r) return fail(r.error());
  unique_fd efd(r->raw.take_fd(0));
  if (!efd) return fail(errc::protocol_error);
  // FD_CLOEXEC is per descriptor: clearing it leaves the host's copy alone.
  if (keep_across_exec && ::fcntl(efd.get(), F_SETFD, 0) != 0) return fail(os_error());
  return std::make_unique<remote_event_channel_impl>(conn_, r->head.object, std::move(efd));
}

result<std::unique_ptr<remote_event_channel>> remote_transport::adopt_remote_event_channel(int fd) {
  if (fd < 0) return fail(errc::invalid_argument);
  auto r = conn_->call(make(w::op::adopt_handle), {}, std::span<const int>(&fd, 1));
  if (!r) return fail(r.error());
  return std::make_unique<remote_event_channel_impl>(conn_, r->head.object, unique_fd(fd));
}

result<std::unique_ptr<event_channel>> remote_transport::open_event_channel_for_exec() {
  auto h = open_remote_event_channel(true);
  if (!h) return fail(h.error());
  return std::unique_ptr<event_channel>(std::move(*h));
}

result<std::unique_ptr<event_channel>> remote_transport::adopt_event_channel(int fd) {
  auto h = adopt_remote_event_channel(fd);
  if (!h) return fail(h.error());
  return std::unique_ptr<event_channel>(std::move(*h));
}

result<xenstore_endpoint> remote_transport::take_xenstore() {
  auto r = conn_->call(make(w::op::take_xenstore));
  if (!r) return fail(r.error());
  auto split = w::decode_share(r->tail);
  unique_fd efd(r->raw.take_fd(0));
  if (!split || split->refs.size() != 1 || !efd) return fail(errc::protocol_error);
  auto handle = std::make_unique<remote_event_channel_impl>(conn_, r->head.v2, std::move(efd));
  auto view = detail::map_file_pages(conn_->pages_fd(), split->pages, true);
  if (!view) return fail(view.error());
  xenstore_endpoint ep;
  ep.page = std::make_unique<remote_shared_pages>(conn_, r->head.object, 0, std::move(split->refs), std::move(*view));
  ep.events = std::move(handle);
  ep.port = static_cast<evtchn_port_t>(r->head.v1);
  return ep;
}

result<domain_info> remote_transport::create_domain(domid_t domid, domain_config config) {
  auto r = conn_->call(make(w::op::create_domain, 0, domid, config.xenstore ? 1 : 0, config.xenstore_domid));
  if (!r) return fail(r.error());
  domain_info info;
  info.domid = domid;
  if (r->head.v0 != ~std::uint64_t{0}) {
    info.xenstore_ref = static_cast<grant_ref_t>(r->head.v0);
    info.xenstore_port = static_cast<evtchn_port_t>(r->head.v1);
  }
  return info;
}

result<void> remote_transport::destroy_domain(domid_t domid) {
  auto r = conn_->call(make(w::op::destroy_domain, 0, domid));
  if (!r) return fail(r.error());
  return {};
}

namespace {

result<std::vector<domain_status>> fetch_domains(detail::remote_connection& conn) {
  auto r = conn.call(make(w::op::domains));
  if (!r) return fail(r.error());
  if (r->tail.size() % sizeof(w::domain_entry) != 0) return fail(errc::protocol_error);
  std::vector<domain_status> out;
  for (std::size_t at = 0; at < r->tail.size(); at += sizeof(w::domain_entry)) {
    w::domain_entry e;
    std::memcpy(&e, r->tail.data() + at, sizeof e);
    if (e.state > static_cast<std::uint32_t>(domain_state::dead)) return fail(errc::protocol_error);
    out.push_back({static_cast<domid_t>(e.domid), static_cast<domain_state>(e.state), e.grants, e.ports, e.processes});
  }
  return out;
}

// VIRQ_DOM_EXC on its own handle; states from one `domains` request per consume() (the VIRQ is
// raised on every change, so a list taken after the last consume() is current until the next).
class remote_domain_watch final : public domain_watch {
 public:
  remote_domain_watch(std::shared_ptr<detail::remote_connection> conn, std::unique_ptr<remote_event_channel> events)
      : conn_(std::move(conn)), events_(std::move(events)) {}
  int fd() const noexcept override { return events_->fd(); }
  result<bool> consume() override {
    fresh_ = false;
    return drain_events([this] { return events_->pending(); });
  }
  result<domain_life> life(domid_t domid) override {
    if (!fresh_) {
      auto list = fetch_domains(*conn_);
      if (!list) return fail(list.error());
      known_ = std::move(*list);
      fresh_ = true;
    }
    for (const auto& d : known_) {
      if (d.domid != domid) continue;
      if (d.state == domain_state::alive) return domain_life::running;
      return d.state == domain_state::dying ? domain_life::dying : domain_life::dead;
    }
    return domain_life::dead;
  }

 private:
  std::shared_ptr<detail::remote_connection> conn_;
  std::unique_ptr<remote_event_channel> events_;
  std::vector<domain_status> known_;
  bool fresh_ = false;
};

}  // namespace

result<std::vector<domain_status>> remote_transport::domains() { return fetch_domains(*conn_); }

result<std::unique_ptr<domain_watch>> remote_transport::watch_domains() {
  if (self() != 0) return fail(errc::permission_denied);
  auto events = open_remote_event_channel();
  if (!events) return fail(events.error());
  if (auto port = (*events)->bind_virq(virq_dom_exc); !port) return fail(port.error());
  return std::make_unique<remote_domain_watch>(conn_, std::move(*events));
}

result<std::string> remote_transport::describe() {
  auto r = conn_->call(make(w::op::describe));
  if (!r) return fail(r.error());
  return std::string(reinterpret_cast<const char*>(r->tail.data()), r->tail.size());
}

result<clean_report> remote_transport::shutdown_host() {
  auto r = conn_->call(make(w::op::shutdown));
  if (!r) return fail(r.error());
  std::vector<std::string> leaks;
  std::string text(reinterpret_cast<const char*>(r->tail.data()), r->tail.size());
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t nl = text.find('\n', at);
    const std::size_t end = nl == std::string::npos ? text.size() : nl;
    if (end > at) leaks.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return clean_report(std::move(leaks));
}

}  // namespace xenwire::sim
