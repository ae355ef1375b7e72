// How a xenwire error becomes an errno: what the Linux drivers (gntdev, gntalloc, evtchn) and the
// hypercalls behind them return for the same condition, so callers' errno checks keep working.
#pragma once

#include <system_error>

namespace xenwire::emu {

int to_errno(const std::error_code& ec) noexcept;

// Sets errno from `ec`; returns -1 / nullptr for the C API's "failed" value.
int fail_errno(const std::error_code& ec) noexcept;
int fail_errno(int e) noexcept;

}  // namespace xenwire::emu
