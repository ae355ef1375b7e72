#include "xenwire/randomd/server.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "session.hpp"
#include "xenwire/randomd/discovery.hpp"
#include "xenwire/vchan/event_loop.hpp"
#include "xenwire/vchan/xenstore_rendezvous.hpp"
#include "xenwire/xenstore/args.hpp"
#include "xenwire/xenstore/path.hpp"

namespace xenwire::randomd {

namespace {

using namespace std::chrono_literals;
using detail::session;

// A statistic only the loop's thread changes and any thread reads (stats(), serving()): relaxed
// loads and stores, since no other memory is published through it and a reader needs some recent
// value, not an order with anything else; one writer needs no read-modify-write.
class loop_counter {
 public:
  void operator++(int) noexcept { add(1); }
  void operator--(int) noexcept { v_.store(v_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed); }
  void operator+=(std::uint64_t n) noexcept { add(n); }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  void add(std::uint64_t n) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::atomic<std::uint64_t> v_{0};
};

struct counters {
  loop_counter guests_seen, servers_started, connections, requests, served, entropy_bytes, rate_limited, too_large,
      bad_requests, unavailable, bad_nonces, vchan_bytes_in, vchan_bytes_out, dropped_responses, servers_failed,
      guests_released;
};

// A directory entry under /local/domain naming a domain randomd could serve (not a reserved id
// such as DOMID_SELF).
std::optional<domid_t> guest_domid(std::string_view name) noexcept {
  constexpr domid_t domid_first_reserved = 0x7FF0;  // DOMID_FIRST_RESERVED
  auto d = xenstore::parse_domid(name);
  if (!d || *d >= domid_first_reserved) return std::nullopt;
  return *d;
}

}  // namespace

struct server::impl {
  transport* t = nullptr;
  xenstore::client* xs = nullptr;
  server_config cfg;
  domid_t self = 0;
  std::unique_ptr<vchan::xenstore_rendezvous> rdv;
  vchan::poll_set poll;
  xenstore::watch introduce_watch, release_watch;
  std::map<domid_t, std::unique_ptr<session>> sessions;
  // Relaxed (run() and stop()): it orders nothing else, and stop() also writes stop_fd to wake the loop.
  std::atomic<bool> stopping{false};
  int stop_fd = -1;  // an eventfd in `poll`: stop() wakes a sleeping loop through it
  loop_counter serving;  // sessions with a server: read from other threads
  counters n;

  impl(transport& tr, xenstore::client& c, server_config config, vchan::poll_set p)
      : t(&tr), xs(&c), cfg(std::move(config)), self(tr.self()), poll(std::move(p)) {}
  ~impl() {
    if (stop_fd >= 0) ::close(stop_fd);
  }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  void event(domid_t d, std::string_view what) const {
    if (cfg.on_event) cfg.on_event(d, what);
  }

  // --- discovery ------------------------------------------------------------------------------------

  // A watch's events wake the loop at once; drain_watches() consumes them after each wake-up. A
  // watch without an fd is still drained every `watch_poll`.
  void wake_on(const xenstore::watch& w) {
    if (w.fd() >= 0) (void)poll.add_fd(w.fd(), [] {});
  }
  void stop_waking_on(const xenstore::watch& w) {
    if (w.fd() >= 0) (void)poll.remove_fd(w.fd());
  }

  // New introduced domains: start watching their request node.
  void scan_domains() {
    auto names = xs->directory("/local/domain");
    if (!names) return;
    for (const auto& name : *names) {
      auto d = guest_domid(name);
      if (!d || *d == self || sessions.contains(*d)) continue;
      auto introduced = xs->is_domain_introduced(*d);
      if (!introduced || !*introduced) continue;
      if (sessions.size() >= cfg.max_guests) {
        event(*d, "not watched: max_guests reached");
        continue;
      }
      auto w = xs->add_watch(request_path(*d));
      if (!w) continue;
      auto& s = *sessions.emplace(*d, std::make_unique<session>(*d, std::move(*w), cfg.limit, token_bucket::clock::now()))
                     .first->second;
      wake_on(s.request_watch);
      n.guests_seen++;
      prepare_keys_dir(*d);
    }
  }

