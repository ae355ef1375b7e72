#include "xenwire/ring/xenstore_ring.hpp"

#include <utility>

#include "xenwire/ring/shared_memory.hpp"

namespace xenwire::xenstore {
namespace {

result<domain_interface*> as_page(std::span<std::byte> page) noexcept {
  if (page.size() < sizeof(domain_interface)) return fail(errc::invalid_argument);
  if (reinterpret_cast<std::uintptr_t>(page.data()) % alignof(domain_interface) != 0) {
    return fail(errc::invalid_argument);
  }
  return static_cast<domain_interface*>(static_cast<void*>(page.data()));
}

std::span<std::byte> bytes_of(char (&area)[ring_size]) noexcept {
  return {static_cast<std::byte*>(static_cast<void*>(area)), ring_size};
}

std::uint32_t raw(connection_state s) noexcept { return static_cast<std::uint32_t>(s); }

// Maps a view's result to a transfer that asks for a signal whenever an index moved.
result<transfer> moved(result<std::size_t> n) noexcept {
  if (!n) return fail(n.error());
  return transfer{*n, *n > 0};
}

}  // namespace

std::error_code to_error_code(ring_error e) noexcept {
  switch (e) {
    case ring_error::none: return {};
    case ring_error::ringidx: return make_error_code(errc::ring_corrupt);
    case ring_error::proto: return make_error_code(errc::protocol_error);
    case ring_error::comm: break;
  }
  return make_error_code(errc::peer_closed);
}

// ---- guest ----

guest_ring::guest_ring(std::span<std::byte> page, byte_ring_producer req, byte_ring_consumer rsp) noexcept
    : page_(static_cast<domain_interface*>(static_cast<void*>(page.data()))), req_(req), rsp_(rsp) {}

result<guest_ring> guest_ring::attach(std::span<std::byte> page) noexcept {
  auto p = as_page(page);
  if (!p) return fail(p.error());
  domain_interface& d = **p;
  auto req = byte_ring_producer::attach(&d.req_prod, &d.req_cons, bytes_of(d.req));
  auto rsp = byte_ring_consumer::attach(&d.rsp_cons, &d.rsp_prod, bytes_of(d.rsp));
  if (!req) return fail(req.error());
  if (!rsp) return fail(rsp.error());
  return guest_ring(page, *req, *rsp);
}

bool guest_ring::reconnected() noexcept {
  // Pairs with the server's release store of connection = connected in handle_reconnect(): once we
  // see it, the reset indices and cleared error are visible too.
  const std::uint32_t state = shm::load_acquire(&page_->connection);
  if (state != raw(connection_state::connected)) {
    reconnecting_ = true;  // ours or someone else's (dom0less): ignore every other field until done
    return false;
  }
  if (reconnecting_) {
    req_.resync();
    rsp_.resync();
    reconnecting_ = false;
  }
  return true;
}

result<void> guest_ring::usable() noexcept {
  if (!reconnected()) return fail(errc::would_block);
  // Relaxed: the error value is diagnostic, nothing else is published with it.
  const auto e = static_cast<ring_error>(shm::load_relaxed(&page_->error));
  if (e != ring_error::none) return fail(to_error_code(e));
  return {};
}

result<transfer> guest_ring::write(std::span<const std::byte> bytes) noexcept {
  if (auto ok = usable(); !ok) return fail(ok.error());
  return moved(req_.write(bytes));
}

result<transfer> guest_ring::read(std::span<std::byte> out) noexcept {
  if (auto ok = usable(); !ok) return fail(ok.error());
  return moved(rsp_.read(out));
}

result<std::size_t> guest_ring::space() noexcept {
  if (auto ok = usable(); !ok) return fail(ok.error());
  return req_.space();
}

result<std::size_t> guest_ring::data_available() noexcept {
  if (auto ok = usable(); !ok) return fail(ok.error());
  return rsp_.available();
}

std::uint32_t guest_ring::server_features() const noexcept {
  // Relaxed: a capability bitmap; the server advertises before it serves (ordered by the event).
  return shm::load_relaxed(&page_->server_features);
}

ring_error guest_ring::server_error() const noexcept {
  return static_cast<ring_error>(shm::load_relaxed(&page_->error));
}

result<void> guest_ring::request_reconnect() noexcept {
  if ((server_features() & feature::reconnection) == 0) return fail(errc::not_supported);
  // Relaxed: the server discards everything on the ring, so nothing needs publishing with this.
  shm::store_relaxed(&page_->connection, raw(connection_state::reconnect));
  reconnecting_ = true;
  return {};
}

// ---- server ----

server_ring::server_ring(std::span<std::byte> page, byte_ring_consumer req, byte_ring_producer rsp) noexcept
    : page_(static_cast<domain_interface*>(static_cast<void*>(page.data()))), req_(req), rsp_(rsp) {}

result<server_ring> server_ring::attach(std::span<std::byte> page, std::uint32_t features) noexcept {
  auto p = as_page(page);
  if (!p) return fail(p.error());
  domain_interface& d = **p;
  auto req = byte_ring_consumer::attach(&d.req_cons, &d.req_prod, bytes_of(d.req));
  auto rsp = byte_ring_producer::attach(&d.rsp_prod, &d.rsp_cons, bytes_of(d.rsp));
  if (!req) return fail(req.error());
  if (!rsp) return fail(rsp.error());
  server_ring s(page, *req, *rsp);
  s.advertise(features);
  return s;
}

void server_ring::advertise(std::uint32_t features) noexcept {
  // Only ever adds bits (the guest must not write this field; if it does, our bits come back).
  shm::fetch_or(&page_->server_features, features);
}

void server_ring::stop(ring_error why) noexcept {
  // The first reason sticks: later failures are consequences of it.
  if (why == ring_error::none || stopped_ != ring_error::none) return;
  stopped_ = why;
  // Relaxed: diagnostic value; the caller's event-channel signal makes the guest look.
  shm::store_relaxed(&page_->error, static_cast<std::uint32_t>(why));
}

result<void> server_ring::usable() noexcept {
  if (stopped_ != ring_error::none) return fail(to_error_code(stopped_));
  // Relaxed: a reconnect request publishes nothing; handle_reconnect() is the caller's next step.
  if (shm::load_relaxed(&page_->connection) != raw(connection_state::connected)) return fail(errc::would_block);
  return {};
}

template <class T>
result<T> server_ring::checked(result<T> r) noexcept {
  if (!r && r.error() == errc::ring_corrupt) stop(ring_error::ringidx);
  return r;
}

result<transfer> server_ring::write(std::span<const std::byte> bytes) noexcept {
  if (auto ok = usable(); !ok) return fail(ok.error());
  return moved(checked(rsp_.write(bytes)));
}

result<transfer> server_ring::read(std::span<std::byte> out) noexcept {
  if (auto ok = usable(); !ok) return fail(ok.error());
  return moved(checked(req_.read(out)));
}

result<std::size_t> server_ring::space() noexcept {
  if (auto ok = usable(); !ok) return fail(ok.error());
  return checked(rsp_.space());
}

result<std::size_t> server_ring::data_available() noexcept {
  if (auto ok = usable(); !ok) return fail(ok.error());
  return checked(req_.available());
}

bool server_ring::handle_reconnect() noexcept {
  // Relaxed: the request carries no data (see guest_ring::request_reconnect).
  if (shm::load_relaxed(&page_->connection) == raw(connection_state::connected)) return false;
  req_.reset(0);
  rsp_.reset(0);
  // Both indices a side does not own are reset too: the ring restarts empty at 0.
  shm::store_relaxed(&page_->req_prod, std::uint32_t{0});
  shm::store_relaxed(&page_->rsp_cons, std::uint32_t{0});
  shm::store_relaxed(&page_->error, std::uint32_t{0});
  stopped_ = ring_error::none;
  // Pairs with the guest's acquire load in guest_ring::reconnected(): the resets above are visible
  // to a guest that sees connected.
  shm::store_release(&page_->connection, raw(connection_state::connected));
  return true;
}

}  // namespace xenwire::xenstore
