// Helpers over a client: a transaction runner that retries on EAGAIN with bounded exponential
// backoff, and wait_for(), which waits on a watch until a node's value satisfies a predicate.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::xenstore {

struct retry_policy {
  unsigned max_attempts = 8;                     // commits tried before EAGAIN is returned
  std::chrono::milliseconds initial_backoff{1};  // doubled after each conflict...
  std::chrono::milliseconds max_backoff{100};    // ...up to this (plus random jitter of up to 50%)
};

namespace detail {
void sleep_with_jitter(std::chrono::milliseconds base);
}

// Runs `body(tx)` inside a transaction and commits it; an EAGAIN from the commit (a conflicting
// change) or from the body starts over in a new transaction, after a backoff. Any other error from
// the body aborts the transaction and is returned. `body` returns client_result<T>.
template <class F>
auto run_transaction(client& c, F&& body, retry_policy policy = {}) -> std::invoke_result_t<F&, tx_id> {
  using result_t = std::invoke_result_t<F&, tx_id>;
  auto backoff = policy.initial_backoff;
  for (unsigned attempt = 1;; ++attempt) {
    auto tx = c.transaction_start();
    if (!tx) return result_t(client_fail(tx.error()));
    result_t r = body(*tx);
    client_error why = xs_error::eagain;
    if (!r) {
      (void)c.transaction_end(*tx, false);
      why = r.error();
    } else {
      auto end = c.transaction_end(*tx, true);
      if (end) return r;
      why = end.error();
    }
    if (!why.is(xs_error::eagain) || attempt >= std::max(policy.max_attempts, 1u)) return result_t(client_fail(why));
    detail::sleep_with_jitter(backoff);
    backoff = std::min(backoff * 2, policy.max_backoff);
  }
}

// The node's value, or nullopt while it does not exist.
using node_predicate = std::function<bool(const std::optional<std::string>& value)>;

// Watches `path` and returns the first value (or absence) for which `pred` holds, checked at once
// and after every event. errc::timed_out if it does not hold within `timeout`.
client_result<std::optional<std::string>> wait_for(client& c, std::string_view path, const node_predicate& pred,
                                                   std::chrono::milliseconds timeout);

}  // namespace xenwire::xenstore
