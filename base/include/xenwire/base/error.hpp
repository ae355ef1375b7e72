// Typed errors shared by every xenwire layer: an std::error_code in xenwire's own
// category, carried by tl::expected. Nothing in xenwire fails silently.
#pragma once

#include <system_error>
#include <tl/expected.hpp>

namespace xenwire {

enum class errc : int {
  invalid_argument = 1,  // caller passed something the contract forbids
  permission_denied,     // grant/port belongs to another domain, or access mode refused
  no_such_domain,        // unknown domid
  domain_dying,          // the domain is being destroyed: no new grants, maps or ports
  bad_grant_ref,         // ref not granted to us, already freed, or out of range
  grant_exhausted,       // grant table (or gntalloc limit) full
  port_exhausted,        // no free event-channel port
  bad_port,              // port not bound in this handle
  peer_closed,           // the other end of an event channel or ring went away
  would_block,           // non-blocking call had nothing to do
  timed_out,
  read_only,             // write through a read-only grant mapping
  ring_corrupt,          // hostile or inconsistent ring indices/layout from the peer
  protocol_error,        // peer violated a wire protocol (oversized frame, bad field)
  not_supported,         // backend cannot do this (e.g. mask on a real evtchn handle)
  system_error,          // an underlying OS/libxen call failed; see logs / errno
};

const std::error_category& xenwire_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), xenwire_category()};
}

template <class T>
using result = tl::expected<T, std::error_code>;

inline tl::unexpected<std::error_code> fail(errc e) noexcept {
  return tl::unexpected<std::error_code>(make_error_code(e));
}
inline tl::unexpected<std::error_code> fail(std::error_code ec) noexcept {
  return tl::unexpected<std::error_code>(ec);
}

}  // namespace xenwire

template <>
struct std::is_error_code_enum<xenwire::errc> : std::true_type {};
