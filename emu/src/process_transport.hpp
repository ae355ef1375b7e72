// The process's one connection to the simulated host, shared by every handle of one library.
//
// Opened by the first handle (the domain comes from $XENWIRE_DOMID, the host from $XENWIRE_HOST),
// released with the last one, so a process that closes all its handles leaves the host and may
// connect again later. Each emulated library has its own copy: three libraries in one process
// are three member processes of the same domain on the host (ports and grants are per domain,
// so an unmap-notify port bound through libxenevtchn works for libxengnttab too).
#pragma once

#include <memory>

#include "xenwire/base/error.hpp"
#include "xenwire/sim/remote.hpp"

namespace xenwire::emu {

result<std::shared_ptr<sim::remote_transport>> process_transport();

// True once the host's end of `t`'s connection has hung up (a blocking call must stop waiting).
bool host_gone(const sim::remote_transport& t) noexcept;

}  // namespace xenwire::emu
