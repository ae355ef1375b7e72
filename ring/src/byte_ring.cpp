#include "xenwire/ring/byte_ring.hpp"

#include <algorithm>
#include <cstring>

#include "xenwire/ring/shared_memory.hpp"

namespace xenwire {

byte_ring_view::byte_ring_view(bool producer, std::uint32_t* own, const std::uint32_t* peer,
                               std::span<std::byte> data) noexcept
    : producer_(producer),
      own_(own),
      peer_(peer),
      data_(data.data()),
      size_(static_cast<std::uint32_t>(data.size())),
      // Attaching happens after the setup handshake (grant map + event), which orders this load.
      own_index_(shm::load_relaxed(own)) {
  forget_peer();
}

result<void> byte_ring_view::check(const std::uint32_t* own, const std::uint32_t* peer,
                                   std::span<std::byte> data) noexcept {
  const std::size_t n = data.size();
  if (own == nullptr || peer == nullptr || data.data() == nullptr) return fail(errc::invalid_argument);
  if (n == 0 || n > byte_ring_max_size || (n & (n - 1)) != 0) return fail(errc::invalid_argument);
  return {};
}

void byte_ring_view::resync() noexcept {
  // Called after an acquire load that observed the reset (e.g. connection == connected), which
  // orders this load after the other side's reset stores.
  own_index_ = shm::load_relaxed(own_);
  forget_peer();
  error_.clear();
}

void byte_ring_view::reset(std::uint32_t index) noexcept {
  own_index_ = index;
  // The caller publishes the reset with a later release store (e.g. connection = connected).
  shm::store_relaxed(own_, index);
  forget_peer();
  error_.clear();
}

result<std::uint32_t> byte_ring_view::fill() noexcept {
  if (error_) return fail(error_);
  // Producer: pairs with the consumer's release of `cons` (it finished copying those bytes out, so
  // we may overwrite them). Consumer: pairs with the producer's release of `prod` (the bytes before
  // it are written). Loaded once: the peer may change it at any moment.
  const std::uint32_t peer = shm::load_acquire(peer_);
  const std::uint32_t filled = producer_ ? own_index_ - peer : peer - own_index_;
  if (filled > size_) {
    error_ = make_error_code(errc::ring_corrupt);
    return fail(error_);
  }
  peer_seen_ = peer;
  return filled;
}

result<std::uint32_t> byte_ring_view::usable(std::size_t wanted) noexcept {
  if (error_) return fail(error_);
  // peer_seen_ passed fill()'s bound when loaded, and our index has only moved within it since.
  const std::uint32_t cached = producer_ ? size_ - (own_index_ - peer_seen_) : peer_seen_ - own_index_;
  if (cached >= wanted) return cached;
  auto filled = fill();
  if (!filled) return filled;
  return producer_ ? size_ - *filled : *filled;
}

void byte_ring_view::forget_peer() noexcept { peer_seen_ = producer_ ? own_index_ - size_ : own_index_; }

void byte_ring_view::publish(std::uint32_t advance) noexcept {
  own_index_ += advance;
  // Pairs with the peer's acquire load of our index: our data copies happen before it.
  shm::store_release(own_, own_index_);
}

result<byte_ring_producer> byte_ring_producer::attach(std::uint32_t* own_prod, const std::uint32_t* peer_cons,
                                                      std::span<std::byte> data) noexcept {
  if (auto ok = check(own_prod, peer_cons, data); !ok) return fail(ok.error());
  return byte_ring_producer(own_prod, peer_cons, data);
}

result<std::size_t> byte_ring_producer::space() noexcept {
  auto used = fill();
  if (!used) return fail(used.error());
  return std::size_t{size_ - *used};
}

result<std::size_t> byte_ring_producer::stage(std::span<const std::byte> bytes) noexcept {
  auto free = usable(bytes.size());
  if (!free) return fail(free.error());
  const std::uint32_t n = static_cast<std::uint32_t>(std::min<std::size_t>(*free, bytes.size()));
  if (n == 0) return std::size_t{0};  // (an empty span may have a null data(): no memcpy then)
  const std::uint32_t at = own_index_ & (size_ - 1);
  const std::uint32_t first = std::min(n, size_ - at);
  std::memcpy(data_ + at, bytes.data(), first);
  std::memcpy(data_, bytes.data() + first, n - first);
  return std::size_t{n};
}

void byte_ring_producer::commit(std::size_t staged) noexcept {
  if (staged > 0) publish(static_cast<std::uint32_t>(staged));
}

result<std::size_t> byte_ring_producer::write(std::span<const std::byte> bytes) noexcept {
  auto n = stage(bytes);
  if (n) commit(*n);
  return n;
}

result<byte_ring_consumer> byte_ring_consumer::attach(std::uint32_t* own_cons, const std::uint32_t* peer_prod,
                                                      std::span<std::byte> data) noexcept {
  if (auto ok = check(own_cons, peer_prod, data); !ok) return fail(ok.error());
  return byte_ring_consumer(own_cons, peer_prod, data);
}

result<std::size_t> byte_ring_consumer::available() noexcept {
  auto ready = fill();
  if (!ready) return fail(ready.error());
  return std::size_t{*ready};
}

result<std::size_t> byte_ring_consumer::read(std::span<std::byte> out) noexcept {
  auto ready = usable(out.size());
  if (!ready) return fail(ready.error());
  const std::uint32_t n = static_cast<std::uint32_t>(std::min<std::size_t>(*ready, out.size()));
  if (n == 0) return std::size_t{0};
  const std::uint32_t at = own_index_ & (size_ - 1);
  const std::uint32_t first = std::min(n, size_ - at);
  std::memcpy(out.data(), data_ + at, first);
  std::memcpy(out.data() + first, data_, n - first);
  publish(n);
  return std::size_t{n};
}

}  // namespace xenwire
