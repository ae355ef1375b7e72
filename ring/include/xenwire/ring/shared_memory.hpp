// Accessors for fields in memory shared with another (untrusted) domain.
//
// Every access goes through std::atomic_ref with an explicit memory order: a plain load from shared
// memory may be torn, fetched twice or cached by the compiler (XSA-155). Loads never write, so they
// are fine on read-only mappings. Callers document which release each acquire pairs with.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace xenwire::shm {

template <class T>
concept shared_scalar = std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::uint16_t> ||
                        std::is_same_v<T, std::uint32_t>;

namespace detail {
template <shared_scalar T>
std::atomic_ref<T> ref(const T* p) noexcept {
  assert(reinterpret_cast<std::uintptr_t>(p) % std::atomic_ref<T>::required_alignment == 0);
  // atomic_ref<const T> is not C++20; loads through this ref never write (read-only mappings are ok).
  return std::atomic_ref<T>(*const_cast<T*>(p));
}
}  // namespace detail

template <shared_scalar T>
T load_acquire(const T* p) noexcept {
  return detail::ref(p).load(std::memory_order_acquire);
}
template <shared_scalar T>
T load_relaxed(const T* p) noexcept {
  return detail::ref(p).load(std::memory_order_relaxed);
}
template <shared_scalar T>
void store_release(T* p, T v) noexcept {
  detail::ref(p).store(v, std::memory_order_release);
}
template <shared_scalar T>
void store_relaxed(T* p, T v) noexcept {
  detail::ref(p).store(v, std::memory_order_relaxed);
}
// Read-modify-writes used for flag handshakes (Dekker-style store-then-load): sequentially consistent.
template <shared_scalar T>
T fetch_or(T* p, T bits) noexcept {
  return detail::ref(p).fetch_or(bits, std::memory_order_seq_cst);
}
template <shared_scalar T>
T fetch_and(T* p, T bits) noexcept {
  return detail::ref(p).fetch_and(bits, std::memory_order_seq_cst);
}
// Full barrier: orders an earlier store before a later load (xen_mb()).
inline void full_fence() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }

// A typed pointer to a field at `offset` in a shared region. The caller checked the bounds; the
// region is page-aligned, so field alignment follows from the pinned layouts' offsets.
template <shared_scalar T>
T* field(std::span<std::byte> region, std::size_t offset) noexcept {
  assert(offset + sizeof(T) <= region.size());
  return static_cast<T*>(static_cast<void*>(region.data() + offset));
}
template <shared_scalar T>
const T* field(std::span<const std::byte> region, std::size_t offset) noexcept {
  assert(offset + sizeof(T) <= region.size());
  return static_cast<const T*>(static_cast<const void*>(region.data() + offset));
}

}  // namespace xenwire::shm
