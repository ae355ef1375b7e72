// The data path: libxenvchan's read/write/recv/send (tools/libs/vchan/io.c) over vchan::stream,
// plus the checks libxenvchan lacks. Blocking calls spin on the ring briefly, then ask the peer for a
// signal (notify bit), look once more and sleep on the event channel.
//
// Every index, order, live and notify byte of a channel sits in one cache line of the control page
// that both sides write on every call, so the data path touches it as few times as it can: the
// stream's read_some/stage/commit load the peer's index only when the cached one falls short and
// ask for no signal; the rest comes right after our own index store has brought the line here
// (after_transfer; a write checks the peer's live byte between staging and committing).
#include <thread>

#include "endpoint_impl.hpp"
#include "xenwire/ring/shared_memory.hpp"

namespace xenwire::vchan {

namespace {

using vchan::interface;
using clock_type = std::chrono::steady_clock;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

// --- checks ---------------------------------------------------------------------------------------

std::error_code endpoint::impl::fail_with(std::error_code ec) noexcept {
  if (st != status::failed) {
    st = status::failed;
    err = ec;
  }
  return err;
}

std::error_code endpoint::impl::quick_check() const noexcept {
  if (st == status::failed) return err;
  if (shut) return make_error_code(errc::peer_closed);
  return {};
}

std::error_code endpoint::impl::precheck() noexcept {
  if (auto ec = quick_check()) return ec;
  return check_orders();
}

std::error_code endpoint::impl::check_orders() noexcept {
  // Our copies of the orders decide sizes and placement; a peer rewriting them is hostile (a real
  // libxenvchan peer never does). Relaxed: a value, not a publication.
  const auto left = shm::load_relaxed(shm::field<std::uint16_t>(page, offsetof(interface, left_order)));
  const auto right = shm::load_relaxed(shm::field<std::uint16_t>(page, offsetof(interface, right_order)));
  if (left != plan.left.order || right != plan.right.order) return fail_with(make_error_code(errc::ring_corrupt));
  return {};
}

status endpoint::impl::live_status() noexcept {
  if (st == status::failed || st == status::closed) return st;
  if (port_closed) return st = status::closed;
  // Acquire (in peer_live): pairs with the peer's release in set_live, so a peer seen closed has
  // published its last data.
  const auto b = static_cast<std::uint8_t>(s->peer_live());
  if (who == side::server) {
    switch (b) {
      case 2:
        if (st == status::connected) break;  // a client cannot un-connect
        return st = status::waiting;
      case 1: return st = status::connected;
      case 0: return st = status::closed;
      default: break;
    }
  } else {
    if (b == 1) return st = status::connected;
    if (b == 0) return st = status::closed;
  }
  fail_with(make_error_code(errc::protocol_error));
  return st;
}

namespace {
// Holds impl::writing for one write()/send(): the client a write starts for is the one it ends with.
struct write_guard {
  explicit write_guard(endpoint::impl& m) noexcept : m_(m) { m_.writing = true; }
  ~write_guard() { m_.writing = false; }
  write_guard(const write_guard&) = delete;
  write_guard& operator=(const write_guard&) = delete;
  endpoint::impl& m_;
};
}  // namespace

status endpoint::impl::refresh() noexcept {
  if (precheck()) return st;
  // The grant list is ours (server) or a copy we mapped (client): a change means a hostile peer.
  for (std::size_t i = 0; i < grants.size(); ++i) {
    const auto at = vchan::grants_offset + i * sizeof(grant_ref_t);
    if (shm::load_relaxed(shm::field<std::uint32_t>(page, at)) != grants[i]) {
      fail_with(make_error_code(errc::protocol_error));
      return st;
    }
  }
  if (!port_closed && !no_port_state && st != status::closed) {
    auto ps = events->state(port);
    if (!ps && ps.error() == errc::not_supported) {
      no_port_state = true;
    } else if (!ps) {
      fail_with(ps.error());
      return st;
    } else if (*ps == port_state::peer_closed) {
      port_closed = true;
    }
  }
  live_status();
  if (st == status::closed && who == side::server && persistent && !writing) {
    // Re-arm once the departed client's data has been read.
    auto left = s->data_ready();
    if (!left) {
      fail_with(left.error());
    } else if (*left == 0) {
      (void)rearm();
    }
  }
  return st;
}

void endpoint::impl::signal_peer() noexcept {
  auto ok = events->notify(port);
  if (ok) return;
  if (ok.error() == errc::peer_closed) {
    port_closed = true;
  } else {
    fail_with(ok.error());
  }
}

std::optional<clock_type::time_point> endpoint::impl::deadline() const noexcept {
  if (io.timeout.count() < 0) return std::nullopt;
  return clock_type::now() + io.timeout;
}

std::optional<clock_type::time_point> endpoint::impl::lazy_deadline::get(const impl& m) noexcept {
  if (!known) {
    at = m.deadline();
    known = true;
  }
  return at;
}

result<void> endpoint::impl::sleep(std::optional<clock_type::time_point> until) noexcept {
  // Before sleeping: the slow checks (a peer whose port went away would never wake us).
  refresh();
  if (st == status::failed) return fail(err);
  if (st == status::closed) return {};  // the caller looks again and reports it
  std::chrono::milliseconds left{-1};
  if (until) {
    const auto now = clock_type::now();
    if (now >= *until) return fail(errc::timed_out);
    left = std::chrono::ceil<std::chrono::milliseconds>(*until - now);
  }
  auto woke = events->wait(left);
  if (!woke) {
    if (woke.error() == errc::timed_out) return fail(errc::timed_out);
    return fail(fail_with(woke.error()));
  }
  return {};
}

// --- data path ------------------------------------------------------------------------------------

std::error_code endpoint::impl::after_transfer(const transfer& done) noexcept {
  if (done.notify) signal_peer();
  // The orders share the cache line our index store just took: checking them here costs no
  // transfer, where checking before the copy would fetch the line once more.
  if (auto ec = check_orders()) return ec;
  return st == status::failed ? err : std::error_code{};
}

bool endpoint::impl::spin(unsigned& spins, lazy_deadline& until) const noexcept {
  if (io.mode != io_mode::blocking) return false;
  // The first time the call cannot progress starts its timeout: the clock read stays off the
  // fast path without letting spinning stretch the timeout.
  (void)until.get(*this);
  if (spins >= io.spin) return false;
  ++spins;
  // A few pauses first (a peer busy on another CPU answers within a few hundred ns), then yield
  // every other round so a peer sharing our CPU runs at once instead of after our whole budget (a
  // pause can take 140 cycles; measured: yielding every 256 rounds cost ~16 us per hand-off).
  if (spins > 4 && spins % 2 == 0) {
    std::this_thread::yield();
  } else {
    cpu_relax();
  }
  return true;
}

result<bool> endpoint::impl::short_of_data(std::size_t need) noexcept {
  if (auto ec = check_orders()) return fail(ec);
  const status now = live_status();
  if (now == status::failed) return fail(err);
  if (now != status::closed) return false;
  // The live byte's acquire made the peer's last data visible: one more look.
  auto left = s->data_ready();
  if (!left) return fail(fail_with(left.error()));
  if (*left >= need) return true;
  // Nothing more will come from this peer, and a partial packet from it never completes; only a
  // persistent server with nothing left of its departed client goes on, re-armed.
  if (!(who == side::server && persistent) || *left > 0) return fail(errc::peer_closed);
  if (refresh() == status::failed) return fail(err);
  if (io.mode == io_mode::non_blocking) return fail(errc::would_block);
  return true;
}

result<bool> endpoint::impl::await_peer(std::uint8_t bit, std::size_t need, lazy_deadline& until) noexcept {
  s->request_notify(bit);
  auto now = bit == vchan::notify_write ? s->data_ready() : s->buffer_space();
  if (!now) return fail(fail_with(now.error()));
  if (*now >= need) return false;
  if (io.mode == io_mode::non_blocking) return fail(errc::would_block);
  if (auto ok = sleep(until.get(*this)); !ok) return fail(ok.error());
  return true;
}

result<std::size_t> endpoint::read(std::span<std::byte> out) {
  if (!impl_) return fail(errc::invalid_argument);
  impl& m = *impl_;
  // The fast path reads no control byte before the copy (see after_transfer).
  if (auto ec = m.quick_check()) return fail(ec);
  if (out.empty()) return std::size_t{0};
  impl::lazy_deadline until;  // started by the first spin(): calls that never wait never read the clock
  unsigned spins = 0;
  for (;;) {
    auto done = m.s->read_some(out);
    if (!done) return fail(m.fail_with(done.error()));
    if (done->bytes > 0) {
      if (auto ec = m.after_transfer(*done)) return fail(ec);
      // Non-blocking callers return to their loop: as libxenvchan, a short read asks for a signal
      // on the next write so the fd wakes them.
      if (m.io.mode == io_mode::non_blocking && done->bytes < out.size()) {
        m.s->request_notify(vchan::notify_write);
      }
      return done->bytes;
    }
    auto look_again = m.short_of_data(1);
    if (!look_again) return fail(look_again.error());
    if (*look_again) continue;
    if (m.spin(spins, until)) continue;
    auto slept = m.await_peer(vchan::notify_write, 1, until);
    if (!slept) return fail(slept.error());
    if (*slept) spins = 0;
  }
}

result<std::size_t> endpoint::write(std::span<const std::byte> bytes) {
  if (!impl_) return fail(errc::invalid_argument);
  impl& m = *impl_;
  if (auto ec = m.quick_check()) return fail(ec);
  if (bytes.empty()) return std::size_t{0};
  impl::lazy_deadline until;  // started by the first spin(): calls that never wait never read the clock
  std::size_t done = 0;
  unsigned spins = 0;
  const write_guard guard(m);
  for (;;) {
    auto n = m.s->stage(bytes.subspan(done));
    if (!n) return fail(m.fail_with(n.error()));
    // The peer's live byte after the copy, right before publishing: one fetch of the control line
    // then serves this check, our index store and the notify check. Bytes staged for a peer seen
    // closed are never published.
    const status st = m.live_status();
    if (st == status::failed) return fail(m.err);
    if (st == status::closed) {
      if (done > 0) return done;
      return fail(errc::peer_closed);
    }
    if (*n > 0) {
      if (auto ec = m.after_transfer(m.s->commit(*n))) return fail(ec);
      done += *n;
      if (done == bytes.size()) return done;
      if (m.io.mode == io_mode::non_blocking) {
        m.s->request_notify(vchan::notify_read);  // as libxenvchan: wake us when there is room
        return done;
      }
      spins = 0;
      continue;
    }
    if (auto ec = m.check_orders()) return fail(ec);
    if (m.spin(spins, until)) continue;
    auto slept = m.await_peer(vchan::notify_read, 1, until);
    if (!slept) {
      // Not waiting any longer (non-blocking, or the timeout): what went in so far is the answer.
      if (done > 0 && (slept.error() == errc::would_block || slept.error() == errc::timed_out)) return done;
      return fail(slept.error());
    }
    if (*slept) spins = 0;
  }
}

result<void> endpoint::recv(std::span<std::byte> out) {
  if (!impl_) return fail(errc::invalid_argument);
  impl& m = *impl_;
  if (auto ec = m.quick_check()) return fail(ec);
  if (out.size() > read_ring_size()) return fail(errc::invalid_argument);
  if (out.empty()) return {};
  impl::lazy_deadline until;  // started by the first spin(): calls that never wait never read the clock
  unsigned spins = 0;
  for (;;) {
    auto ready = m.s->data_ready();
    if (!ready) return fail(m.fail_with(ready.error()));
    if (*ready >= out.size()) {
      auto done = m.s->read_some(out);
      if (!done) return fail(m.fail_with(done.error()));
      // Data ready only grows while we do not consume: less than we saw means a lying peer.
      if (done->bytes != out.size()) return fail(m.fail_with(make_error_code(errc::ring_corrupt)));
      if (auto ec = m.after_transfer(*done)) return fail(ec);
      return {};
    }
    auto look_again = m.short_of_data(out.size());
    if (!look_again) return fail(look_again.error());
    if (*look_again) continue;
    if (m.spin(spins, until)) continue;
    auto slept = m.await_peer(vchan::notify_write, out.size(), until);
    if (!slept) return fail(slept.error());
    if (*slept) spins = 0;
  }
}

result<void> endpoint::send(std::span<const std::byte> bytes) {
  if (!impl_) return fail(errc::invalid_argument);
  impl& m = *impl_;
  if (auto ec = m.precheck()) return fail(ec);
  if (bytes.size() > write_ring_size()) return fail(errc::invalid_argument);
  if (bytes.empty()) return {};
  impl::lazy_deadline until;  // started by the first spin(): calls that never wait never read the clock
  unsigned spins = 0;
  const write_guard guard(m);
  for (;;) {
    const status st = m.live_status();
    if (st == status::failed) return fail(m.err);
    if (st == status::closed) return fail(errc::peer_closed);
    auto space = m.s->buffer_space();
    if (!space) return fail(m.fail_with(space.error()));
    if (*space >= bytes.size()) {
      auto done = m.s->write_some(bytes);
      if (!done) return fail(m.fail_with(done.error()));
      // Space only grows while we do not produce: less than we saw means a lying peer.
      if (done->bytes != bytes.size()) return fail(m.fail_with(make_error_code(errc::ring_corrupt)));
      if (auto ec = m.after_transfer(*done)) return fail(ec);
      return {};
    }
    if (m.spin(spins, until)) continue;
    auto slept = m.await_peer(vchan::notify_read, bytes.size(), until);
    if (!slept) return fail(slept.error());
    if (*slept) spins = 0;
  }
}

result<std::size_t> endpoint::data_ready() {
  if (!impl_) return fail(errc::invalid_argument);
  if (auto ec = impl_->precheck()) return fail(ec);
  // libxenvchan_data_ready: the value is used outside, so ask to hear when it changes.
  impl_->s->request_notify(vchan::notify_write);
  auto ready = impl_->s->data_ready();
  if (!ready) return fail(impl_->fail_with(ready.error()));
  return *ready;
}

result<std::size_t> endpoint::buffer_space() {
  if (!impl_) return fail(errc::invalid_argument);
  if (auto ec = impl_->precheck()) return fail(ec);
  impl_->s->request_notify(vchan::notify_read);
  auto space = impl_->s->buffer_space();
  if (!space) return fail(impl_->fail_with(space.error()));
  return *space;
}

bool endpoint::is_open() {
  if (!impl_ || impl_->shut) return false;
  const status st = impl_->refresh();
  if (st == status::failed) return false;
  if (impl_->who == side::server && impl_->persistent) return true;
  return st == status::waiting || st == status::connected;
}

status endpoint::state() {
  if (!impl_) return status::failed;
  if (impl_->shut) return impl_->st;
  return impl_->refresh();
}

result<status> endpoint::handle_events() {
  if (!impl_) return fail(errc::invalid_argument);
  impl& m = *impl_;
  if (m.shut) return m.st;
  for (;;) {
    auto p = m.events->pending();
    if (!p) return fail(m.fail_with(p.error()));
    if (!*p) break;
  }
  const status st = m.refresh();
  if (st == status::failed) return fail(m.err);
  return st;
}

result<void> endpoint::kick() {
  if (!impl_) return fail(errc::invalid_argument);
  if (auto ec = impl_->precheck()) return fail(ec);
  impl_->signal_peer();
  if (impl_->st == status::failed) return fail(impl_->err);
  return {};
}

result<void> endpoint::wait() {
  if (!impl_) return fail(errc::invalid_argument);
  if (auto ec = impl_->precheck()) return fail(ec);
  return impl_->sleep(impl_->deadline());
}

}  // namespace xenwire::vchan
