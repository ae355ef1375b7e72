// A per-guest byte budget: a token bucket holding up to `burst` bytes, refilled at `rate` bytes/s.
// Pure: the caller passes the time, so tests drive it with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace xenwire::randomd {

struct rate_limit {
  std::uint32_t rate = 4096;   // bytes per second, refilled continuously
  std::uint32_t burst = 2048;  // bucket size: the most a guest gets at once after idling
};

class token_bucket {
 public:
  using clock = std::chrono::steady_clock;

  // Starts full at `now`.
  token_bucket(rate_limit limit, clock::time_point now) noexcept;

  // Takes `bytes` tokens if the bucket holds them (nullopt); otherwise takes nothing and returns
  // how long until it will (>= 1 ms). More than `burst` can never be taken: callers refuse such
  // requests first (here they get never_ms).
  std::optional<std::chrono::milliseconds> take(std::uint32_t bytes, clock::time_point now) noexcept;
  static constexpr std::chrono::milliseconds never_ms{86'400'000};

  // Tokens held at `now` (refilled), in whole bytes.
  std::uint64_t available(clock::time_point now) noexcept;
  const rate_limit& limit() const noexcept { return limit_; }

 private:
  void refill(clock::time_point now) noexcept;

  rate_limit limit_;
  double tokens_;
  clock::time_point last_;
};

}  // namespace xenwire::randomd
