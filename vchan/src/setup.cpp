// Setting up and tearing down a vchan, in libxenvchan's order (tools/libs/vchan/init.c).
#include <algorithm>
#include <cstddef>
#include <tuple>

#include "endpoint_impl.hpp"
#include "xenwire/ring/shared_memory.hpp"

namespace xenwire::vchan {

namespace {

using vchan::interface;

std::span<std::byte> ring_span(std::span<std::byte> page, const vchan::ring_place& place,
                               std::span<std::byte> granted) noexcept {
  return place.in_page() ? vchan::in_page_ring(page, place) : granted.first(place.bytes());
}

}  // namespace

result<void> endpoint::impl::server_setup() {
  auto planned = vchan::server_plan(read_min, write_min);
  if (!planned) return fail(planned.error());
  plan = *planned;

  if (!events) {
    auto ev = t->open_event_channel();
    if (!ev) return fail(ev.error());
    events = std::move(*ev);
  }
  auto p = events->bind_unbound(peer);
  if (!p) return fail(p.error());
  port = *p;
  port_bound = true;
  port_closed = false;

  // The control page, with unmap-notify clearing srv_live and signalling the client if we vanish.
  auto ctl = t->grants().share(peer, 1, access::read_write,
                               {.clear_byte = offsetof(interface, srv_live), .port = port});
  if (!ctl) return fail(ctl.error());
  ctl_share = std::move(*ctl);
  page = ctl_share->bytes();

  // Ring pages (libxenvchan shares both writable; the client maps its read ring read-only).
  grants.clear();
  for (auto [place, pages] : {std::pair{&plan.left, &left_share}, std::pair{&plan.right, &right_share}}) {
    if (place->in_page()) continue;
    auto shared = t->grants().share(peer, place->grant_count, access::read_write);
    if (!shared) return fail(shared.error());
    *pages = std::move(*shared);
    grants.insert(grants.end(), (*pages)->refs().begin(), (*pages)->refs().end());
  }
  if (auto ok = vchan::init_control_page(page, plan, grants); !ok) return fail(ok.error());

  if (auto ok = attach({ring_span(page, plan.left, left_share ? left_share->bytes() : std::span<std::byte>{}),
                        ring_span(page, plan.right, right_share ? right_share->bytes() : std::span<std::byte>{})});
      !ok) {
    return fail(ok.error());
  }

  pub = keys{ctl_share->refs().front(), port};
  if (auto ok = rdv->publish(path, t->self(), peer, pub); !ok) return fail(ok.error());
  published = true;
  st = status::waiting;
  return {};
}

result<void> endpoint::impl::client_setup(const keys& k) {
  const grant_ref_t ctl_ref = k.ring_ref;
  {
    // Probe before binding (libxenvchan binds first): stale keys from a closed or re-armed server
    // may name a port number that is now a newer channel's, and binding then unbinding it would
    // break that channel. The server cannot observe this read-only look.
    auto probe = t->grants().map(peer, std::span(&ctl_ref, 1), access::read_only);
    if (!probe) return fail(probe.error());
    const auto bytes = std::as_bytes((*probe)->bytes());
    if (bytes.size() < page_size) return fail(errc::protocol_error);
    // Relaxed: a hint only; the decisive check is repeated on the real mapping below.
    const auto cli = shm::load_relaxed(shm::field<std::uint8_t>(bytes, offsetof(interface, cli_live)));
    if (cli != static_cast<std::uint8_t>(vchan::live::not_yet_connected)) {
      return fail(cli > 2 ? errc::protocol_error : errc::peer_closed);
    }
  }
  auto ev = t->open_event_channel();
  if (!ev) return fail(ev.error());
  events = std::move(*ev);
  auto p = events->bind_interdomain(peer, k.port);
  if (!p) return fail(p.error());
  port = *p;
  port_bound = true;

  auto ctl = t->grants().map(peer, std::span(&ctl_ref, 1), access::read_write,
                             {.clear_byte = offsetof(interface, cli_live), .port = port});
  if (!ctl) return fail(ctl.error());
  ctl_map = std::move(*ctl);
  page = ctl_map->bytes();
  if (page.size() < page_size) return fail(errc::protocol_error);

  // A page some client already took (cli_live 1 or 0) is stale: a closed or re-armed server's.
  // Acquire: pairs with the server's release of srv_live = 0 when it closes.
  const auto cli = shm::load_acquire(shm::field<std::uint8_t>(page, offsetof(interface, cli_live)));
  const auto srv = shm::load_acquire(shm::field<std::uint8_t>(page, offsetof(interface, srv_live)));
  if (cli > 2 || srv > 1) return fail(errc::protocol_error);
  if (cli != static_cast<std::uint8_t>(vchan::live::not_yet_connected) || srv == 0) {
    return fail(errc::peer_closed);
  }

  auto planned = vchan::read_plan(page);
  if (!planned) return fail(planned.error());
  plan = *planned;
  auto left_refs = vchan::read_grants(page, plan.left);
  auto right_refs = vchan::read_grants(page, plan.right);
  grants = left_refs;
  grants.insert(grants.end(), right_refs.begin(), right_refs.end());
  // Every ring page must be a distinct page that is not the control page: otherwise one ring would
  // alias the other (or the indices) and the stream would corrupt itself.
  auto sorted = grants;
  sorted.push_back(ctl_ref);
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return fail(errc::protocol_error);

  // The ring we read is mapped read-only: we never write the peer's data.
  const vchan::ring_place& read_place = vchan::read_side(who, plan.left, plan.right);
  for (auto [place, refs, pages] : {std::tuple{&plan.left, &left_refs, &left_map},
                                    std::tuple{&plan.right, &right_refs, &right_map}}) {
    if (place->in_page()) continue;
    auto m = t->grants().map(peer, *refs, place == &read_place ? access::read_only : access::read_write);
    if (!m) return fail(m.error());
    *pages = std::move(*m);
  }
  if (auto ok = attach({ring_span(page, plan.left, left_map ? left_map->bytes() : std::span<std::byte>{}),
                        ring_span(page, plan.right, right_map ? right_map->bytes() : std::span<std::byte>{})});
      !ok) {
    return fail(ok.error());
  }

  s->set_live(vchan::live::connected);
  s->request_notify(vchan::notify_write);  // libxenvchan: srv_notify = VCHAN_NOTIFY_WRITE
  st = status::connected;
  if (auto ok = events->notify(port); !ok && ok.error() != errc::peer_closed) return fail(ok.error());
  return {};
}

result<void> endpoint::impl::attach(vchan::ring_data rings) noexcept {
  auto attached = vchan::stream::attach(who, page, rings);
  if (!attached) return fail(attached.error());
  s.emplace(*attached);
  return {};
}

void endpoint::impl::detach() noexcept {
  if (s) s->set_live(vchan::live::closed);
  s.reset();
}

void endpoint::impl::teardown() noexcept {
  detach();
  // Rings first, then the control page (its unmap-notify clears our live byte and signals).
  left_map.reset();
  right_map.reset();
  left_share.reset();
  right_share.reset();
  ctl_map.reset();
  ctl_share.reset();
  page = {};
  if (events && port_bound) {
    (void)events->notify(port);  // the peer may be gone already: nothing to tell then
    (void)events->unbind(port);
  }
  port_bound = false;
}

result<void> endpoint::impl::rearm() {
  // Tell the old client we are gone, but set up the new channel before releasing the old one: the
  // new port and ref then differ from the old, so a client still holding the old keys cannot bind
  // the new port by its number and break it. Until the new keys replace the old ones (one
  // transaction), a client reading the old keys finds them stale and waits for the next publish.
  detach();
  auto old_ctl = std::move(ctl_share), old_left = std::move(left_share), old_right = std::move(right_share);
  const evtchn_port_t old_port = port;
  const bool old_bound = port_bound;
  port_bound = false;
  page = {};
  auto ok = server_setup();
  old_left.reset();
  old_right.reset();
  old_ctl.reset();
  if (old_bound) {
    (void)events->notify(old_port);
    (void)events->unbind(old_port);
  }
  if (!ok) {
    teardown();
    return fail(fail_with(ok.error()));
  }
  return {};
}

// --- endpoint construction ------------------------------------------------------------------------

endpoint::endpoint(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
endpoint::endpoint(endpoint&&) noexcept = default;
endpoint& endpoint::operator=(endpoint&& o) noexcept {
  if (this != &o) {
    close();
    impl_ = std::move(o.impl_);
  }
  return *this;
}
endpoint::~endpoint() { close(); }

result<endpoint> endpoint::serve(transport& t, rendezvous& r, server_config cfg) {
  if (cfg.path.empty()) return fail(errc::invalid_argument);
  auto m = std::make_unique<impl>();
  m->t = &t;
  m->who = side::server;
  m->peer = cfg.client;
  m->io = cfg.io;
  m->rdv = &r;
  m->path = std::move(cfg.path);
  m->read_min = cfg.read_min;
  m->write_min = cfg.write_min;
  m->persistent = cfg.persistent;
  if (auto ok = m->server_setup(); !ok) {
    m->teardown();
    if (m->published) (void)r.remove(m->path);
    return fail(ok.error());
  }
  return endpoint(std::move(m));
}

result<endpoint> endpoint::connect(transport& t, const keys& k, client_config cfg) {
  auto m = std::make_unique<impl>();
  m->t = &t;
  m->who = side::client;
  m->peer = cfg.server;
  m->io = cfg.io;
  m->path = std::move(cfg.path);
  if (auto ok = m->client_setup(k); !ok) {
    m->teardown();
    return fail(ok.error());
  }
  return endpoint(std::move(m));
}

result<endpoint> endpoint::connect(transport& t, rendezvous& r, client_config cfg) {
  auto k = r.read(cfg.path);
  if (!k) return fail(k.error());
  if (!*k) return fail(errc::would_block);
  return connect(t, **k, std::move(cfg));
}

void endpoint::close() noexcept {
  if (!impl_ || impl_->shut) return;
  impl_->teardown();
  impl_->events.reset();
  if (impl_->who == side::server && impl_->published) (void)impl_->rdv->remove(impl_->path);
  impl_->published = false;
  impl_->shut = true;
  if (impl_->st != status::failed) impl_->st = status::closed;
}

side endpoint::role() const noexcept { return impl_ ? impl_->who : side::server; }
domid_t endpoint::peer() const noexcept { return impl_ ? impl_->peer : 0; }
std::size_t endpoint::read_ring_size() const noexcept {
  if (!impl_) return 0;
  return vchan::read_side(impl_->who, impl_->plan.left, impl_->plan.right).bytes();
}
std::size_t endpoint::write_ring_size() const noexcept {
  if (!impl_) return 0;
  return vchan::write_side(impl_->who, impl_->plan.left, impl_->plan.right).bytes();
}
keys endpoint::published() const noexcept { return impl_ ? impl_->pub : keys{}; }
const io_options& endpoint::io() const noexcept {
  static const io_options none{};
  return impl_ ? impl_->io : none;
}
void endpoint::set_io(const io_options& io) noexcept {
  if (impl_) impl_->io = io;
}
std::error_code endpoint::error() const noexcept { return impl_ ? impl_->err : make_error_code(errc::invalid_argument); }
int endpoint::fd() const noexcept { return impl_ && impl_->events ? impl_->events->fd() : -1; }

const char* to_string(status s) noexcept {
  switch (s) {
    case status::waiting: return "waiting";
    case status::connected: return "connected";
    case status::closed: return "closed";
    case status::failed: return "failed";
  }
  return "?";
}

}  // namespace xenwire::vchan