  // Domains no longer introduced: close their servers and forget them.
  void reap_domains() {
    std::vector<domid_t> gone;
    for (auto& [d, s] : sessions) {
      auto introduced = xs->is_domain_introduced(d);
      if (introduced && !*introduced) gone.push_back(d);
    }
    for (domid_t d : gone) {
      end_session(*sessions.at(d));
      sessions.erase(d);
      n.guests_released++;
      event(d, "released: server closed, keys removed");
    }
  }

  void check_request(session& s) {
    auto value = xs->try_read(request_path(s.domid));
    if (!value) return;  // the domain is going away, or Xenstore trouble: the next event decides
    if (!*value) {
      if (s.ep) {
        close_server(s);
        event(s.domid, "request withdrawn: server closed");
      }
      return;
    }
    auto nonce = parse_nonce(**value);
    if (!nonce) {
      n.bad_nonces++;
      event(s.domid, "malformed request node ignored");
      return;
    }
    if (s.ep && !s.broken) {
      s.nonce = nonce;  // already served: the guest (re)connects to the persistent server
      return;
    }
    // After a failure only a new request (nonce) gets a new server: a guest cannot make us cycle
    // servers faster than it can write fresh requests (which xenstored rate-limits).
    if (s.nonce && *s.nonce == *nonce) return;
    s.nonce = nonce;
    start_server(s);
  }

  void start_server(session& s) {
    if (s.ep) close_server(s);
    vchan::server_config sc{.client = s.domid,
                            .path = keys_path(self, s.domid),
                            .read_min = cfg.read_ring,
                            .write_min = cfg.write_ring,
                            .persistent = true,
                            .io = {.mode = vchan::io_mode::non_blocking}};
    auto ep = vchan::endpoint::serve(*t, *rdv, std::move(sc));
    if (!ep) {
      n.servers_failed++;
      event(s.domid, "cannot serve: " + ep.error().message());
      return;
    }
    s.ep = std::make_unique<vchan::endpoint>(std::move(*ep));
    s.broken = false;
    s.connected = false;
    s.generation = s.ep->published();
    s.reset_connection();
    session* sp = &s;
    if (auto ok = poll.add(*s.ep, [this, sp](vchan::endpoint&, vchan::status st) { on_ready(*sp, st); }); !ok) {
      s.ep.reset();
      n.servers_failed++;
      event(s.domid, "cannot poll: " + ok.error().message());
      return;
    }
    n.servers_started++;
    serving++;
    event(s.domid, "serving over vchan (keys at " + keys_path(self, s.domid) + ")");
  }

  std::string keys_dir(domid_t d) const {
    return xenstore::domain_home(self) + "/data/vchan/" + std::to_string(d);
  }

  // The guest may read the directory its keys will appear in: a guest waiting before they exist
  // then gets ENOENT, not EACCES (xenstored hides absence under an unreadable parent).
  void prepare_keys_dir(domid_t d) {
    if (!xs->mkdir(keys_dir(d))) return;
    (void)xs->set_perms(keys_dir(d), {{self, xenstore::perm::none}, {d, xenstore::perm::read}});
  }

  void close_server(session& s) {
    if (!s.ep) return;
    (void)poll.remove(*s.ep);
    s.ep->close();  // removes the keys
    s.ep.reset();
    serving--;
    if (s.has_output()) n.dropped_responses++;
    s.reset_connection();
    s.connected = false;
    s.busy = false;
    s.broken = false;
  }

  void end_session(session& s) {
    close_server(s);
    stop_waking_on(s.request_watch);
    (void)s.request_watch.unwatch();
    (void)xs->rm(keys_dir(s.domid));  // dom0 owns it: nobody else would remove it
  }

  // --- vchan side -----------------------------------------------------------------------------------

  void on_ready(session& s, vchan::status st) {
    if (st == vchan::status::failed) {
      mark_broken(s);
      return;
    }
    pump(s, st);
  }

  void mark_broken(session& s) {
    if (s.broken) return;
    s.broken = true;
    n.servers_failed++;
    event(s.domid, "vchan failed: " + s.ep->error().message());
  }

  // A persistent server's keys change when it re-arms: whatever was in flight belonged to the
  // client that left.
  void sync_generation(session& s) {
    const auto k = s.ep->published();
    if (k == s.generation) return;
    if (s.has_output()) n.dropped_responses++;
    s.reset_connection();
    s.generation = k;
    if (s.connected) {  // the client left and the server re-armed before we saw the closed state
      s.connected = false;
      event(s.domid, "client left");
    }
  }

