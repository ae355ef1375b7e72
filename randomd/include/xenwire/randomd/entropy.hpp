// Where randomd's bytes come from: the kernel's CSPRNG by default; tests may substitute a source.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>

#include "xenwire/base/error.hpp"

namespace xenwire::randomd {

// Fills every byte of `out` or fails.
using entropy_source = std::function<result<void>(std::span<std::byte> out)>;

// getrandom(2), flags 0: blocks only until the kernel's pool is initialised (once, early at boot),
// then never; retried on EINTR and short reads. Failures come back as system_category errors.
result<void> system_entropy(std::span<std::byte> out);

// Lowercase hex of at most the first `max_bytes` bytes: what logs show of delivered entropy (a
// prefix, never the whole secret).
std::string hex(std::span<const std::byte> bytes, std::size_t max_bytes);

}  // namespace xenwire::randomd
