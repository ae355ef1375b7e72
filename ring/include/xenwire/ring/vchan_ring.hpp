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

namespace xenwire::vchan_wire {

enum class role : std::uint8_t { server, client };

class stream {
 public:
  // `control_page`: the mapped/shared control page (≥ 4096 bytes). `read_ring`/`write_ring`: this
  // role's ring data (server: read = left, write = right; client: the reverse), each of the size its
  // order says; use in_page_ring() for in-page rings. The read ring may be a read-only mapping.
  static result<stream> attach(role who, std::span<std::byte> control_page, std::span<std::byte> read_ring,
                               std::span<std::byte> write_ring) noexcept;

  // Copies out up to out.size() bytes. If fewer than asked are ready, first asks the peer to signal
  // us on its next write (libxenvchan_read, non-blocking). notify: signal the peer now.
  result<transfer> read(std::span<std::byte> out) noexcept;
  // Copies in as much as fits. If not all fits, first asks the peer to signal us when it reads.
  result<transfer> write(std::span<const std::byte> bytes) noexcept;

  // Bytes ready / free now, without touching notify bits.
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
  std::uint8_t* own_notify() const noexcept;
  std::uint8_t* peer_notify() const noexcept;

  role role_;
  interface* page_;
  byte_ring_consumer read_;
  byte_ring_producer write_;
};

}  // namespace xenwire::vchan_wire
