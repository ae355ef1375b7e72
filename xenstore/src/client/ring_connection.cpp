// A guest's Xenstore ring as a client byte stream.
//
// The reader (whichever thread holds the client's read turn) and a writer may both need to sleep
// on the one event channel, but a notification taken by one is lost to the other. So one of them
// at a time polls the channel (the "poller") and bumps a generation counter after every wake-up;
// the other sleeps on a condition variable until the generation moves. Ring state is checked
// under the same mutex before sleeping, so no wake-up is missed. Reads may carry a deadline (a
// caller reading its own reply): the poller then sleeps at most until it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "deadline_read.hpp"
#include "xenwire/ring/xenstore_ring.hpp"
#include "xenwire/xenstore/client/connection.hpp"

namespace xenwire::xenstore {
namespace {

using namespace std::chrono_literals;

// How long the poller sleeps before looking at close() and the port's state again.
constexpr auto poll_slice = 50ms;
constexpr auto reconnect_timeout = 10s;

using time_point = detail::deadline_read::time_point;

class ring_connection final : public client_connection, public detail::deadline_read {
 public:
  ring_connection(xenstore::guest_ring ring, std::unique_ptr<event_channel> events, evtchn_port_t port,
                  std::shared_ptr<void> keep_alive) noexcept
      : ring_(ring), events_(std::move(events)), port_(port), keep_alive_(std::move(keep_alive)) {}

  ~ring_connection() override {
    if (events_) (void)events_->unbind(port_);
  }

  result<void> write_all(std::span<const std::byte> bytes) override {
    std::unique_lock lk(mu_);
    while (!bytes.empty()) {
      const std::uint64_t seen = gen_;
      auto t = ring_.write(bytes);
      if (!t && t.error() != errc::would_block) return fail(t.error());
      if (t) {
        if (t->notify) {
          if (auto n = events_->notify(port_); !n) return fail(n.error());
        }
        bytes = bytes.subspan(t->bytes);
        if (t->bytes > 0) continue;
      }
      if (auto w = wait(lk, seen, time_point::max()); !w) return w;
    }
    return {};
  }

  result<std::size_t> read_some(std::span<std::byte> out) override { return read_some_until(out, time_point::max()); }

  result<std::size_t> read_some_until(std::span<std::byte> out, time_point deadline) override {
    std::unique_lock lk(mu_);
    for (;;) {
      const std::uint64_t seen = gen_;
      auto t = ring_.read(out);
      if (!t && t.error() != errc::would_block) return fail(t.error());
      if (t && t->bytes > 0) {
        if (t->notify) {
          if (auto n = events_->notify(port_); !n) return fail(n.error());
        }
        return t->bytes;
      }
      if (auto w = wait(lk, seen, deadline); !w) return fail(w.error());
    }
  }

  void close() noexcept override {
    std::lock_guard lk(mu_);
    closed_ = true;
    cv_.notify_all();
  }

  result<void> reconnect() override {
    std::unique_lock lk(mu_);
    closed_ = false;
    if (auto r = ring_.request_reconnect(); !r) return r;
    if (auto n = events_->notify(port_); !n) return n;
    const auto deadline = std::chrono::steady_clock::now() + reconnect_timeout;
    for (;;) {
      const std::uint64_t seen = gen_;
      if (ring_.reconnected()) return {};
      if (std::chrono::steady_clock::now() > deadline) return fail(errc::timed_out);
      if (auto w = wait(lk, seen, time_point::max()); !w) return w;
    }
  }

  std::string describe() const override { return "xenstore ring (event channel port " + std::to_string(port_) + ")"; }

 private:
  // Returns once the generation differs from `seen` (something may have changed), or fails;
  // timed_out once `deadline` passes.
  result<void> wait(std::unique_lock<std::mutex>& lk, std::uint64_t seen, time_point deadline) {
    const bool bounded = deadline != time_point::max();
    while (gen_ == seen) {
      if (closed_) return fail(errc::peer_closed);
      const auto now = bounded ? std::chrono::steady_clock::now() : time_point{};
      if (bounded && now >= deadline) return fail(errc::timed_out);
      if (polling_) {
        if (bounded) {
          cv_.wait_until(lk, deadline);
        } else {
          cv_.wait(lk);
        }
        continue;
      }
      auto slice = std::chrono::milliseconds(poll_slice);
      if (bounded) slice = std::min(slice, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
      polling_ = true;
      lk.unlock();
      auto r = events_->wait(slice);
      auto st = events_->state(port_);
      lk.lock();
      polling_ = false;
      ++gen_;
      cv_.notify_all();
      if (!r && r.error() != errc::timed_out) return fail(r.error());
      if (!st) return fail(st.error());
      if (*st == port_state::peer_closed) return fail(closed_reason());
    }
    return {};
  }

  // A server that stops serving a ring writes why into the page before it closes the port (the
  // close orders the two), so a closed port with an error in the page reports that error.
  std::error_code closed_reason() const noexcept {
    const auto why = ring_.server_error();
    return why == xenstore::ring_error::none ? make_error_code(errc::peer_closed) : xenstore::to_error_code(why);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t gen_ = 0;
  bool polling_ = false;
  bool closed_ = false;
  xenstore::guest_ring ring_;
  std::unique_ptr<event_channel> events_;
  evtchn_port_t port_;
  std::shared_ptr<void> keep_alive_;
};

}  // namespace

result<std::unique_ptr<client_connection>> connect_ring(std::span<std::byte> page, std::unique_ptr<event_channel> events,
                                                        evtchn_port_t port, std::shared_ptr<void> keep_alive) {
  if (!events) return fail(errc::invalid_argument);
  auto ring = xenstore::guest_ring::attach(page);
  if (!ring) return fail(ring.error());
  // Xen 4.21+: for dom0less/Hyperlaunch domains Xen writes the domain's Xenstore port into the page
  // (evtchn_port); when non-zero it is the port, so a caller that does not know it may pass 0.
  auto* iface = static_cast<xenstore::domain_interface*>(static_cast<void*>(page.data()));
  if (const std::uint32_t in_page = std::atomic_ref<std::uint32_t>(iface->evtchn_port).load(std::memory_order_acquire))
    port = in_page;
  if (port == 0) return fail(errc::invalid_argument);
  return std::unique_ptr<client_connection>(new ring_connection(*ring, std::move(events), port, std::move(keep_alive)));
}

}  // namespace xenwire::xenstore
