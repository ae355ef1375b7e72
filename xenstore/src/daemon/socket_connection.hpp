// One Unix-socket client of the core: moves bytes between the socket and server_core.
// Input is read into the daemon's shared scratch buffer and fed to the core; what the core does not
// take now (quotas) is kept here and offered again once wants_input() turns true, and the socket is
// not read meanwhile (back-pressure reaches the client through the kernel's buffers). Output is
// written from peek_output() and acknowledged as sent; a full socket means waiting for EPOLLOUT.
// With io_uring the adapter submits the receives and sends; the connection keeps their buffers
// (valid until each completes) and turns their results into the same core calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "daemon/message_tracer.hpp"
#include "xenwire/base/error.hpp"
#include "xenwire/base/unique_fd.hpp"
#include "xenwire/xenstore/daemon/xenstored.hpp"
#include "xenwire/xenstore/server/core.hpp"

namespace xenwire::xenstore {

class socket_connection {
 public:
  socket_connection(unique_fd fd, conn_id id, bool trace);

  int fd() const noexcept { return fd_.get(); }
  conn_id id() const noexcept { return id_; }

  // Each fails when the connection must be closed: peer_closed on EOF, protocol_error (or the
  // core's code) when the core refuses the input, the OS error for a broken socket.
  result<void> on_readable(server_core& core, std::span<std::byte> scratch, time_point now, const trace_sink& trace);
  // Offers held-back input again if the core wants it now. Sets `progressed` if any was taken.
  result<void> offer_pending(server_core& core, time_point now, const trace_sink& trace, bool& progressed);
  // Writes queued output until it is all sent or the socket is full.
  result<void> flush(server_core& core, time_point now, const trace_sink& trace);

  bool paused() const noexcept { return pending_off_ < pending_.size(); }
  // Live update: input read and not yet taken by the core, carried across; and taken back.
  std::string_view held() const noexcept {
    return {reinterpret_cast<const char*>(pending_.data()) + pending_off_, pending_.size() - pending_off_};
  }
  void hold(std::string_view bytes);
  bool write_blocked() const noexcept { return write_blocked_; }
  // ---- io_uring: one (multishot) receive and one send in flight at most ----
  // Bytes received (empty: the peer closed). Fails as on_readable() does. While the connection is
  // paused they are only held: the receive, being cancelled, may still deliver some.
  result<void> on_received(server_core& core, std::span<const std::byte> bytes, time_point now,
                           const trace_sink& trace);
  // Live update: bytes received while quiescing are held, not fed (their effects would be lost).
  void hold_received(std::span<const std::byte> bytes);
  // Copies the output to send next; empty if there is none.
  std::span<const std::byte> stage_send(server_core& core);
  void on_sent(server_core& core, std::size_t n, time_point now, const trace_sink& trace);
  bool receiving = false;  // a receive is armed
  bool receive_cancelled = false;  // ... and asked to stop (the connection is paused)
  bool sending = false;    // a send is in flight

  // The epoll interest this state calls for.
  std::uint32_t wanted_events() const noexcept;
  std::uint32_t registered_events = 0;  // what the loop currently has (kept by the daemon)

 private:
  result<std::size_t> feed(server_core& core, std::span<const std::byte> bytes, time_point now, const trace_sink& trace);
  // Feeds freshly read bytes; what the core does not take is held.
  result<void> take(server_core& core, std::span<const std::byte> bytes, time_point now, const trace_sink& trace);

  unique_fd fd_;
  conn_id id_;
  std::vector<std::byte> pending_;  // input the core has not taken yet; capacity is reused
  std::size_t pending_off_ = 0;
  bool write_blocked_ = false;
  std::vector<std::byte> tx_;  // io_uring: the bytes of the send in flight
  std::optional<message_tracer> trace_in_;
  std::optional<message_tracer> trace_out_;
};

}  // namespace xenwire::xenstore
