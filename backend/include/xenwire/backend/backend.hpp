// The one way a program chooses its transport: `--backend xen|sim` or $XENWIRE_BACKEND.
//
//   xen  the real backend (xenwire::xen: libxengnttab, libxengntshr, libxenevtchn by soname). On
//        the simulated host this is the same code on the libxen emulation (`xenwire-host run`
//        puts it first on LD_LIBRARY_PATH).
//   sim  the simulated host's own client (sim::remote_transport at $XENWIRE_HOST).
//
// Default: $XENWIRE_BACKEND when set, else xen where /dev/xen/evtchn exists, else sim.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "xenwire/base/error.hpp"
#include "xenwire/base/ids.hpp"
#include "xenwire/ring/transport.hpp"

namespace xenwire::backend {

enum class kind : std::uint8_t { xen, sim };

const char* to_string(kind k) noexcept;
// "xen" or "sim"; anything else is errc::invalid_argument.
result<kind> parse(std::string_view name);
// $XENWIRE_BACKEND (errc::invalid_argument if it names no backend), else xen where
// /dev/xen/evtchn exists, else sim.
result<kind> default_kind();
// Was the Xen backend built into this binary (libxen-dev at configure time)?
bool xen_built() noexcept;

struct open_options {
  // Our domain: empty means $XENWIRE_DOMID, else dom0 on the simulated host; on Xen, what
  // xen::discover_domid() finds.
  std::optional<domid_t> domid = std::nullopt;
};

// Opens the transport of `k`. errc::not_supported for xen in a binary built without it; otherwise
// the backend's own error (no Xen, no host running, ...).
result<std::unique_ptr<transport>> open(kind k, open_options options = {});

// The store domain's own Xenstore ring, as its kernel set it up. On xen: /proc/xen/xsd_kva and
// xsd_port (xen::open_local_xenbus). errc::not_supported where there is none: no xenfs, or the sim
// backend (the simulated host's dom0 kernel ring is reached through the emulation, i.e. xen).
struct own_ring {
  std::unique_ptr<mapped_pages> page;
  evtchn_port_t port = 0;  // unbound for us: bind_interdomain(0, port)
};
result<own_ring> open_own_xenstore_ring(kind k);

// A line for logs and error messages: "xen (libxengnttab/libxenevtchn)" or "sim (host at PATH)".
std::string describe(kind k);

}  // namespace xenwire::backend
