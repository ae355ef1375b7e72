// Where libxenvchan puts its two rings, given their orders, and validation of a peer's control page.
//
// order 10 → 1024 bytes at page offset 1024; order 11 → 2048 bytes at offset 2048; order ≥ 12 →
// 2^(order-12) separately granted pages whose refs are listed in grants[] (left ring's first, then
// right's). A control page from a hostile peer is accepted only if both orders are in [10, 20], the
// two rings do not share the in-page area, and the grant list ends before any in-page ring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "xenwire/base/error.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/ring/vchan_layout.hpp"

namespace xenwire::vchan {

struct ring_place {
  unsigned order = 0;
  std::size_t page_offset = 0;  // in-page rings: where the data starts in the control page
  std::size_t first_grant = 0;  // granted rings: index of the first ref in grants[]
  std::size_t grant_count = 0;  // 0 for in-page rings

  bool in_page() const noexcept { return grant_count == 0; }
  std::size_t bytes() const noexcept { return ring_bytes(order); }
};

struct page_plan {
  ring_place left;   // client → server
  ring_place right;  // server → client
  std::size_t grant_count() const noexcept { return left.grant_count + right.grant_count; }
};

// Places rings of the given orders, or fails with ring_corrupt if they cannot share a control page.
result<page_plan> plan_rings(unsigned left_order, unsigned right_order) noexcept;

// libxenvchan_server_init's sizing: the smallest orders holding left_min/right_min bytes, preferring
// in-page rings (a ring that fits 2048 bytes alone gets order 11 so the grant list keeps room).
// Fails with invalid_argument above 2^20 bytes.
result<page_plan> server_plan(std::size_t left_min, std::size_t right_min) noexcept;

// Reads the orders from a peer's control page once and validates them.
result<page_plan> read_plan(std::span<const std::byte> control_page) noexcept;

// Copies a ring's grant refs out of the control page (copied, so the peer cannot change them later).
std::vector<grant_ref_t> read_grants(std::span<const std::byte> control_page, const ring_place& ring);

// Server side: writes orders, live states (cli_live = not yet connected, srv_live = connected),
// cli_notify = write (wake the server when the client writes), zero indices, and the grant list
// (left's refs then right's; `grants.size()` must equal plan.grant_count()).
result<void> init_control_page(std::span<std::byte> control_page, const page_plan& plan,
                               std::span<const grant_ref_t> grants) noexcept;

// The data area of an in-page ring inside the control page.
std::span<std::byte> in_page_ring(std::span<std::byte> control_page, const ring_place& ring) noexcept;

}  // namespace xenwire::vchan
