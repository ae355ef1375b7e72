// A single-producer single-consumer byte ring over shared memory whose peer is untrusted.
//
// Both the Xenstore ring and libxenvchan's rings are this: a power-of-two data area and two
// free-running u32 indices (prod, cons) that may start anywhere. Each side writes only its own index
// and keeps a private copy of it, so the peer rewriting our index cannot move us. The peer's index
// is loaded at most once per call (acquire); `prod - cons > size` means the peer is lying, which puts
// the view into a sticky errc::ring_corrupt state that every later call reports. Data is copied
// out/in with the position masked, so nothing the peer writes can make us touch bytes outside `data`.
//
// read()/write() keep the last peer index they loaded and reload it only when that value cannot
// satisfy the whole call: the peer's index shares a cache line with ours (and, in vchan, with every
// control byte), so each needless load costs a cross-core transfer. A cached index is safe because
// the peer only ever releases more: the space or data it once granted stays ours. A lie told since
// the last load is reported by the next load. space()/available() always load.
//
// Sans-I/O: these views move bytes and say how much moved; notifications are the caller's business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include "xenwire/base/error.hpp"

namespace xenwire {

// What one read or write did: bytes moved and whether the peer must now be signalled.
struct transfer {
  std::size_t bytes = 0;
  bool notify = false;
};

// Largest data area we accept: keeps every u32 index difference unambiguous.
inline constexpr std::size_t byte_ring_max_size = std::size_t{1} << 30;

class byte_ring_view {
 public:
  std::size_t size() const noexcept { return size_; }
  // The sticky error, or an empty code while the ring is healthy.
  std::error_code error() const noexcept { return error_; }
  // Our private copy of our own index.
  std::uint32_t index() const noexcept { return own_index_; }
  // Re-reads our own index from shared memory and clears the sticky error: only after a reset the
  // protocol defines (Xenstore reconnect), when the other side legitimately rewrote our index.
  void resync() noexcept;
  // Sets our index (private copy and shared field) and clears the sticky error: used by the side
  // that performs such a reset.
  void reset(std::uint32_t index) noexcept;

 protected:
  byte_ring_view(bool producer, std::uint32_t* own, const std::uint32_t* peer, std::span<std::byte> data) noexcept;
  static result<void> check(const std::uint32_t* own, const std::uint32_t* peer, std::span<std::byte> data) noexcept;
  // Loads the peer's index once and returns prod - cons, or fails (sticky) if it exceeds the size.
  result<std::uint32_t> fill() noexcept;
  // Free bytes (producer) or ready bytes (consumer) by the cached peer index; loads it afresh only
  // if the cached value offers fewer than `wanted`.
  result<std::uint32_t> usable(std::size_t wanted) noexcept;
  // Makes the next usable() load: the cached index then offers nothing.
  void forget_peer() noexcept;
  void publish(std::uint32_t advance) noexcept;

  bool producer_;
  std::uint32_t* own_;
  const std::uint32_t* peer_;
  std::byte* data_;
  std::uint32_t size_;
  std::uint32_t own_index_;
  std::uint32_t peer_seen_;  // the peer's index as last loaded (validated then)
  std::error_code error_;
};

// The producing side: owns `prod`, reads the consumer's `cons`.
class byte_ring_producer : public byte_ring_view {
 public:
  static result<byte_ring_producer> attach(std::uint32_t* own_prod, const std::uint32_t* peer_cons,
                                           std::span<std::byte> data) noexcept;
  // Free bytes now.
  result<std::size_t> space() noexcept;
  // Copies as much of `bytes` as fits (possibly 0) and publishes it. Returns the count.
  result<std::size_t> write(std::span<const std::byte> bytes) noexcept;
  // write() in two steps, for callers that check something between copying and publishing:
  // stage() copies as much as fits into free space without publishing it (a later stage() copies
  // over it again); commit(n) publishes the first n staged bytes.
  result<std::size_t> stage(std::span<const std::byte> bytes) noexcept;
  void commit(std::size_t staged) noexcept;

 private:
  byte_ring_producer(std::uint32_t* own, const std::uint32_t* peer, std::span<std::byte> data) noexcept
      : byte_ring_view(true, own, peer, data) {}
};

// The consuming side: owns `cons`, reads the producer's `prod`.
class byte_ring_consumer : public byte_ring_view {
 public:
  static result<byte_ring_consumer> attach(std::uint32_t* own_cons, const std::uint32_t* peer_prod,
                                           std::span<std::byte> data) noexcept;
  // Bytes ready now.
  result<std::size_t> available() noexcept;
  // Copies out up to out.size() bytes (possibly 0) and releases their space. Returns the count.
  result<std::size_t> read(std::span<std::byte> out) noexcept;

 private:
  byte_ring_consumer(std::uint32_t* own, const std::uint32_t* peer, std::span<std::byte> data) noexcept
      : byte_ring_view(false, own, peer, data) {}
};

}  // namespace xenwire