  void note_status(session& s, vchan::status st) {
    const bool now = st == vchan::status::connected;
    if (now && !s.connected) {
      n.connections++;
      event(s.domid, "client connected");
    } else if (!now && s.connected) {
      event(s.domid, "client left");
    }
    s.connected = now;
  }

  void pump(session& s, vchan::status st) {
    vchan::endpoint& ep = *s.ep;
    if (st != vchan::status::connected) {
      // The departed client's leftovers: read and drop them while the endpoint is still on that
      // client's channel (closed), which lets it re-arm. Not after: `st` was read before, and by
      // now the next client may have connected and written its first request into the new ring.
      if (s.has_output()) n.dropped_responses++;
      s.reset_connection();
      std::array<std::byte, 256> sink{};
      while (ep.state() == vchan::status::closed) {
        auto r = ep.read(sink);
        if (!r) break;
        n.vchan_bytes_in += *r;
      }
      st = ep.state();
      if (st == vchan::status::failed) {
        mark_broken(s);
        return;
      }
    }
    sync_generation(s);
    note_status(s, st);
    if (st != vchan::status::connected) return;
    unsigned answered = 0;
    for (;;) {
      if (s.has_output()) {
        // write() on a persistent server whose client just left would re-arm and write into the
        // next client's ring: look first.
        const auto now_st = ep.state();
        if (now_st != vchan::status::connected) {
          if (now_st == vchan::status::failed) mark_broken(s);
          n.dropped_responses++;
          s.reset_connection();
          sync_generation(s);
          note_status(s, now_st);
          return;
        }
        auto w = ep.write(std::span<const std::byte>(s.out).subspan(s.out_off));
        if (!w) {
          if (w.error() == errc::would_block) return;  // the guest's read will signal us
          if (w.error() == errc::peer_closed) {
            n.dropped_responses++;
            s.reset_connection();
            return;
          }
          mark_broken(s);
          return;
        }
        n.vchan_bytes_out += *w;
        s.out_off += *w;
        if (s.has_output()) continue;  // non-blocking writes move what fits; try the rest
        s.out.clear();
        s.out_off = 0;
      }
      if (answered >= cfg.requests_per_wakeup) {
        s.busy = true;  // more may be waiting: the loop comes back without waiting for a signal
        return;
      }
      auto r = ep.read(std::span<std::byte>(s.in).subspan(s.in_len));
      if (!r) {
        if (r.error() != errc::would_block && r.error() != errc::peer_closed) mark_broken(s);
        return;
      }
      n.vchan_bytes_in += *r;
      s.in_len += *r;
      if (s.in_len < request_size) continue;
      s.in_len = 0;
      answer(s, decode_request(s.in));
      ++answered;
    }
  }

  void answer(session& s, const request& q) {
    n.requests++;
    const std::uint32_t max_len = std::min(cfg.max_request, cfg.limit.burst);
    response_header h = judge(q, max_len);
    if (h.status == response_status::bad_request) {
      n.bad_requests++;
    } else if (h.status == response_status::too_large) {
      n.too_large++;
    } else if (auto wait = s.bucket.take(q.length, token_bucket::clock::now())) {
      h.status = response_status::rate_limited;
      h.length = 0;
      h.detail = static_cast<std::uint32_t>(wait->count());
      n.rate_limited++;
      event(s.domid, "rate-limited: " + std::to_string(q.length) + " bytes, retry after " +
                         std::to_string(wait->count()) + " ms");
    }
    s.out.resize(response_header_size + h.length);
    if (h.length > 0) {
      auto payload = std::span<std::byte>(s.out).subspan(response_header_size);
      if (auto ok = cfg.source(payload); !ok) {
        h.status = response_status::unavailable;
        h.length = 0;
        s.out.resize(response_header_size);
        n.unavailable++;
      } else {
        n.served++;
        n.entropy_bytes += h.length;
      }
    }
    const auto head = encode(h);
    std::copy(head.begin(), head.end(), s.out.begin());
    s.out_off = 0;
  }

  // --- the loop -------------------------------------------------------------------------------------

  void drain_watches() {
    bool introduced = false, released = false;
    while (introduce_watch.try_next()) introduced = true;
    while (release_watch.try_next()) released = true;
    if (introduced) scan_domains();
    if (released) reap_domains();
    for (auto& [d, s] : sessions) {
      bool changed = false;
      while (s->request_watch.try_next()) changed = true;
      if (changed) check_request(*s);
    }
  }

