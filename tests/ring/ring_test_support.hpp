// Helpers shared by the ring tests: generators for the sizes and indices that break rings.
#pragma once

#include <rapidcheck.h>

#include <system_error>
#include "xenwire/base/error.hpp"

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <vector>

namespace xenwire::ring_test {

// result<void> has no value(): this throws the error instead (failing the test or property).
inline void must(const result<void>& r) {
  if (!r) throw std::system_error(r.error());
}

// Indices that start anywhere, biased towards the u32 wrap.
inline rc::Gen<std::uint32_t> start_index() {
  return rc::gen::oneOf(rc::gen::element<std::uint32_t>(0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFC00u,
                                                        0xFFFFFFF0u, 0xFFFFFFFFu),
                        rc::gen::arbitrary<std::uint32_t>());
}

// Chunk sizes around the edges of a ring of `size` bytes: 0, 1, size-1, size, size+1, and anything.
inline rc::Gen<std::size_t> chunk_size(std::size_t size) {
  return rc::gen::oneOf(rc::gen::element<std::size_t>(0, 1, size - 1, size, size + 1),
                        rc::gen::inRange<std::size_t>(0, 2 * size + 2));
}

// A deterministic byte stream: byte i of the stream.
inline std::byte stream_byte(std::size_t i) { return static_cast<std::byte>((i * 131 + (i >> 8) * 7 + 1) & 0xFF); }

inline std::vector<std::byte> stream_bytes(std::size_t from, std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = stream_byte(from + i);
  return v;
}

// One zeroed, page-aligned 4 KiB page standing in for a shared page, viewed as a layout `T`.
template <class T>
struct test_page {
  test_page() : mem(new (std::align_val_t{4096}) std::byte[4096]()) {}
  ~test_page() { ::operator delete[](mem, std::align_val_t{4096}); }
  test_page(const test_page&) = delete;
  test_page& operator=(const test_page&) = delete;
  std::span<std::byte> bytes() { return {mem, 4096}; }
  T& layout() { return *static_cast<T*>(static_cast<void*>(mem)); }
  std::byte* mem;
};

}  // namespace xenwire::ring_test
