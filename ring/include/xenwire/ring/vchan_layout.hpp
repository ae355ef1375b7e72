// libxenvchan's shared control page (xen/include/public/io/libxenvchan.h), pinned byte for byte,
// and the ring-size rules that follow from it. The one place that decides these facts.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xenwire::vchan {

struct ring_shared {
  std::uint32_t cons, prod;
};

inline constexpr std::uint8_t notify_write = 0x1;  // VCHAN_NOTIFY_WRITE: wake me when data is written
inline constexpr std::uint8_t notify_read = 0x2;   // VCHAN_NOTIFY_READ: wake me when data is consumed

enum class live : std::uint8_t { closed = 0, connected = 1, not_yet_connected = 2 };

struct interface {
  ring_shared left;   // client writes, server reads
  ring_shared right;  // server writes, client reads
  std::uint16_t left_order, right_order;
  std::uint8_t cli_live, srv_live;
  // cli_notify: set by the server ("wake me when you do this"), tested and cleared by the client
  // after it writes/reads; srv_notify is the mirror image.
  std::uint8_t cli_notify, srv_notify;
  // std::uint32_t grants[]; follows at offset 24: left ring's refs, then right's
};

inline constexpr std::size_t grants_offset = 24;

static_assert(offsetof(interface, left) == 0);
static_assert(offsetof(interface, right) == 8);
static_assert(offsetof(interface, left_order) == 16);
static_assert(offsetof(interface, right_order) == 18);
static_assert(offsetof(interface, cli_live) == 20);
static_assert(offsetof(interface, srv_live) == 21);
static_assert(offsetof(interface, cli_notify) == 22);
static_assert(offsetof(interface, srv_notify) == 23);
static_assert(sizeof(interface) == grants_offset);

inline constexpr unsigned min_order = 10;
inline constexpr unsigned max_order = 20;       // libxenvchan's MAX_RING_SHIFT-ish cap: 1 MiB
inline constexpr unsigned page_order = 12;
inline constexpr std::size_t order10_offset = 1024;  // in-page ring of 1024 bytes
inline constexpr std::size_t order11_offset = 2048;  // in-page ring of 2048 bytes

// Bytes of the ring for an order, and the number of separately granted pages it takes (0 = in-page).
constexpr std::size_t ring_bytes(unsigned order) noexcept { return std::size_t{1} << order; }
constexpr std::size_t ring_pages(unsigned order) noexcept {
  return order < page_order ? 0 : std::size_t{1} << (order - page_order);
}

}  // namespace xenwire::vchan
