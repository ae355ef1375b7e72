// A registered watch and its bounded event queue (XSA-349: a client must not queue a server's
// events without limit). Whoever reads the stream only ever appends to a watch's queue and never
// waits for the watcher; when the queue is full, further events are dropped and counted, and the
// watcher receives an explicit overflow marker (watch_event::dropped > 0) in their place, in order.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "xenwire/xenstore/client/error.hpp"

namespace xenwire::xenstore {

namespace detail {
struct watch_state;
class client_core;
}  // namespace detail

struct watch_event {
  std::string path;           // the node that changed (as the server sent it); empty for a marker
  std::uint64_t dropped = 0;  // > 0: overflow marker; this many events were dropped here
  bool overflow() const noexcept { return dropped != 0; }
};

struct watch_options {
  std::optional<std::uint32_t> depth;  // WATCHDEPTH: only changes this many levels below the path
  std::size_t queue_limit = 0;         // entries (events + markers); 0: client_options' default
  std::string token;                   // empty: a unique one is generated
};

// Move-only handle. Destroying it unregisters the watch without waiting for the server's answer.
// Handles may outlive their client: they then report the client's closing error.
class watch {
 public:
  watch() = default;
  watch(std::shared_ptr<detail::watch_state> s, std::weak_ptr<detail::client_core> c) noexcept;
  watch(watch&&) noexcept = default;
  watch& operator=(watch&&) noexcept;
  ~watch();

  explicit operator bool() const noexcept { return state_ != nullptr; }
  const std::string& path() const noexcept;
  const std::string& token() const noexcept;

  // The next event or overflow marker. errc::timed_out when none came within `timeout`; the
  // connection's error once the connection is gone and the queue is drained; errc::invalid_argument
  // on an empty (moved-from / unwatched) handle.
  client_result<watch_event> next(std::chrono::milliseconds timeout);
  std::optional<watch_event> try_next();
  // Entries held (events and markers); never more than the queue's limit.
  std::size_t queued() const noexcept;
  // A descriptor for poll()/epoll that is readable exactly while next() would not block (an event,
  // a marker or the connection's end waits); level-triggered, never read it yourself. Valid for the
  // handle's life. -1 on an empty handle, or if no eventfd could be created (then poll try_next()).
  int fd() const noexcept;

  // Unregisters now (the server's answer is awaited). ENOENT from the server (watch already gone,
  // e.g. after a reconnect or RESET_WATCHES) and a closed connection count as success.
  client_result<void> unwatch();

 private:
  friend class client;
  std::shared_ptr<detail::watch_state> state_;
  std::weak_ptr<detail::client_core> core_;
};

}  // namespace xenwire::xenstore
