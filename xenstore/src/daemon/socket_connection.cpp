#include "daemon/socket_connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace xenwire::xenstore {
namespace {

tl::unexpected<std::error_code> errno_error(int e = errno) noexcept {
  return tl::unexpected<std::error_code>(std::error_code(e, std::generic_category()));
}

// Reads per readiness event before yielding to other connections (epoll is level-triggered).
constexpr int reads_per_event = 4;
// io_uring: the most output one send carries (a batch of replies).
constexpr std::size_t send_size = 64 * 1024;

}  // namespace

socket_connection::socket_connection(unique_fd fd, conn_id id, bool trace) : fd_(std::move(fd)), id_(id) {
  if (trace) {
    trace_in_.emplace("conn " + std::to_string(id) + " <");
    trace_out_.emplace("conn " + std::to_string(id) + " >");
  }
}

void socket_connection::hold(std::string_view bytes) {
  const auto b = std::as_bytes(std::span(bytes.data(), bytes.size()));
  pending_.assign(b.begin(), b.end());
  pending_off_ = 0;
}

std::uint32_t socket_connection::wanted_events() const noexcept {
  std::uint32_t events = 0;
  if (!paused()) events |= EPOLLIN;
  if (write_blocked_) events |= EPOLLOUT;
  return events;
}

result<std::size_t> socket_connection::feed(server_core& core, std::span<const std::byte> bytes, time_point now,
                                            const trace_sink& trace) {
  auto taken = core.feed(id_, bytes, now);
  if (!taken) return fail(taken.error());
  if (trace_in_ && trace && *taken > 0) trace_in_->feed(bytes.first(*taken), trace);
  return *taken;
}

result<void> socket_connection::on_readable(server_core& core, std::span<std::byte> scratch, time_point now,
                                            const trace_sink& trace) {
  for (int i = 0; i < reads_per_event && !paused(); ++i) {
    const ssize_t n = ::recv(fd_.get(), scratch.data(), scratch.size(), MSG_DONTWAIT);
    if (n == 0) return fail(errc::peer_closed);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return {};
      if (errno == ECONNRESET) return fail(errc::peer_closed);
      return errno_error();
    }
    if (auto r = take(core, std::span<const std::byte>(scratch.data(), static_cast<std::size_t>(n)), now, trace); !r)
      return r;
    if (static_cast<std::size_t>(n) < scratch.size()) return {};  // drained the socket
  }
  return {};
}

result<void> socket_connection::take(server_core& core, std::span<const std::byte> bytes, time_point now,
                                     const trace_sink& trace) {
  auto taken = feed(core, bytes, now, trace);
  if (!taken) return fail(taken.error());
  if (*taken < bytes.size()) {
    const auto rest = bytes.subspan(*taken);
    pending_.assign(rest.begin(), rest.end());
    pending_off_ = 0;
  }
  return {};
}

result<void> socket_connection::on_received(server_core& core, std::span<const std::byte> bytes, time_point now,
                                            const trace_sink& trace) {
  if (bytes.empty()) return fail(errc::peer_closed);
  if (paused()) {
    hold_received(bytes);
    return {};
  }
  return take(core, bytes, now, trace);
}

void socket_connection::hold_received(std::span<const std::byte> bytes) {
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
}

std::span<const std::byte> socket_connection::stage_send(server_core& core) {
  core.stage_output(id_, tx_, send_size);
  return tx_;
}

void socket_connection::on_sent(server_core& core, std::size_t n, time_point now, const trace_sink& trace) {
  if (trace_out_ && trace) trace_out_->feed(std::span<const std::byte>(tx_).first(n), trace);
  core.consume_output(id_, n, now);
}

result<void> socket_connection::offer_pending(server_core& core, time_point now, const trace_sink& trace,
                                              bool& progressed) {
  if (!paused() || !core.wants_input(id_, now)) return {};
  auto rest = std::span<const std::byte>(pending_).subspan(pending_off_);
  auto taken = feed(core, rest, now, trace);
  if (!taken) return fail(taken.error());
  if (*taken > 0) progressed = true;
  pending_off_ += *taken;
  if (!paused()) {
    pending_.clear();
    pending_off_ = 0;
  }
  return {};
}

result<void> socket_connection::flush(server_core& core, time_point now, const trace_sink& trace) {
  write_blocked_ = false;
  while (core.has_output(id_)) {
    const auto out = core.peek_output(id_);
    if (out.empty()) break;
    const ssize_t n = ::send(fd_.get(), out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        write_blocked_ = true;
        return {};
      }
      if (errno == EPIPE || errno == ECONNRESET) return fail(errc::peer_closed);
      return errno_error();
    }
    const auto sent = static_cast<std::size_t>(n);
    if (trace_out_ && trace) trace_out_->feed(out.first(sent), trace);
    core.consume_output(id_, sent, now);
  }
  return {};
}

}  // namespace xenwire::xenstore
