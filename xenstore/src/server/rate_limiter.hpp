// Per-domain write rate limiting (XSA-206), after C xenstored's wrl_*: each write-type request of an
// unprivileged domain costs one credit; a domain's credit refills at `rate` per second up to
// `domain_burst`, and a shared reserve (up to `global_burst`) lends to domains that run dry. A domain
// in debt is not read from until its credit is positive again: flooding slows the flooder only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "xenwire/xenstore/server/config.hpp"
#include "xenwire/xenstore/server/core.hpp"

namespace xenwire::xenstore::detail {

class write_credit {
 public:
  static constexpr std::int64_t unit = 1000;  // fixed point: 1000 = one write

  // Global reserve shared by all domains of one server.
  struct reserve {
    std::int64_t credit = 0;
    time_point stamp{};
  };

  void start(time_point now, const rate_limit& cfg) noexcept {
    credit_ = static_cast<std::int64_t>(cfg.domain_burst) * unit;
    stamp_ = now;
  }

  // Charges one write. Afterwards may_proceed() tells whether the domain may send more now.
  void charge(time_point now, const rate_limit& cfg, reserve& shared) noexcept {
    refill(now, cfg, shared);
    credit_ -= unit;
    if (credit_ < 0 && shared.credit > 0) {  // borrow from the reserve
      std::int64_t take = std::min(shared.credit, -credit_);
      shared.credit -= take;
      credit_ += take;
    }
  }

  bool may_proceed(time_point now, const rate_limit& cfg, reserve& shared) noexcept {
    if (!cfg.enabled) return true;
    refill(now, cfg, shared);
    return credit_ >= 0;
  }

  // When a domain in debt will be able to proceed again.
  std::optional<time_point> ready_at(const rate_limit& cfg) const noexcept {
    if (!cfg.enabled || credit_ >= 0 || cfg.rate == 0) return std::nullopt;
    auto ms = (-credit_ + cfg.rate - 1) / cfg.rate;  // rate credits/s == rate milli-units per ms
    return stamp_ + std::chrono::milliseconds(ms);
  }

 private:
  void refill(time_point now, const rate_limit& cfg, reserve& shared) noexcept {
    if (now <= stamp_) return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - stamp_).count();
    if (ms <= 0) return;
    std::int64_t gain = ms * static_cast<std::int64_t>(cfg.rate);
    std::int64_t cap = static_cast<std::int64_t>(cfg.domain_burst) * unit;
    std::int64_t room = std::max<std::int64_t>(0, cap - credit_);
    credit_ += std::min(gain, room);
    // What a full bucket cannot hold tops up the shared reserve.
    std::int64_t gcap = static_cast<std::int64_t>(cfg.global_burst) * unit;
    shared.credit = std::min(gcap, shared.credit + std::max<std::int64_t>(0, gain - room));
    stamp_ = now;
  }

  std::int64_t credit_ = 0;
  time_point stamp_{};
};

}  // namespace xenwire::xenstore::detail
