// Shared by the fuzz targets: a cursor over the fuzzer's bytes (reads past the end yield zeros, so
// every input is a complete script) and the invariant check that turns a broken promise into a
// crash libFuzzer reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>

namespace xenwire::fuzzing {

struct input {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t u8() { return n ? (--n, *p++) : 0; }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = v << 8 | u8();
    return v;
  }
  void fill(void* dst, std::size_t len) {
    const std::size_t k = len < n ? len : n;
    std::memcpy(dst, p, k);
    p += k, n -= k;
  }
};

// A zeroed T on the heap (so ASan sees its bounds), its leading bytes taken from the input: a
// hostile peer's view of a shared page.
template <class T>
std::unique_ptr<T> page_from(input& in) {
  auto page = std::make_unique<T>();
  std::memset(static_cast<void*>(page.get()), 0, sizeof(T));
  in.fill(page.get(), sizeof(T));
  return page;
}

template <class T>
std::span<std::byte> bytes_of(T& object) {
  return {static_cast<std::byte*>(static_cast<void*>(&object)), sizeof(T)};
}

inline void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace xenwire::fuzzing
