// One side's view of a libxenvchan channel: the two byte rings and the notify-bit protocol exactly as
// tools/libs/vchan/io.c does it, minus the I/O (the caller signals the event channel when told).
//
//   left  ring: client writes, server reads.   right ring: server writes, client reads.
//   A side that wants waking ORs a bit into the *peer's* notify byte (server → cli_notify, client →
//   srv_notify), fences, and re-checks the ring. After producing (bit write) or consuming (bit read)
//   a side fences, atomically clears that bit in its *own* byte and signals only if it was set.
//
// Unlike libxenvchan, inconsistent indices are reported (errc::ring_corrupt, sticky) instead of
// silently reading as "no data" forever.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "xenwire/ring/byte_ring.hpp"
#include "xenwire/base/error.hpp"
#include "xenwire/ring/vchan_layout.hpp"

namespace xenwire::vchan {

enum class role : std::uint8_t { server, client };

constexpr role peer_of(role who) noexcept { return who == role::server ? role::client : role::server; }

// The one place that maps roles to rings: the server reads the left ring, the client the right;
// each writes the ring its peer reads. For anything kept per ring (indices, data, placements).
template <class T>
constexpr T& read_side(role who, T& left, T& right) noexcept {
  return who == role::server ? left : right;
}
template <class T>
constexpr T& write_side(role who, T& left, T& right) noexcept {
  return read_side(peer_of(who), left, right);
}

// A channel's ring data, by direction: left carries client → server bytes, right server → client.
// Each of the size its order says; in_page_ring() gives the in-page ones.
struct ring_data {
  std::span<std::byte> left, right;
};

class stream {
 public:
  // `control_page`: the mapped/shared control page (≥ 4096 bytes, its indices already set up).
  // The ring this role reads may be a read-only mapping.
  static result<stream> attach(role who, std::span<std::byte> control_page, ring_data rings) noexcept;

  // libxenvchan_read/_write, non-blocking: if fewer bytes are ready (free) than asked, first asks
  // the peer to signal us on its next write (read), then copies what there is.
  // transfer::notify: signal the peer now.
  result<transfer> read(std::span<std::byte> out) noexcept;
  result<transfer> write(std::span<const std::byte> bytes) noexcept;

  // The data path for a caller that does its own waiting (vchan::endpoint: spin, then
  // request_notify(), look again, sleep). Nothing here asks for a signal, and the peer's index is
  // loaded only when the one last seen falls short (byte_ring.hpp): every request or load costs a
  // transfer of the control page's one shared cache line. transfer::notify as above.
  //
  // Copies out up to out.size() ready bytes (possibly none) and releases their space.
  result<transfer> read_some(std::span<std::byte> out) noexcept;
  // Copies in as much of `bytes` as fits (possibly none) and publishes it.
  result<transfer> write_some(std::span<const std::byte> bytes) noexcept;
  // write_some() in two steps, for a caller that checks something between copying and publishing:
  // stage() copies as much as fits without publishing (a later stage() copies over it again);
  // commit(n) publishes the first n staged bytes.
  result<std::size_t> stage(std::span<const std::byte> bytes) noexcept;
  transfer commit(std::size_t staged) noexcept;

  // Bytes ready / free now (the peer's index loaded afresh), without touching notify bits.
  result<std::size_t> data_ready() noexcept;
  result<std::size_t> buffer_space() noexcept;
  // As libxenvchan's fast_get_*: if fewer than `wanted`, request a signal and look again.
  result<std::size_t> data_ready(std::size_t wanted) noexcept;
  result<std::size_t> buffer_space(std::size_t wanted) noexcept;

  // Asks the peer to signal us when it does `bit` (notify_write / notify_read).
  void request_notify(std::uint8_t bit) noexcept;
  // After we did `bit`: clears the peer's request for it; true if the peer asked, i.e. signal it.
  bool take_notify_request(std::uint8_t bit) noexcept;

  // The peer's live byte (server reads cli_live, client reads srv_live); ours is written by us.
  live peer_live() const noexcept;
  // libxenvchan_is_open: the peer's byte is non-zero (2 = not yet connected counts as open).
  bool peer_open() const noexcept { return peer_live() != live::closed; }
  void set_live(live state) noexcept;

  role who() const noexcept { return role_; }
  const byte_ring_consumer& reader() const noexcept { return read_; }
  const byte_ring_producer& writer() const noexcept { return write_; }

 private:
  stream(role who, interface* page, byte_ring_consumer r, byte_ring_producer w) noexcept;
  static result<stream> attach_picked(role who, std::span<std::byte> control_page, std::span<std::byte> read_ring,
                                      std::span<std::byte> write_ring) noexcept;

  role role_;
  // This role's bytes of the control page, picked once at attach.
  std::uint8_t* own_notify_;   // the peer's requests to us (srv_notify for the server)
  std::uint8_t* peer_notify_;  // our requests to the peer
  std::uint8_t* own_live_;
  const std::uint8_t* peer_live_;
  byte_ring_consumer read_;
  byte_ring_producer write_;
};

}  // namespace xenwire::vchan
