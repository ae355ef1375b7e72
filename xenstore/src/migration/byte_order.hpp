// Fixed-width integers in a chosen byte order, for the migration stream's reader and writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "xenwire/xenstore/migration/records.hpp"

namespace xenwire::xenstore::migration::detail {

template <class T>
void put(std::string& out, T v, byte_order order) {
  using U = std::make_unsigned_t<T>;
  auto u = static_cast<U>(v);
  char b[sizeof(U)];
  for (std::size_t i = 0; i < sizeof(U); ++i) {
    const std::size_t shift = order == byte_order::little ? i : sizeof(U) - 1 - i;
    b[i] = static_cast<char>((u >> (8 * shift)) & 0xFF);
  }
  out.append(b, sizeof(U));
}

// Reads sizeof(T) bytes at `at`; the caller has checked the bounds.
template <class T>
T get(std::string_view in, std::size_t at, byte_order order) {
  using U = std::make_unsigned_t<T>;
  U u = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) {
    const std::size_t shift = order == byte_order::little ? i : sizeof(U) - 1 - i;
    u = static_cast<U>(u | (static_cast<U>(static_cast<unsigned char>(in[at + i])) << (8 * shift)));
  }
  return static_cast<T>(u);
}

constexpr std::size_t round_up8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }

inline constexpr std::string_view ident = "xenstore";
inline constexpr std::size_t preamble_size = 16;
inline constexpr std::size_t record_header_size = 8;

}  // namespace xenwire::xenstore::migration::detail
