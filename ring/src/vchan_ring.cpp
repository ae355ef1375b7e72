#include "xenwire/ring/vchan_ring.hpp"

#include "xenwire/ring/shared_memory.hpp"
#include "xenwire/ring/transport.hpp"

namespace xenwire::vchan {

stream::stream(role who, interface* page, byte_ring_consumer r, byte_ring_producer w) noexcept
    : role_(who),
      own_notify_(who == role::server ? &page->srv_notify : &page->cli_notify),
      peer_notify_(who == role::server ? &page->cli_notify : &page->srv_notify),
      own_live_(who == role::server ? &page->srv_live : &page->cli_live),
      peer_live_(who == role::server ? &page->cli_live : &page->srv_live),
      read_(r),
      write_(w) {}

result<stream> stream::attach(role who, std::span<std::byte> control_page, ring_data rings) noexcept {
  return attach_picked(who, control_page, read_side(who, rings.left, rings.right),
                       write_side(who, rings.left, rings.right));
}

result<stream> stream::attach_picked(role who, std::span<std::byte> control_page, std::span<std::byte> read_ring,
                                     std::span<std::byte> write_ring) noexcept {
  if (control_page.size() < page_size) return fail(errc::invalid_argument);
  if (reinterpret_cast<std::uintptr_t>(control_page.data()) % alignof(interface) != 0) {
    return fail(errc::invalid_argument);
  }
  auto* page = static_cast<interface*>(static_cast<void*>(control_page.data()));
  ring_shared& in = read_side(who, page->left, page->right);
  ring_shared& out = write_side(who, page->left, page->right);
  auto r = byte_ring_consumer::attach(&in.cons, &in.prod, read_ring);
  auto w = byte_ring_producer::attach(&out.prod, &out.cons, write_ring);
  if (!r) return fail(r.error());
  if (!w) return fail(w.error());
  return stream(who, page, *r, *w);
}

void stream::request_notify(std::uint8_t bit) noexcept {
  shm::fetch_or(peer_notify_, bit);
  // Post the request before re-reading any index: pairs with the fence in the peer's
  // take_notify_request() (store-then-load on both sides, so one of us sees the other).
  shm::full_fence();
}

bool stream::take_notify_request(std::uint8_t bit) noexcept {
  // Our index update (release store) must be visible before we look at the request bit: pairs with
  // the fence in the peer's request_notify().
  shm::full_fence();
  // Relaxed peek, ordered by the fence above: the clearing RMW, a locked write to the line both
  // sides hammer, only when the peer asked. A bit set after the peek was set by a peer whose
  // re-check, after its own fence, sees our new index: it does not sleep, so nothing is lost.
  if ((shm::load_relaxed(own_notify_) & bit) == 0) return false;
  const std::uint8_t prev = shm::fetch_and(own_notify_, static_cast<std::uint8_t>(~bit));
  return (prev & bit) != 0;
}

result<std::size_t> stream::data_ready() noexcept { return read_.available(); }
result<std::size_t> stream::buffer_space() noexcept { return write_.space(); }

result<std::size_t> stream::data_ready(std::size_t wanted) noexcept {
  auto ready = read_.available();
  if (!ready || *ready >= wanted) return ready;
  request_notify(notify_write);
  // The writer may have produced between our first look and the request: look again.
  return read_.available();
}

result<std::size_t> stream::buffer_space(std::size_t wanted) noexcept {
  auto space = write_.space();
  if (!space || *space >= wanted) return space;
  request_notify(notify_read);
  return write_.space();
}

result<transfer> stream::read_some(std::span<std::byte> out) noexcept {
  auto n = read_.read(out);
  if (!n) return fail(n.error());
  if (*n == 0) return transfer{};
  return transfer{*n, take_notify_request(notify_read)};
}

result<std::size_t> stream::stage(std::span<const std::byte> bytes) noexcept { return write_.stage(bytes); }

transfer stream::commit(std::size_t staged) noexcept {
  if (staged == 0) return {};
  write_.commit(staged);
  return {staged, take_notify_request(notify_write)};
}

result<transfer> stream::write_some(std::span<const std::byte> bytes) noexcept {
  auto n = stage(bytes);
  if (!n) return fail(n.error());
  return commit(*n);
}

result<transfer> stream::read(std::span<std::byte> out) noexcept {
  auto ready = data_ready(out.size());
  if (!ready) return fail(ready.error());
  if (*ready == 0 || out.empty()) return transfer{};
  return read_some(out);
}

result<transfer> stream::write(std::span<const std::byte> bytes) noexcept {
  auto space = buffer_space(bytes.size());
  if (!space) return fail(space.error());
  if (*space == 0 || bytes.empty()) return transfer{};
  return write_some(bytes);
}

live stream::peer_live() const noexcept {
  // Acquire: pairs with the peer's release store in set_live(), so a peer seen closed has finished
  // its last ring update (and a peer seen connected has set up its side).
  return static_cast<live>(shm::load_acquire(peer_live_));
}

void stream::set_live(live state) noexcept {
  // Pairs with the peer's acquire load in peer_live().
  shm::store_release(own_live_, static_cast<std::uint8_t>(state));
}

}  // namespace xenwire::vchan
