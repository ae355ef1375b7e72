// The two ends of the Xenstore ring page (xenstore::domain_interface, docs/misc/xenstore-ring.txt) as
// sans-I/O state machines over the raw page. `transfer::notify` / `must notify` results tell the
// caller when to signal the event channel; nothing here touches the seam.
//
// Guest (client): writes requests into req[], reads replies and watch events from rsp[].
// Server: the mirror image, plus server_features (only ever sets bits), the error field (set when it
// stops serving the ring), and the server half of the reconnect handshake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "xenwire/ring/byte_ring.hpp"
#include "xenwire/base/error.hpp"
#include "xenwire/ring/xenstore_layout.hpp"

namespace xenwire::xenstore {

// The error a non-zero `error` field means to us: ringidx → ring_corrupt, proto → protocol_error,
// anything else (comm, values added later) → peer_closed.
std::error_code to_error_code(ring_error e) noexcept;

class guest_ring {
 public:
  // `page` holds a domain_interface (at least 2080 bytes, 4-byte aligned). Indices are taken as found.
  static result<guest_ring> attach(std::span<std::byte> page) noexcept;

  // Partial writes and reads are normal; a zero count means full / empty. `notify` is set whenever
  // an index moved (the protocol signals after every update).
  result<transfer> write(std::span<const std::byte> bytes) noexcept;
  result<transfer> read(std::span<std::byte> out) noexcept;
  result<std::size_t> space() noexcept;
  result<std::size_t> data_available() noexcept;

  std::uint32_t server_features() const noexcept;
  // The server's error field as last seen (none while it serves the ring).
  ring_error server_error() const noexcept;

  // Starts a reconnect: connection = reconnect. The caller must signal the event channel. Fails with
  // not_supported unless the server advertised feature::reconnection. Until reconnected() says so,
  // read/write fail with would_block.
  result<void> request_reconnect() noexcept;
  // True once the server has reset the ring and set connection = connected again; our indices are
  // then re-read from the page. Also true when no reconnect is in progress.
  bool reconnected() noexcept;

 private:
  explicit guest_ring(std::span<std::byte> page, byte_ring_producer req, byte_ring_consumer rsp) noexcept;
  result<void> usable() noexcept;

  domain_interface* page_;
  byte_ring_producer req_;
  byte_ring_consumer rsp_;
  bool reconnecting_ = false;
};

class server_ring {
 public:
  // Attaches to a guest's page and advertises `features` (bits are only ever added).
  static result<server_ring> attach(std::span<std::byte> page, std::uint32_t features) noexcept;

  // As for the guest. A peer that corrupts the indices makes these fail with ring_corrupt and the
  // server stops serving: error = ringidx is written to the page.
  result<transfer> write(std::span<const std::byte> bytes) noexcept;
  result<transfer> read(std::span<std::byte> out) noexcept;
  result<std::size_t> space() noexcept;
  result<std::size_t> data_available() noexcept;

  void advertise(std::uint32_t features) noexcept;
  // Stops serving the ring, recording why in the page's error field (e.g. proto for an oversized
  // frame found by the codec). Later reads/writes fail with to_error_code(why); the first reason
  // sticks until a reconnect. The caller signals the event channel.
  void stop(ring_error why) noexcept;
  ring_error stopped() const noexcept { return stopped_; }

  // Handles a guest's reconnect request if there is one: resets both rings to index 0, clears the
  // error, sets connection = connected and returns true. The caller must then discard partial
  // packets, watches and transactions of this connection, and signal the event channel.
  bool handle_reconnect() noexcept;

 private:
  explicit server_ring(std::span<std::byte> page, byte_ring_consumer req, byte_ring_producer rsp) noexcept;
  result<void> usable() noexcept;
  template <class T>
  result<T> checked(result<T> r) noexcept;

  domain_interface* page_;
  byte_ring_consumer req_;
  byte_ring_producer rsp_;
  ring_error stopped_ = ring_error::none;
};

}  // namespace xenwire::xenstore
