#include "errno_map.hpp"

#include <cerrno>

#include "xenwire/base/error.hpp"

namespace xenwire::emu {

int to_errno(const std::error_code& ec) noexcept {
  // Codes that came from the OS (connecting to the host, mmap) already are errnos.
  if (ec.category() == std::generic_category() || ec.category() == std::system_category()) {
    return ec.value() != 0 ? ec.value() : EIO;
  }
  if (ec.category() != xenwire_category()) return EIO;
  switch (static_cast<errc>(ec.value())) {
    case errc::invalid_argument: return EINVAL;
    case errc::permission_denied: return EPERM;   // hypercall refused (XSM, not ours, access mode)
    case errc::no_such_domain: return ESRCH;      // Xen's answer for an unknown domid
    case errc::domain_dying: return ESRCH;
    case errc::bad_grant_ref: return EINVAL;      // GNTST_bad_gntref surfaces as EINVAL from gntdev
    case errc::grant_exhausted: return ENOSPC;    // gntalloc over its limit
    case errc::port_exhausted: return ENOSPC;     // EVTCHNOP_alloc_unbound with no free port
    case errc::bad_port: return ENOTCONN;         // evtchn driver: port not bound by this file
    case errc::peer_closed: return EPIPE;         // the host (or the peer) went away
    case errc::would_block: return EAGAIN;
    case errc::timed_out: return ETIMEDOUT;
    case errc::read_only: return EPERM;
    case errc::ring_corrupt: return EPROTO;
    case errc::protocol_error: return EPROTO;
    case errc::not_supported: return ENOSYS;
    case errc::system_error: return EIO;
  }
  return EIO;
}

int fail_errno(const std::error_code& ec) noexcept { return fail_errno(to_errno(ec)); }

int fail_errno(int e) noexcept {
  errno = e;
  return -1;
}

}  // namespace xenwire::emu
