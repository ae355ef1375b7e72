// One guest as randomd sees it: its request watch, its vchan server (if it asked), its byte budget
// and the request/response in flight on the current connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "xenwire/randomd/protocol.hpp"
#include "xenwire/randomd/token_bucket.hpp"
#include "xenwire/vchan/endpoint.hpp"
#include "xenwire/xenstore/client/watch.hpp"

namespace xenwire::randomd::detail {

struct session {
  session(domid_t d, xenstore::watch w, rate_limit limit, token_bucket::clock::time_point now)
      : domid(d), request_watch(std::move(w)), bucket(limit, now) {}

  domid_t domid;
  xenstore::watch request_watch;
  std::optional<std::uint64_t> nonce;      // the request last answered with a server
  std::unique_ptr<vchan::endpoint> ep;     // heap: poll_set keeps its address
  bool broken = false;                     // ep failed: close it after the loop turn
  bool busy = false;                       // stopped at the fairness bound: more may be waiting
  // The budget belongs to the domain, not the connection: reconnecting does not refill it.
  token_bucket bucket;

  // Per connection (a persistent server's keys change when it re-arms for the next client).
  vchan::keys generation{};
  bool connected = false;
  std::array<std::byte, request_size> in{};
  std::size_t in_len = 0;
  std::vector<std::byte> out;
  std::size_t out_off = 0;

  void reset_connection() {
    in_len = 0;
    out.clear();
    out_off = 0;
  }
  bool has_output() const { return out_off < out.size(); }
};

}  // namespace xenwire::randomd::detail
