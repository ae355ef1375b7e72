// Where randomd's bytes come from: the kernel's CSPRNG by default; tests may substitute a source.
#pragma once

#include <cstddef>
#include <functional>
#include <span>

#include "xenwire/ring/error.hpp"

namespace xenwire::randomd {

// Fills every byte of `out` or fails.
using entropy_source = std::function<result<void>(std::span<std::byte> out)>;

// getrandom(2), flags 0: blocks only until the kernel's pool is initialised (once, early at boot),
// then never; retried on EINTR and short reads. Failures come back as system_category errors.
result<void> system_entropy(std::span<std::byte> out);

}  // namespace xenwire::randomd
