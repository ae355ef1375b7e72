#include "xenwire/randomd/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace xenwire::randomd {

token_bucket::token_bucket(rate_limit limit, clock::time_point now) noexcept
    : limit_(limit), tokens_(static_cast<double>(limit.burst)), last_(now) {}

void token_bucket::refill(clock::time_point now) noexcept {
  if (now <= last_) return;  // a clock that does not advance (or a caller's older time) adds nothing
  const double secs = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(static_cast<double>(limit_.burst), tokens_ + secs * static_cast<double>(limit_.rate));
  last_ = now;
}

std::optional<std::chrono::milliseconds> token_bucket::take(std::uint32_t bytes, clock::time_point now) noexcept {
  if (bytes > limit_.burst) return never_ms;
  refill(now);
  const double want = static_cast<double>(bytes);
  if (tokens_ >= want) {
    tokens_ -= want;
    return std::nullopt;
  }
  if (limit_.rate == 0) return never_ms;  // never refills
  const double wait_ms = std::ceil((want - tokens_) * 1000.0 / static_cast<double>(limit_.rate));
  return std::chrono::milliseconds{std::clamp<std::int64_t>(static_cast<std::int64_t>(wait_ms), 1, never_ms.count())};
}

std::uint64_t token_bucket::available(clock::time_point now) noexcept {
  refill(now);
  return static_cast<std::uint64_t>(tokens_);
}

}  // namespace xenwire::randomd
