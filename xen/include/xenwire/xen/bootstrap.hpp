// How a program on Xen finds its own Xenstore connection, without Xenstore:
//   - a guest's user space: the xenbus device, /dev/xen/xenbus (xenstore::open_xenbus_device());
//   - the store domain (dom0's xenstored): the ring page and port that dom0's kernel xenbus driver
//     set up for dom0 itself (xenstored_local_init), shown by xenfs as /proc/xen/xsd_kva (mmap
//     it) and /proc/xen/xsd_port (a port unbound for dom0: bind it with bind_interdomain(0, port)).
// On the simulated host, `xenwire-host start --xenstored PROGRAM` shows PROGRAM the host's
// /proc/xen (libxenwire-procxen.so), so this same code runs there.
#pragma once

#include <filesystem>
#include <memory>

#include "xenwire/base/error.hpp"
#include "xenwire/base/ids.hpp"
#include "xenwire/ring/transport.hpp"

namespace xenwire::xen {

struct local_xenbus {
  std::unique_ptr<mapped_pages> page;  // one page, read-write, peer() = 0; unmapped when destroyed
  evtchn_port_t port = 0;              // dom0's port, unbound for dom0
};

// errc::not_supported when xsd_kva or xsd_port does not exist (no xenfs, or not dom0's kernel);
// errc::invalid_argument for an xsd_port that is not a port number; the errno of open/mmap else.
result<local_xenbus> open_local_xenbus(const std::filesystem::path& proc_xen = "/proc/xen");

}  // namespace xenwire::xen
