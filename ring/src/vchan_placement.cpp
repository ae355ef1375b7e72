#include "xenwire/ring/vchan_placement.hpp"

#include <algorithm>

#include "xenwire/ring/shared_memory.hpp"

namespace xenwire::vchan {
namespace {

std::size_t in_page_offset(unsigned order) noexcept {
  return order == min_order ? order10_offset : order11_offset;
}

unsigned order_for(std::size_t bytes) noexcept {
  unsigned order = page_order;
  while (bytes > ring_bytes(order)) ++order;
  return order;
}

}  // namespace

result<page_plan> plan_rings(unsigned left_order, unsigned right_order) noexcept {
  for (unsigned o : {left_order, right_order}) {
    if (o < min_order || o > max_order) return fail(errc::ring_corrupt);
  }
  // Two in-page rings of the same order would be the same bytes.
  if (left_order == right_order && left_order < page_order) return fail(errc::ring_corrupt);

  page_plan plan;
  std::size_t next_grant = 0;
  std::size_t grants_end_limit = page_size;  // the grant list must end before any in-page ring
  for (auto [place, order] : {std::pair{&plan.left, left_order}, std::pair{&plan.right, right_order}}) {
    place->order = order;
    if (order < page_order) {
      place->page_offset = in_page_offset(order);
      grants_end_limit = std::min(grants_end_limit, place->page_offset);
    } else {
      place->first_grant = next_grant;
      place->grant_count = ring_pages(order);
      next_grant += place->grant_count;
    }
  }
  if (grants_offset + next_grant * sizeof(grant_ref_t) > grants_end_limit) return fail(errc::ring_corrupt);
  return plan;
}

result<page_plan> server_plan(std::size_t left_min, std::size_t right_min) noexcept {
  const std::size_t small = ring_bytes(min_order), large = ring_bytes(min_order + 1);
  if (left_min > ring_bytes(max_order) || right_min > ring_bytes(max_order)) return fail(errc::invalid_argument);
  unsigned left = order_for(left_min), right = order_for(right_min);
  if (left_min <= small && right_min <= large) {
    left = min_order, right = min_order + 1;
  } else if (left_min <= large && right_min <= small) {
    left = min_order + 1, right = min_order;
  } else if (left_min <= large) {
    left = min_order + 1;
  } else if (right_min <= large) {
    right = min_order + 1;
  }
  return plan_rings(left, right);
}

result<page_plan> read_plan(std::span<const std::byte> control_page) noexcept {
  if (control_page.size() < page_size) return fail(errc::invalid_argument);
  // Relaxed, once each: the peer published the page before the rendezvous event we acted on; the
  // copies are what we validate and use from now on.
  const auto left = shm::load_relaxed(shm::field<std::uint16_t>(control_page, offsetof(interface, left_order)));
  const auto right = shm::load_relaxed(shm::field<std::uint16_t>(control_page, offsetof(interface, right_order)));
  return plan_rings(left, right);
}

std::vector<grant_ref_t> read_grants(std::span<const std::byte> control_page, const ring_place& ring) {
  std::vector<grant_ref_t> refs(ring.grant_count);
  for (std::size_t i = 0; i < ring.grant_count; ++i) {
    const std::size_t at = grants_offset + (ring.first_grant + i) * sizeof(grant_ref_t);
    refs[i] = shm::load_relaxed(shm::field<std::uint32_t>(control_page, at));
  }
  return refs;
}

result<void> init_control_page(std::span<std::byte> control_page, const page_plan& plan,
                               std::span<const grant_ref_t> grants) noexcept {
  if (control_page.size() < page_size || grants.size() != plan.grant_count()) return fail(errc::invalid_argument);
  auto u32 = [&](std::size_t at, std::uint32_t v) { shm::store_relaxed(shm::field<std::uint32_t>(control_page, at), v); };
  auto u16 = [&](std::size_t at, std::uint16_t v) { shm::store_relaxed(shm::field<std::uint16_t>(control_page, at), v); };
  auto u8 = [&](std::size_t at, std::uint8_t v) { shm::store_relaxed(shm::field<std::uint8_t>(control_page, at), v); };
  // Relaxed: the page reaches the client only through grant + xenstore, which order these stores.
  for (std::size_t at : {offsetof(interface, left) + offsetof(ring_shared, cons), offsetof(interface, left) + offsetof(ring_shared, prod),
                         offsetof(interface, right) + offsetof(ring_shared, cons), offsetof(interface, right) + offsetof(ring_shared, prod)}) {
    u32(at, 0);
  }
  u16(offsetof(interface, left_order), static_cast<std::uint16_t>(plan.left.order));
  u16(offsetof(interface, right_order), static_cast<std::uint16_t>(plan.right.order));
  u8(offsetof(interface, cli_live), static_cast<std::uint8_t>(live::not_yet_connected));
  u8(offsetof(interface, srv_live), static_cast<std::uint8_t>(live::connected));
  u8(offsetof(interface, cli_notify), notify_write);
  u8(offsetof(interface, srv_notify), 0);
  for (std::size_t i = 0; i < grants.size(); ++i) u32(grants_offset + i * sizeof(grant_ref_t), grants[i]);
  return {};
}

std::span<std::byte> in_page_ring(std::span<std::byte> control_page, const ring_place& ring) noexcept {
  if (!ring.in_page() || control_page.size() < ring.page_offset + ring.bytes()) return {};
  return control_page.subspan(ring.page_offset, ring.bytes());
}

}  // namespace xenwire::vchan
