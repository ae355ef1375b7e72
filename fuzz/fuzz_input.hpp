// Shared by the fuzz targets: a cursor over the fuzzer's bytes (reads past the end yield zeros, so
// every input is a complete script) and the invariant check that turns a broken promise into a
// crash libFuzzer reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

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

inline void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace xenwire::fuzzing
