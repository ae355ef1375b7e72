// A second face of this library's own connections: read_some with a deadline. It lets a caller
// waiting for its reply read the stream itself (client_core's read turn) and still honour its
// timeout. Kept out of the public client_connection: a connection without it (one written
// elsewhere) is read by the background thread alone, as before.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>

#include "xenwire/base/error.hpp"

namespace xenwire::xenstore::detail {

class deadline_read {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  // As client_connection::read_some; errc::timed_out once `deadline` passes with nothing read.
  // time_point::max(): no deadline.
  virtual result<std::size_t> read_some_until(std::span<std::byte> out, time_point deadline) = 0;

 protected:
  ~deadline_read() = default;
};

}  // namespace xenwire::xenstore::detail
