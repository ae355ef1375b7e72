// The guest side: ask randomd for entropy and read it over the vchan.
//
//   auto bytes = randomd::fetch_entropy(xs, transport, 64, std::chrono::seconds(5));
//   if (!bytes) log(bytes.error().message());
//
// fetch_entropy writes a fresh request node (discovery.hpp), waits for randomd's keys, connects,
// asks for the bytes in chunks and, when told rate_limited, sleeps the retry-after the server named
// and asks again, as long as the timeout allows. entropy_client keeps one connection for several
// fetches. Nothing here touches Xenstore but the request node and the keys.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <tl/expected.hpp>

#include "xenwire/randomd/protocol.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/vchan/endpoint.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::randomd {

enum class fetch_errc : std::uint8_t {
  timed_out = 1,   // no server within the timeout, or no answer
  rate_limited,    // the server's retry-after would pass the timeout
  refused,         // the server answered too_large or bad_request (status says which)
  unavailable,     // the server's entropy source kept failing until the timeout
  server_gone,     // the vchan closed under us (randomd stopped, or withdrew the server)
  protocol_error,  // a response that does not match the request (wrong id, length, version...)
  xenstore_error,  // writing the request node failed
  vchan_error,     // connecting or moving bytes failed otherwise (cause says why)
  invalid_argument,
};
const char* to_string(fetch_errc e) noexcept;

struct fetch_error {
  fetch_errc code;
  std::error_code cause{};                // the underlying vchan/xenstore error, if any
  std::optional<response_status> status;  // the server's answer, for refused/rate_limited
  std::string message() const;
};

template <class T>
using fetch_result = tl::expected<T, fetch_error>;

struct fetch_stats {
  std::uint64_t requests = 0;
  std::uint64_t rate_limited = 0;         // rate_limited answers received
  std::chrono::milliseconds waited{0};    // slept on retry-after
  std::uint64_t bytes = 0;                // entropy received
  std::uint64_t vchan_bytes = 0;          // bytes sent and received on the vchan
};

struct fetch_options {
  domid_t server = 0;           // randomd's domain
  std::uint32_t chunk = 1024;   // bytes per request (shrunk to what a too_large answer allows)
  fetch_stats* stats = nullptr; // accumulated into, if set
};

class entropy_client {
 public:
  // Writes the request node and connects within `timeout`. `xs` must outlive the call only.
  static fetch_result<entropy_client> connect(xenstore::client& xs, transport& t, std::chrono::milliseconds timeout,
                                              fetch_options opts = {});
  entropy_client(entropy_client&&) noexcept;
  entropy_client& operator=(entropy_client&&) noexcept;
  ~entropy_client();

  // `n` bytes of entropy within `timeout`, waiting out rate limits politely.
  fetch_result<std::vector<std::byte>> fetch(std::size_t n, std::chrono::milliseconds timeout);
  // The raw channel (tests, or a caller with its own protocol extensions).
  vchan::endpoint& channel() noexcept;
  void close() noexcept;

 private:
  struct state;
  explicit entropy_client(std::unique_ptr<state> s) noexcept;
  std::unique_ptr<state> s_;
};

// connect + fetch + close.
fetch_result<std::vector<std::byte>> fetch_entropy(xenstore::client& xs, transport& t, std::size_t n,
                                                   std::chrono::milliseconds timeout, fetch_options opts = {});

}  // namespace xenwire::randomd
