// Byte streams a client talks Xenstore over: a Unix socket, the xenbus device, or a guest's
// Xenstore ring page with its event channel. The client owns exactly one connection and drives it
// from two sides at once: one reader at a time (not always the same thread) calls read_some() while
// writers (serialised by the client) call write_all(). close() may come from any thread and
// unblocks both.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "xenwire/base/error.hpp"
#include "xenwire/ring/transport.hpp"

namespace xenwire::xenstore {

class client_connection {
 public:
  virtual ~client_connection() = default;
  // Writes every byte, blocking while the stream is full. Fails once closed or broken.
  virtual result<void> write_all(std::span<const std::byte> bytes) = 0;
  // Blocks until at least one byte arrives; peer_closed at end of stream, and once closed.
  virtual result<std::size_t> read_some(std::span<std::byte> out) = 0;
  // Unblocks read_some/write_all (they then fail with peer_closed) until reconnect().
  virtual void close() noexcept = 0;
  // Starts over on a fresh stream: a new socket on the same path, or the ring's reconnect
  // handshake (the server drops its state for this ring). Only while nobody reads or writes.
  virtual result<void> reconnect() = 0;
  // For messages: "socket /run/xenstored/socket", "xenstore ring (port 3)".
  virtual std::string describe() const = 0;
};

// libxenstore's lookup (xs_daemon_socket): $XENSTORED_PATH, else $XENSTORED_RUNDIR/socket, else
// /var/run/xenstored/socket. Empty variables count as unset.
std::string default_socket_path();
inline constexpr std::string_view xenbus_device_path = "/dev/xen/xenbus";

result<std::unique_ptr<client_connection>> connect_unix_socket(const std::string& path);
// The xenbus device carries the same byte stream as the socket (one request per write()).
result<std::unique_ptr<client_connection>> open_xenbus_device(const std::string& path = std::string(xenbus_device_path));
// As libxenstore's xs_open(0): the socket from default_socket_path(); if that fails and the xenbus
// device exists, the device.
result<std::unique_ptr<client_connection>> connect_default();

// A guest's Xenstore ring: the page (xenstore::domain_interface) shared with the server and the event
// channel bound for it. A server that sets the page's error field stops the connection with
// to_error_code(error) (ring_corrupt for RINGIDX, protocol_error for PROTO, peer_closed for COMM).
// `keep_alive` owns whatever keeps `page` mapped (e.g. the shared_pages); may be null.
// A non-zero evtchn_port in the page (Xen 4.21+, dom0less/Hyperlaunch domains) is the port used,
// whatever `port` says; `port` may then be 0. No port at all is invalid_argument.
result<std::unique_ptr<client_connection>> connect_ring(std::span<std::byte> page, std::unique_ptr<event_channel> events,
                                                        evtchn_port_t port, std::shared_ptr<void> keep_alive = {});
inline result<std::unique_ptr<client_connection>> connect_ring(std::unique_ptr<shared_pages> page,
                                                               std::unique_ptr<event_channel> events,
                                                               evtchn_port_t port) {
  auto bytes = page ? page->bytes() : std::span<std::byte>{};
  return connect_ring(bytes, std::move(events), port, std::shared_ptr<shared_pages>(std::move(page)));
}

}  // namespace xenwire::xenstore
