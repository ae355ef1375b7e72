// The cross-process host's protocol: one SOCK_SEQPACKET message per request and per reply, so a
// message arrives whole or not at all — a process killed mid-send leaves nothing half-read. Fixed
// little headers, then an array (grant refs in, page indices or text out), fds by SCM_RIGHTS.
// Both ends are built from this one file; the host still checks every field it receives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "xenwire/base/error.hpp"

namespace xenwire::sim::detail::wire {

inline constexpr std::uint32_t magic = 0x78776831;  // "xwh1": protocol version 1
// Largest message either way: 256 KiB (a 1 MiB vchan ring is 256 refs; describe() text is capped).
inline constexpr std::size_t max_message = 256 * 1024;
inline constexpr std::size_t max_refs = 4096;
inline constexpr std::size_t max_fds = 2;

enum class op : std::uint32_t {
  hello = 1,         // a: domid, b: membership (0 owner, 1 member), c: magic -> fds: pages file
  share,             // a: peer, b: pages, c: access, d: notify -> object, page indices
  unshare,           // object
  map,               // a: peer, c: access, d: notify, refs -> object, page indices
  unmap,             // object
  open_handle,       // a: 1 to keep it across exec -> object, fds: eventfd
  close_handle,      // object
  bind_unbound,      // object, a: remote -> v0: port
  bind_interdomain,  // object, a: remote, b: remote port -> v0: port
  bind_virq,         // object, a: virq -> v0: port
  unbind,            // object, a: port
  notify,            // object, a: port
  pending,           // object, a: 1 to mask the port taken -> v0: port, v1: 1 if one was taken
  mask,              // object, a: port
  unmask,            // object, a: port
  port_state,        // object, a: port -> v0: port_state
  take_xenstore,     // -> object (share), v0: ref, v1: port, v2: handle object, pages, fds: eventfd
  create_domain,     // a: domid, b: 1 with xenstore, c: xenstore domid -> v0: ref or ~0, v1: port or 0
  destroy_domain,    // a: domid
  domains,           // -> entries (domain_entry)
  describe,          // -> text
  shutdown,          // -> text: leak report lines; the host exits after replying
  adopt_handle,      // fds: a handle's eventfd, inherited across exec or fork -> object
  pending_batch,     // object, a: most ports to take (1..max_pending_batch) -> v0: taken, tail: u32 each
};
inline constexpr std::size_t max_pending_batch = 256;

// unmap_notify packed into one u64: bit 63 clear_byte present (offset in bits 0..11), bit 62 port
// present (port in bits 16..47).
std::uint64_t pack_notify(std::optional<std::size_t> clear_byte, std::optional<std::uint32_t> port);
void unpack_notify(std::uint64_t v, std::optional<std::size_t>& clear_byte, std::optional<std::uint32_t>& port);

struct request {
  std::uint32_t op = 0;
  std::uint32_t count = 0;  // u32 elements following
  std::uint64_t object = 0;
  std::uint64_t a = 0, b = 0, c = 0, d = 0;
};
static_assert(sizeof(request) == 48);

struct reply {
  std::int32_t error = 0;   // 0, a positive xenwire::errc, or a negated errno
  std::uint32_t count = 0;  // bytes following
  std::uint64_t object = 0;
  std::uint64_t v0 = 0, v1 = 0, v2 = 0;
};
static_assert(sizeof(reply) == 40);

struct domain_entry {
  std::uint32_t domid = 0;
  std::uint32_t state = 0;  // sim::domain_state
  std::uint64_t grants = 0, ports = 0, processes = 0;
};
static_assert(sizeof(domain_entry) == 32);

// A share's reply tail (share, take_xenstore): its refs (u32 each), then its page indices (u64 each).
struct share_tail {
  std::vector<std::uint32_t> refs;
  std::vector<std::uint64_t> pages;
};
std::vector<std::byte> encode_share(std::span<const std::uint32_t> refs, std::span<const std::uint64_t> pages);
// errc::protocol_error unless the tail holds one or more whole (ref, page) pairs.
result<share_tail> decode_share(std::span<const std::byte> tail);

std::int32_t encode_error(const std::error_code& ec);
std::error_code decode_error(std::int32_t e);

// A received message: its bytes (in the receiver's buffer) plus the fds that came with it (owned:
// closed unless taken).
struct message {
  std::span<const std::byte> bytes;
  std::vector<int> fds;
  message() = default;
  message(message&&) noexcept;
  message& operator=(message&&) noexcept;
  ~message();
  int take_fd(std::size_t i) noexcept;
};

// Sends one message (retrying EINTR). EPIPE/ECONNRESET come back as errc::peer_closed.
result<void> send_message(int sock, std::span<const std::byte> head, std::span<const std::byte> tail,
                          std::span<const int> fds);
// Receives one message into `buffer` (grown to max_message once and reused: no allocation and no
// zeroing per message); errc::peer_closed at end of stream, errc::protocol_error if truncated.
result<message> receive_message(int sock, std::vector<std::byte>& buffer);

}  // namespace xenwire::sim::detail::wire
