// libxenvchan-compatible byte streams between two domains, over the transport seam.
//
//   // server (domain S), for client domain C:
//   auto srv = vchan::endpoint::serve(transport, rdv, {.client = C, .path = vchan::default_path(S, C, "data")});
//   // client (domain C):
//   auto cli = vchan::endpoint::connect(transport, rdv, {.server = S, .path = same path});
//   cli->write(bytes); srv->read(buffer);
//
// Wire-compatible with tools/libs/vchan: the control page (vchan_layout.hpp), ring sizing and
// placement (vchan_placement.hpp), the notify bits and live states (vchan_ring.hpp) and the setup
// order are libxenvchan's, so either side may be libxenvchan on a real host.
//
// Unlike libxenvchan, a hostile or broken peer is reported: indices out of range, ring orders
// changed after setup, a rewritten grant list or a live byte outside {0, 1, 2} put the endpoint in
// status::failed, and every later call returns that error (ring_corrupt / protocol_error).
//
// Threads: one thread at a time per endpoint (libxenvchan's rule too). Distinct endpoints are
// independent. The fd (the event channel's) can be put in poll/epoll; see event_loop.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include "xenwire/base/error.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/ring/vchan_ring.hpp"
#include "xenwire/vchan/rendezvous.hpp"

namespace xenwire::vchan {

enum class io_mode : std::uint8_t {
  blocking,      // read/recv wait for data, write/send for space (libxenvchan's ctrl->blocking = 1)
  non_blocking,  // nothing to do now: errc::would_block; the fd wakes us when that changes
};

struct io_options {
  io_mode mode = io_mode::blocking;
  // Blocking calls give up with errc::timed_out after this long; negative: never.
  std::chrono::milliseconds timeout{-1};
  // Blocking calls poll the ring this many times before sleeping on the event channel: a peer on
  // another CPU usually answers within a few hundred nanoseconds, a wake-up costs microseconds.
  unsigned spin = 2000;
};

struct server_config {
  domid_t client = 0;
  std::string path;              // rendezvous path, e.g. default_path(self, client, "name")
  std::size_t read_min = 1024;   // libxenvchan's left_min: client → server ring, at least this many bytes
  std::size_t write_min = 2048;  // right_min: server → client
  // The server outlives its clients: when one closes (and its data has been read), the server sets
  // up a fresh control page, rings and port and publishes the new keys for the next client.
  // (libxenvchan's server_persist only keeps is_open() true.)
  bool persistent = false;
  io_options io{};
};

struct client_config {
  domid_t server = 0;
  std::string path;
  io_options io{};
};

enum class status : std::uint8_t {
  waiting,    // server: keys published, no client yet (cli_live = 2)
  connected,  // both sides live
  closed,     // the peer closed or died, or we closed; data it sent before may still be read
  failed,     // hostile peer or broken transport: error() says which; sticky
};
const char* to_string(status s) noexcept;

// Which end an endpoint is: the same fact the rings are laid out by (ring/vchan_ring.hpp).
using side = role;

class endpoint {
 public:
  // libxenvchan_server_init: binds an unbound port for the client, shares the control page (with
  // unmap-notify clearing srv_live), initialises it, shares the ring pages and publishes the keys.
  static result<endpoint> serve(transport& t, rendezvous& r, server_config cfg);
  // libxenvchan_client_init: reads the keys (errc::would_block while they are absent), binds to the
  // port, maps the control page (unmap-notify clearing cli_live), validates it as hostile, maps the
  // rings (the read ring read-only), sets cli_live = 1, asks for write notifications and signals.
  static result<endpoint> connect(transport& t, rendezvous& r, client_config cfg);
  // The same with keys obtained elsewhere (cfg.path is unused).
  static result<endpoint> connect(transport& t, const keys& k, client_config cfg);

  endpoint(endpoint&&) noexcept;
  endpoint& operator=(endpoint&&) noexcept;
  ~endpoint();  // close()

  // Stream I/O. read: at least one byte (blocking) or what is ready; write: every byte (blocking) or
  // what fits. Non-blocking with nothing to move: would_block. Once the peer closed, read returns
  // what is left, then peer_closed; write fails with peer_closed at once.
  result<std::size_t> read(std::span<std::byte> out);
  result<std::size_t> write(std::span<const std::byte> bytes);
  // Packet I/O, all or nothing: recv takes exactly out.size() bytes, send puts exactly
  // bytes.size() bytes, or neither moves anything. invalid_argument if it can never fit the ring.
  result<void> recv(std::span<std::byte> out);
  result<void> send(std::span<const std::byte> bytes);

  // As libxenvchan_data_ready / _buffer_space: also ask the peer to signal when it changes.
  result<std::size_t> data_ready();
  result<std::size_t> buffer_space();

  // libxenvchan_is_open: waiting or connected (a persistent server is always open unless failed).
  bool is_open();
  // Looks at the shared page (live bytes, orders, grant list) and returns the current status.
  status state();
  // The sticky error of status::failed, else empty.
  std::error_code error() const noexcept;

  // The event channel's fd: readable when the peer signalled. Call handle_events() then.
  int fd() const noexcept;
  // Non-blocking: consumes pending events and refreshes the status (a persistent server whose client
  // left sets up for the next one here).
  result<status> handle_events();
  // libxenvchan_wait: blocks until the peer signals (io.timeout applies), consuming the event.
  result<void> wait();
  // Signals the peer's event channel whether or not it asked: "go and look". For peers that can
  // miss a wake-up: Xen's vchan-socket-proxy consumes the connect event before its data loop and
  // then sleeps on bytes already in the ring until another event comes. Harmless otherwise.
  result<void> kick();

  // Clean close: our live byte = 0, rings and control page unshared/unmapped, the peer signalled,
  // the port closed, and (server) the rendezvous path removed. Idempotent.
  void close() noexcept;

  side role() const noexcept;
  domid_t peer() const noexcept;
  std::size_t read_ring_size() const noexcept;
  std::size_t write_ring_size() const noexcept;
  // Server: the keys it published (they change when a persistent server re-arms).
  keys published() const noexcept;
  const io_options& io() const noexcept;
  void set_io(const io_options& io) noexcept;

  struct impl;

 private:
  explicit endpoint(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

// Connecting without blocking a thread: waits (through the rendezvous) for the server's keys, then
// connects. Keys that turn out stale (a server that died or re-armed) are skipped until new ones
// appear.
class connector {
 public:
  static result<connector> start(transport& t, rendezvous& r, client_config cfg);
  connector(connector&&) noexcept;
  connector& operator=(connector&&) noexcept;
  ~connector();

  // Readable when poll() may succeed; -1 if the rendezvous has no fd (poll on a timer then).
  int fd() const noexcept;
  // Non-blocking: the connected endpoint, or nullopt while the server is not there yet. A hostile
  // control page fails (ring_corrupt / protocol_error) instead of being skipped.
  result<std::optional<endpoint>> poll();

 private:
  struct state;
  explicit connector(std::unique_ptr<state> s) noexcept;
  std::unique_ptr<state> s_;
};

// Blocking helper over connector: waits up to `timeout` (negative: forever) for the server.
result<endpoint> connect_wait(transport& t, rendezvous& r, client_config cfg, std::chrono::milliseconds timeout);

}  // namespace xenwire::vchan