  void close_broken() {
    for (auto& [d, s] : sessions)
      if (s->broken && s->ep) {
        close_server(*s);
        s->broken = false;
      }
  }

  result<void> step(std::chrono::milliseconds max_wait) {
    const bool busy = std::any_of(sessions.begin(), sessions.end(), [](auto& kv) { return kv.second->busy; });
    auto woke = poll.run_once(busy ? 0ms : max_wait);
    if (!woke) return fail(woke.error());
    for (auto& [d, s] : sessions) {
      if (!s->busy || !s->ep || s->broken) continue;
      s->busy = false;
      pump(*s, s->ep->state());
    }
    close_broken();
    drain_watches();
    close_broken();
    if (auto f = xs->failure()) return fail(vchan::to_error_code(*f));
    return {};
  }

  void shutdown() {
    if (stop_fd >= 0) (void)poll.remove_fd(stop_fd);
    for (auto& [d, s] : sessions) end_session(*s);
    sessions.clear();
    stop_waking_on(introduce_watch);
    stop_waking_on(release_watch);
    (void)introduce_watch.unwatch();
    (void)release_watch.unwatch();
  }
};

result<std::unique_ptr<server>> server::create(transport& t, xenstore::client& xs, server_config cfg) {
  if (cfg.max_request == 0 || cfg.limit.burst == 0 || cfg.requests_per_wakeup == 0) return fail(errc::invalid_argument);
  if (!cfg.source) cfg.source = system_entropy;
  auto poll = vchan::poll_set::create();
  if (!poll) return fail(poll.error());
  auto m = std::make_unique<impl>(t, xs, std::move(cfg), std::move(*poll));
  m->rdv = std::make_unique<vchan::xenstore_rendezvous>(xs);
  auto intro = xs.add_watch("@introduceDomain");
  if (!intro) return fail(vchan::to_error_code(intro.error()));
  auto rel = xs.add_watch("@releaseDomain");
  if (!rel) return fail(vchan::to_error_code(rel.error()));
  m->introduce_watch = std::move(*intro);
  m->release_watch = std::move(*rel);
  m->wake_on(m->introduce_watch);
  m->wake_on(m->release_watch);
  m->stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m->stop_fd >= 0) (void)m->poll.add_fd(m->stop_fd, [] {});  // never drained: stopping ends the loop
  // Domains introduced before we started (the watches' initial events would trigger this too).
  m->scan_domains();
  return std::unique_ptr<server>(new server(std::move(m)));
}

server::server(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
server::~server() {
  if (impl_) impl_->shutdown();
}

result<void> server::run() {
  while (!impl_->stopping.load(std::memory_order_relaxed)) {
    if (auto ok = impl_->step(impl_->cfg.watch_poll); !ok) return ok;
  }
  return {};
}

result<void> server::step(std::chrono::milliseconds max_wait) { return impl_->step(max_wait); }

void server::stop() noexcept {
  impl_->stopping.store(true, std::memory_order_relaxed);
  if (impl_->stop_fd >= 0) {
    const std::uint64_t one = 1;
    (void)!::write(impl_->stop_fd, &one, sizeof one);
  }
}

std::size_t server::serving() const noexcept { return static_cast<std::size_t>(impl_->serving.get()); }

server_stats server::stats() const noexcept {
  const counters& c = impl_->n;
  server_stats s;
  s.guests_seen = c.guests_seen.get();
  s.servers_started = c.servers_started.get();
  s.connections = c.connections.get();
  s.requests = c.requests.get();
  s.served = c.served.get();
  s.entropy_bytes = c.entropy_bytes.get();
  s.rate_limited = c.rate_limited.get();
  s.too_large = c.too_large.get();
  s.bad_requests = c.bad_requests.get();
  s.unavailable = c.unavailable.get();
  s.bad_nonces = c.bad_nonces.get();
  s.vchan_bytes_in = c.vchan_bytes_in.get();
  s.vchan_bytes_out = c.vchan_bytes_out.get();
  s.dropped_responses = c.dropped_responses.get();
  s.servers_failed = c.servers_failed.get();
  s.guests_released = c.guests_released.get();
  return s;
}

}  // namespace xenwire::randomd
