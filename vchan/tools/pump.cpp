#include "pump.hpp"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

namespace xenwire::vchan_proxy {

namespace {

constexpr std::size_t buffer_size = 64 * 1024;
// After this long without any event while our bytes sit unread, the peer is signalled again.
constexpr int kick_after_ms = 100;

// Bytes waiting between a reader and a writer: [begin, end) of a fixed block.
class buffer {
 public:
  buffer() : data_(buffer_size) {}
  std::size_t size() const noexcept { return end_ - begin_; }
  std::size_t space() const noexcept { return data_.size() - end_; }
  std::span<std::byte> tail() noexcept { return std::span(data_).subspan(end_); }
  std::span<const std::byte> head() const noexcept { return std::span(data_).subspan(begin_, size()); }
  void produced(std::size_t n) noexcept { end_ += n; }
  void consumed(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Moves what is left to the front when less than half the block is free behind it.
  void compact() noexcept {
    if (begin_ == 0 || space() >= data_.size() / 2) return;
    std::memmove(data_.data(), data_.data() + begin_, size());
    end_ -= begin_;
    begin_ = 0;
  }
  void clear() noexcept { begin_ = end_ = 0; }

 private:
  std::vector<std::byte> data_;
  std::size_t begin_ = 0, end_ = 0;
};

}  // namespace

const char* to_string(session_end e) noexcept {
  switch (e) {
    case session_end::vchan_closed: return "the vchan closed";
    case session_end::local_eof: return "the local input ended";
    case session_end::local_error: return "the local side failed";
  }
  return "?";
}

result<session_end> pump(vchan::endpoint& ep, int in_fd, int out_fd, pump_stats& stats) {
  // A persistent server re-arms (new keys) once its client left and everything it sent was read.
  const bool server = ep.role() == vchan::side::server;
  const vchan::keys keys_at_start = ep.published();
  buffer in, out;       // local → vchan, vchan → local
  bool in_eof = false;  // local input ended
  bool peer_gone = false;  // a write found the peer closed: its last bytes are still read

  for (;;) {
    // vchan → out: everything ready; a closed peer's remaining bytes, then its end.
    bool vchan_done = false;
    // Only a read that came up short or found nothing asked the peer for a signal: sleeping on the
    // event channel after a read that filled the buffer could wait forever.
    bool vchan_armed = false;
    while (out.space() > 0) {
      // Re-armed (in the last read or handle_events): the departed client's bytes were all read
      // before, and anything on the channel now is the next client's, for the next session.
      if (server && ep.published() != keys_at_start) {
        vchan_done = true;
        break;
      }
      auto r = ep.read(out.tail());
      if (r) {
        out.produced(*r);
        stats.from_vchan += *r;
        continue;
      }
      if (r.error() == errc::would_block) {
        vchan_armed = true;
        if (server && ep.published() != keys_at_start) vchan_done = true;  // re-armed in this read
        break;
      }
      if (r.error() == errc::peer_closed) {
        vchan_done = true;
        break;
      }
      return fail(r.error());
    }

    // out → local output.
    while (out.size() > 0) {
      const ssize_t n = ::write(out_fd, out.head().data(), out.size());
      if (n > 0) {
        out.consumed(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      spdlog::warn("writing to the local side: {}", n < 0 ? std::strerror(errno) : "wrote nothing");
      return session_end::local_error;
    }
    out.compact();
    if (vchan_done && out.size() == 0) return session_end::vchan_closed;

    // local input → in.
    if (!in_eof && !peer_gone && !vchan_done && in.space() > 0) {
      const ssize_t n = ::read(in_fd, in.tail().data(), in.space());
      if (n > 0) {
        in.produced(static_cast<std::size_t>(n));
      } else if (n == 0) {
        in_eof = true;
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        spdlog::warn("reading from the local side: {}", std::strerror(errno));
        return session_end::local_error;
      }
    }

    // in → vchan.
    while (in.size() > 0 && !peer_gone && !vchan_done) {
      auto w = ep.write(in.head());
      if (w) {
        in.consumed(*w);
        stats.to_vchan += *w;
        if (*w == 0) break;
        continue;
      }
      if (w.error() == errc::would_block) break;
      if (w.error() == errc::peer_closed) {
        peer_gone = true;  // what the peer sent before closing is still read above
        in.clear();
        break;
      }
      return fail(w.error());
    }
    in.compact();
    if (in_eof && in.size() == 0 && !peer_gone) return session_end::local_eof;

    // Room for more from the vchan but no signal asked for: look at the ring again first.
    if (!vchan_done && !vchan_armed && out.space() > 0) continue;

    // Sleep until the vchan signals or a local fd is ready.
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    // Once the vchan is done only the output fd matters (a dead peer's port may stay readable).
    fds[n++] = {.fd = vchan_done ? -1 : ep.fd(), .events = POLLIN, .revents = 0};
    if (!in_eof && !peer_gone && !vchan_done && in.space() > 0) fds[n++] = {.fd = in_fd, .events = POLLIN, .revents = 0};
    if (out.size() > 0) fds[n++] = {.fd = out_fd, .events = POLLOUT, .revents = 0};
    const int ready = ::poll(fds.data(), n, vchan_done ? -1 : kick_after_ms);
    if (ready < 0 && errno != EINTR) return fail(std::error_code(errno, std::generic_category()));
    if (ready == 0) {
      // Quiet for a while with our bytes unread in the ring: the peer may have missed its wake-up
      // (vchan-socket-proxy does at connection start). A signal costs nothing; a stall costs all.
      auto space = ep.buffer_space();
      if (space && *space < ep.write_ring_size()) {
        spdlog::debug("peer idle with {} bytes unread in the ring: signalling it again", ep.write_ring_size() - *space);
        if (auto ok = ep.kick(); !ok) return fail(ok.error());
      }
      continue;
    }
    if (fds[0].revents != 0) {
      auto st = ep.handle_events();
      if (!st) return fail(st.error());
      if (*st == vchan::status::failed) return fail(ep.error());
    }
  }
}

}  // namespace xenwire::vchan_proxy
