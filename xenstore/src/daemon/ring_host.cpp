#include "daemon/ring_host.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <string>

namespace xenwire::xenstore {
namespace {

std::string who(domid_t domid, conn_id conn) {
  return "domain " + std::to_string(domid) + " (conn " + std::to_string(conn) + ")";
}

}  // namespace

struct ring_host::ring_conn {
  domid_t domid;
  conn_id id;
  evtchn_port_t port;  // our local end
  std::shared_ptr<mapped_pages> page;  // shared only for adopt()'s page, handed over in settings
  xenstore::server_ring ring;
  // Input read off the ring that the core has not taken yet: one ring's worth, or what a live
  // update handed over.
  std::vector<std::byte> pending;
  std::size_t pending_off = 0;
  std::size_t pending_len = 0;
  bool must_notify = false;
  bool active = false;  // listed in ring_host::active_
  std::optional<message_tracer> trace_in;
  std::optional<message_tracer> trace_out;

  bool paused() const noexcept { return pending_off < pending_len; }
};

ring_host::ring_host(transport& t, event_loop& loop, server_core& core, say_fn say, const trace_sink& trace)
    : transport_(t), loop_(loop), core_(core), say_(std::move(say)), trace_(trace) {}

ring_host::~ring_host() {
  if (evtchn_) loop_.remove(evtchn_->fd());
  if (domains_) loop_.remove(domains_->fd());
}

void ring_host::start_domain_watch() {
  auto w = transport_.watch_domains();
  if (!w) {
    say_(log_level::warn, "no domain lifecycle events (VIRQ_DOM_EXC: " + w.error().message() +
                              "): a domain that dies is released only if its event channel reports it");
    return;
  }
  if (auto r = loop_.add((*w)->fd(), EPOLLIN, [this](std::uint32_t) { on_domain_exc(clock::now()); }); !r) {
    say_(log_level::error, "watching VIRQ_DOM_EXC: " + r.error().message());
    return;
  }
  domains_ = std::move(*w);
  say_(log_level::info, "watching domain lifecycle (VIRQ_DOM_EXC)");
}

void ring_host::on_domain_exc(time_point now) {
  if (auto fired = domains_->consume(); !fired) {
    say_(log_level::error, "VIRQ_DOM_EXC: " + fired.error().message());
    return;
  }
  // Every introduced domain, not only those with a ring: one whose ring we dropped (a hostile
  // guest) stays introduced until it dies, and must then be released too.
  for (const domid_t domid : core_.introduced_domains()) {
    if (domid == transport_.self()) continue;  // our own ring lives as long as we do
    auto life = domains_->life(domid);
    if (!life) {
      say_(log_level::warn, "state of domain " + std::to_string(domid) + ": " + life.error().message());
      continue;
    }
    switch (*life) {
      case domain_life::running:
        break;
      case domain_life::shutdown:
        core_.domain_shutdown(domid, now);
        break;
      case domain_life::dying:
      case domain_life::dead:
        say_(log_level::info, "domain " + std::to_string(domid) + " is " + to_string(*life) + ": releasing it");
        core_.domain_died(domid, now);
        break;
    }
  }
}

result<void> ring_host::ensure_event_channel() {
  if (evtchn_) return {};
  // For exec where the backend can: a live update then keeps every domain's port bound.
  auto ch = transport_.open_event_channel_for_exec();
  evtchn_survives_exec_ = ch.has_value();
  if (!ch && ch.error() == make_error_code(errc::not_supported)) ch = transport_.open_event_channel();
  if (!ch) return fail(ch.error());
  evtchn_ = std::move(*ch);
  return watch_event_channel();
}

// One handle for every domain: a single fd in epoll, pending() says which port fired.
result<void> ring_host::watch_event_channel() {
  return loop_.add(evtchn_->fd(), EPOLLIN, [this](std::uint32_t) { on_events(clock::now()); });
}

std::optional<int> ring_host::exec_event_fd() const noexcept {
  if (!evtchn_ || !evtchn_survives_exec_) return std::nullopt;
  return evtchn_->fd();
}

std::optional<evtchn_port_t> ring_host::local_port(conn_id conn) const {
  auto it = rings_.find(conn);
  if (it == rings_.end()) return std::nullopt;
  return it->second->port;
}

std::string_view ring_host::held_input(conn_id conn) const {
  auto it = rings_.find(conn);
  if (it == rings_.end() || !it->second->paused()) return {};
  const ring_conn& rc = *it->second;
  return {reinterpret_cast<const char*>(rc.pending.data()) + rc.pending_off, rc.pending_len - rc.pending_off};
}

result<void> ring_host::adopt_event_channel(int fd) {
  if (evtchn_) return fail(errc::invalid_argument);
  auto ch = transport_.adopt_event_channel(fd);
  if (!ch) return fail(ch.error());
  evtchn_ = std::move(*ch);
  evtchn_survives_exec_ = true;
  return watch_event_channel();
}

result<void> ring_host::restore(conn_id conn, domid_t domid, std::shared_ptr<mapped_pages> page,
                                evtchn_port_t local_port, std::string_view held) {
  if (!evtchn_ || by_port_.contains(local_port) || rings_.contains(conn)) return fail(errc::invalid_argument);
  auto ring = xenstore::server_ring::attach(page->bytes(), core_.config().ring_features);
  if (!ring) return fail(ring.error());
  ring_conn& rc = add_ring(domid, conn, local_port, std::move(page), *ring);
  if (held.size() > rc.pending.size()) rc.pending.resize(held.size());
  std::memcpy(rc.pending.data(), held.data(), held.size());
  rc.pending_off = 0;
  rc.pending_len = held.size();
  say_(log_level::info, "live update: serving " + who(domid, conn) + " again on port " + std::to_string(local_port));
  return {};
}

// The new connection is served on the next settle (requests may be waiting) and its guest woken,
// as C xenstored does on INTRODUCE.
ring_host::ring_conn& ring_host::add_ring(domid_t domid, conn_id id, evtchn_port_t port,
                                          std::shared_ptr<mapped_pages> page, server_ring ring) {
  auto rc = std::unique_ptr<ring_conn>(new ring_conn{domid, id, port, std::move(page), ring,
                                                     std::vector<std::byte>(xenstore::ring_size), 0, 0, true, false, {}, {}});
  if (trace_) {
    rc->trace_in.emplace("conn " + std::to_string(id) + " <");
    rc->trace_out.emplace("conn " + std::to_string(id) + " >");
  }
  by_port_[port] = id;
  ring_conn& added = *rings_.emplace(id, std::move(rc)).first->second;
  mark_active(added);  // must_notify
  return added;
}

void ring_host::introduce(const effect::introduce_domain& in, time_point now) {
  const domid_t domid = in.domid;
  auto refuse = [&](std::error_code why) { (void)core_.complete_introduce(in.token, fail(why), now); };
  // The page is found through the reserved grant (as C xenstored does with xengnttab), not the gfn.
  if (auto r = ensure_event_channel(); !r) return refuse(r.error());
  const grant_ref_t ref = gnttab_reserved_xenstore;
  auto page = transport_.grants().map(domid, std::span<const grant_ref_t>(&ref, 1), access::read_write);
  if (!page) {
    say_(log_level::warn, "INTRODUCE domain " + std::to_string(domid) + ": mapping its page: " + page.error().message());
    return refuse(page.error());
  }
  auto ring = xenstore::server_ring::attach((*page)->bytes(), core_.config().ring_features);
  if (!ring) return refuse(ring.error());
  // Xen 4.21+ (xs_wire.h): a non-zero evtchn_port in the page, filled in by Xen for dom0less and
  // Hyperlaunch domains, is the domain's port to bind, in place of INTRODUCE's (C xenstored's
  // introduce_domain). Read once; a guest can only name one of its own ports.
  evtchn_port_t remote_port = in.port;
  {
    auto* iface = static_cast<xenstore::domain_interface*>(static_cast<void*>((*page)->bytes().data()));
    const std::uint32_t page_port = std::atomic_ref<std::uint32_t>(iface->evtchn_port).load(std::memory_order_acquire);
    if (page_port != 0) remote_port = page_port;
  }
  auto port = evtchn_->bind_interdomain(domid, remote_port);
  if (!port) {
    say_(log_level::warn, "INTRODUCE domain " + std::to_string(domid) + ": binding port " +
                              std::to_string(remote_port) + ": " + port.error().message());
    return refuse(port.error());
  }
  auto opened = core_.complete_introduce(in.token, {}, now);
  if (!opened) {  // the domain went away meanwhile: undo (the page is unmapped as `page` goes)
    say_(log_level::info, "INTRODUCE domain " + std::to_string(domid) + " abandoned: " + opened.error().message());
    (void)evtchn_->unbind(*port);
    return;
  }
  const conn_id id = *opened;
  add_ring(domid, id, *port, std::move(*page), *ring);
  say_(log_level::info, "introduced " + who(domid, id) + " on port " + std::to_string(*port));
}

result<conn_id> ring_host::adopt(domid_t domid, std::shared_ptr<mapped_pages> page, evtchn_port_t remote_port,
                                 time_point now) {
  if (auto r = ensure_event_channel(); !r) return fail(r.error());
  auto ring = xenstore::server_ring::attach(page->bytes(), core_.config().ring_features);
  if (!ring) return fail(ring.error());
  auto port = evtchn_->bind_interdomain(domid, remote_port);
  if (!port) return fail(port.error());
  const conn_id id = core_.open({.kind = conn_kind::ring, .domid = domid, .read_only = false}, now);
  add_ring(domid, id, *port, std::move(page), *ring);
  say_(log_level::info, "serving " + who(domid, id) + "'s own ring (its kernel's xenbus page) on port " +
                            std::to_string(*port));
  return id;
}

void ring_host::teardown(conn_id conn) {
  auto it = rings_.find(conn);
  if (it == rings_.end()) return;
  ring_conn& rc = *it->second;
  by_port_.erase(rc.port);
  if (evtchn_) {
    if (auto r = evtchn_->unbind(rc.port); !r)
      say_(log_level::warn, "unbinding port of " + who(rc.domid, conn) + ": " + r.error().message());
  }
  rings_.erase(it);  // unmaps the page
  closing_.insert(conn);
}

void ring_host::release(domid_t domid, conn_id conn) {
  say_(log_level::info, "released " + who(domid, conn));
  teardown(conn);
}

bool ring_host::owns(conn_id conn) const { return rings_.contains(conn) || closing_.contains(conn); }

void ring_host::drop(conn_id conn, drop_reason why, time_point now) {
  if (auto it = rings_.find(conn); it != rings_.end()) {
    ring_conn& rc = *it->second;
    if (why == drop_reason::protocol_error) {
      rc.ring.stop(xenstore::ring_error::proto);
      if (evtchn_) (void)evtchn_->notify(rc.port);
    }
    say_(why == drop_reason::released ? log_level::info : log_level::warn,
         "dropping " + who(rc.domid, conn) +
             (why == drop_reason::protocol_error ? ": protocol error"
              : why == drop_reason::quota        ? ": over quota"
                                                 : ": released"));
    teardown(conn);
  }
  if (closing_.erase(conn) > 0) core_.close(conn, now);
}

void ring_host::close_all(time_point now) {
  while (!rings_.empty()) {
    const conn_id id = rings_.begin()->first;
    teardown(id);
  }
  for (conn_id id : closing_) core_.close(id, now);
  closing_.clear();
}

void ring_host::on_events(time_point now) {
  if (!evtchn_) return;
  // Every port that fired, taken in one batch (one round trip where each pending() costs one).
  std::array<evtchn_port_t, 64> fired{};
  for (;;) {
    auto n = evtchn_->pending_batch(fired);
    if (!n) {
      say_(log_level::error, "event channel: " + n.error().message());
      return;
    }
    if (*n == 0) return;
    for (const evtchn_port_t port : std::span(fired).first(*n)) on_port(port, now);
  }
}

void ring_host::on_port(evtchn_port_t port, time_point now) {
  auto it = by_port_.find(port);
  if (it == by_port_.end()) return;
  auto rc = rings_.find(it->second);
  if (rc == rings_.end()) return;
  // Without a domain watch: the domain's end of the channel is gone, so it died (or tore down
  // its xenstore connection, which only a dying domain does). Release it as on VIRQ_DOM_EXC.
  if (auto st = domains_ ? result<port_state>(port_state::connected) : evtchn_->state(port);
      st && *st == port_state::peer_closed) {
    const domid_t domid = rc->second->domid;
    say_(log_level::info, "domain " + std::to_string(domid) + " closed its event channel: releasing it");
    core_.domain_died(domid, now);
    return;
  }
  const conn_id id = rc->second->id;
  service(*rc->second, now);
  // Input held back by quotas, or output the ring had no room for: settle() retries.
  if (auto again = rings_.find(id); again != rings_.end() && needs_service(*again->second))
    mark_active(*again->second);
}

void ring_host::fail_ring(ring_conn& rc, std::error_code why, time_point now) {
  // server_ring already wrote error = RINGIDX for corrupt indices; the core refusing the input is
  // a protocol violation (PROTO); anything else stops the ring as COMM.
  if (rc.ring.stopped() == xenstore::ring_error::none)
    rc.ring.stop(why == errc::protocol_error ? xenstore::ring_error::proto : xenstore::ring_error::comm);
  if (evtchn_) (void)evtchn_->notify(rc.port);
  say_(log_level::warn, "dropping " + who(rc.domid, rc.id) + ": " + why.message());
  const conn_id id = rc.id;
  teardown(id);  // rc is gone from here on
  closing_.erase(id);
  core_.close(id, now);
}

void ring_host::service(ring_conn& rc, time_point now) {
  if (rc.ring.handle_reconnect()) {
    say_(log_level::info, "reconnect of " + who(rc.domid, rc.id));
    core_.reset(rc.id, now);
    rc.pending_off = rc.pending_len = 0;
    if (trace_) {
      rc.trace_in.emplace("conn " + std::to_string(rc.id) + " <");
      rc.trace_out.emplace("conn " + std::to_string(rc.id) + " >");
    }
    rc.must_notify = true;
  }
  const conn_id id = rc.id;
  pump_input(rc, now);
  if (!rings_.contains(id)) return;
  pump_output(rc, now);
}

void ring_host::pump_input(ring_conn& rc, time_point now) {
  for (;;) {
    if (rc.paused()) {
      if (!core_.wants_input(rc.id, now)) return;
      const auto rest = std::span<const std::byte>(rc.pending).subspan(rc.pending_off, rc.pending_len - rc.pending_off);
      auto taken = core_.feed(rc.id, rest, now);
      if (!taken) return fail_ring(rc, taken.error(), now);
      if (rc.trace_in && trace_) rc.trace_in->feed(rest.first(*taken), trace_);
      rc.pending_off += *taken;
      if (rc.paused()) return;
    }
    auto got = rc.ring.read(rc.pending);
    if (!got) {
      if (got.error() == errc::would_block) return;  // a reconnect is under way
      return fail_ring(rc, got.error(), now);
    }
    rc.must_notify = rc.must_notify || got->notify;
    if (got->bytes == 0) return;
    rc.pending_off = 0;
    rc.pending_len = got->bytes;
  }
}

void ring_host::pump_output(ring_conn& rc, time_point now) {
  while (core_.has_output(rc.id)) {
    const auto out = core_.peek_output(rc.id);
    if (out.empty()) break;
    auto put = rc.ring.write(out);
    if (!put) {
      if (put.error() == errc::would_block) break;
      return fail_ring(rc, put.error(), now);
    }
    rc.must_notify = rc.must_notify || put->notify;
    if (put->bytes == 0) break;  // ring full: the guest signals when it has read
    if (rc.trace_out && trace_) rc.trace_out->feed(out.first(put->bytes), trace_);
    core_.consume_output(rc.id, put->bytes, now);
  }
  if (rc.must_notify && evtchn_) {
    rc.must_notify = false;
    if (auto r = evtchn_->notify(rc.port); !r)
      say_(log_level::debug, "notify " + who(rc.domid, rc.id) + ": " + r.error().message());
  }
}

bool ring_host::needs_service(const ring_conn& rc) const {
  return rc.paused() || rc.must_notify || core_.has_output(rc.id);
}

void ring_host::mark_active(ring_conn& rc) {
  if (rc.active) return;
  rc.active = true;
  active_.push_back(rc.id);
}

void ring_host::settle(time_point now, bool& progressed, std::span<const conn_id> ready) {
  for (conn_id id : ready)
    if (auto it = rings_.find(id); it != rings_.end()) mark_active(*it->second);
  // Take the list first: servicing may drop connections, and marks rings still busy for next time.
  std::vector<conn_id>& ids = settle_ids_;
  ids.clear();
  ids.swap(active_);
  for (conn_id id : ids) {
    auto it = rings_.find(id);
    if (it == rings_.end()) continue;  // closed meanwhile
    ring_conn& rc = *it->second;
    rc.active = false;
    if (!needs_service(rc)) continue;
    const bool held = rc.paused();
    service(rc, now);
    auto again = rings_.find(id);
    if (again == rings_.end()) {
      progressed = progressed || held;
      continue;
    }
    if (held && !again->second->paused()) progressed = true;
    // Still held back or out of ring space: visited again on the next settle, as before.
    if (needs_service(*again->second)) mark_active(*again->second);
  }
}

}  // namespace xenwire::xenstore
