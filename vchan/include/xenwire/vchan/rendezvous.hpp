// How a vchan client finds its server: two Xenstore keys under one path, as libxenvchan does it.
//
//   <path>/ring-ref       the control page's grant ref (decimal)
//   <path>/event-channel  the server's unbound event-channel port (decimal)
//
// The server writes both in one transaction (retried on EAGAIN) with permissions
// [owner = server domid, others none; client: read] and removes <path> when it closes.
// The endpoints see the rendezvous only through this interface, so they are testable without a
// Xenstore (memory_rendezvous.hpp) and run over xenwire's Xenstore client (xenstore_rendezvous.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "xenwire/base/error.hpp"
#include "xenwire/ring/transport.hpp"

namespace xenwire::vchan {

inline constexpr std::string_view ring_ref_key = "ring-ref";
inline constexpr std::string_view event_channel_key = "event-channel";

struct keys {
  grant_ref_t ring_ref = 0;
  evtchn_port_t port = 0;
  friend bool operator==(const keys&, const keys&) = default;
};

// libxenvchan's convention: /local/domain/<server>/data/vchan/<client>/<port>.
std::string default_path(domid_t server, domid_t client, std::string_view port);

// The keys' text form: plain decimal, as libxenvchan's snprintf("%d").
std::string format_key(std::uint32_t value);
// Strict decimal (no sign, no spaces, no leading zeros, fits u32); nullopt otherwise.
std::optional<std::uint32_t> parse_key(std::string_view text) noexcept;
// Both values read from a store: protocol_error if one is not a key libxenvchan could have written
// or is 0 (libxenvchan's client refuses ring-ref 0 and port 0 too).
result<keys> parse_keys(std::string_view ring_ref, std::string_view event_channel);

// A pending wait for a server's keys, for event loops: never blocks.
class key_wait {
 public:
  virtual ~key_wait() = default;
  // Readable when poll() may have news; -1 when the implementation has no fd (then call poll() on a
  // timer).
  virtual int fd() const noexcept = 0;
  // The keys once both are present; nullopt while they are not.
  virtual result<std::optional<keys>> poll() = 0;
};

class rendezvous {
 public:
  virtual ~rendezvous() = default;
  // Writes both keys in one transaction, retried on conflicts, with perms
  // [{server, none}, {client, read}].
  virtual result<void> publish(std::string_view path, domid_t server, domid_t client, const keys& k) = 0;
  // The keys, or nullopt while either is missing.
  virtual result<std::optional<keys>> read(std::string_view path) = 0;
  // Removes <path> and everything below it; a missing path is not an error.
  virtual result<void> remove(std::string_view path) = 0;
  // Starts waiting for both keys to be present (a Xenstore watch on <path>).
  virtual result<std::unique_ptr<key_wait>> wait_for_keys(std::string_view path) = 0;
};

}  // namespace xenwire::vchan
