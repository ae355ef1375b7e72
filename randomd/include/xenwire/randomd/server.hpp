// randomd: serves entropy to guests over vchan, from one thread.
//
//   auto d = randomd::server::create(dom0_transport, dom0_xenstore_client, {}).value();
//   std::thread t([&] { d->run(); });   // ... d->stop(); t.join();
//
// Discovery (discovery.hpp): @introduceDomain/@releaseDomain and one watch per guest's request node.
// Each requesting guest gets a persistent vchan server (the guest may reconnect at will); its
// requests (protocol.hpp) are answered from getrandom() within a per-guest token bucket
// (token_bucket.hpp). Every vchan is non-blocking and driven by one vchan::poll_set; a guest is
// served at most `requests_per_wakeup` requests before the others get their turn, and randomd reads
// a guest's next request only once the previous response is fully written, so a guest that never
// reads costs one response of memory.
//
// The Xenstore watches' fds sit in the same poll_set as the vchans (and an eventfd stop() writes),
// so a watch event, a vchan signal or stop() wakes the loop at once; `watch_poll` only bounds each
// sleep, for watches that could get no fd. Xenstore calls are blocking (the client's timeout
// applies).
// The library never prints: `on_event` receives one line per notable per-guest event.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "xenwire/randomd/entropy.hpp"
#include "xenwire/randomd/token_bucket.hpp"
#include "xenwire/base/error.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::randomd {

struct server_config {
  rate_limit limit{};                 // per guest: 4096 B/s, burst 2048 B
  std::uint32_t max_request = 2048;   // bytes per request (never more than limit.burst)
  std::size_t max_guests = 256;       // guests served at once; further requests are ignored
  unsigned requests_per_wakeup = 16;  // fairness between guests
  std::chrono::milliseconds watch_poll{5};
  std::size_t read_ring = 1024;       // guest → randomd (12-byte requests)
  std::size_t write_ring = 2048;      // randomd → guest; both fit in the control page: one grant
  entropy_source source = system_entropy;
  // Called on the server's thread: "serving (keys at ...)", "client connected", "rate-limited", ...
  std::function<void(domid_t guest, std::string_view what)> on_event;
};

// Counters, readable from any thread.
struct server_stats {
  std::uint64_t guests_seen = 0;         // introduced domains watched
  std::uint64_t servers_started = 0;     // vchan servers published
  std::uint64_t connections = 0;         // guest connections accepted
  std::uint64_t requests = 0;            // complete request frames read
  std::uint64_t served = 0;              // ok responses
  std::uint64_t entropy_bytes = 0;       // payload bytes of ok responses
  std::uint64_t rate_limited = 0;        // rate_limited responses
  std::uint64_t too_large = 0;
  std::uint64_t bad_requests = 0;
  std::uint64_t unavailable = 0;
  std::uint64_t bad_nonces = 0;          // malformed request nodes ignored
  std::uint64_t vchan_bytes_in = 0;      // bytes read from guests
  std::uint64_t vchan_bytes_out = 0;     // bytes written to guests (headers + entropy)
  std::uint64_t dropped_responses = 0;   // responses whose guest left before reading them
  std::uint64_t servers_failed = 0;      // vchans that failed (hostile page, dead guest's re-arm)
  std::uint64_t guests_released = 0;     // sessions ended by @releaseDomain
};

class server {
 public:
  // `t` (the serving domain's transport) and `xs` must outlive the server; `xs` should be the
  // server's own connection (its watches and blocking calls are made from run()'s thread).
  static result<std::unique_ptr<server>> create(transport& t, xenstore::client& xs, server_config cfg = {});
  ~server();  // closes every vchan server (removing its keys) and unregisters its watches
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Serves until stop(); fails if the Xenstore connection or the epoll set breaks.
  result<void> run();
  // One turn of the loop: waits up to `max_wait` for vchan activity, then handles watches.
  result<void> step(std::chrono::milliseconds max_wait);
  // Any thread.
  void stop() noexcept;

  server_stats stats() const noexcept;
  // Guests with a vchan server right now. Any thread.
  std::size_t serving() const noexcept;

  struct impl;

 private:
  explicit server(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

}  // namespace xenwire::randomd
