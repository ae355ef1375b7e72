// The ids every layer speaks in (Xen's own integer widths), so that a pure codec can name a domain
// without pulling in the transport seam.
#pragma once

#include <cstdint>

namespace xenwire {

using domid_t = std::uint16_t;        // domid_t in xen/include/public/xen.h
using grant_ref_t = std::uint32_t;    // grant_ref_t in grant_table.h
using evtchn_port_t = std::uint32_t;  // evtchn_port_t in event_channel.h

inline constexpr domid_t domid_first_reserved = 0x7FF0;  // DOMID_FIRST_RESERVED
inline constexpr domid_t domid_self = 0x7FF0;            // DOMID_SELF

}  // namespace xenwire
