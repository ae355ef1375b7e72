// errno -> xenwire::errc, in one table. Rows are tried in order: the first whose call matches
// (or is "any") and whose errno matches wins. Sources: Linux's gntdev/gntalloc/evtchn drivers
// and Xen's hypercalls as libxengnttab/libxenevtchn 4.17 pass them on, and emu/src/errno_map.cpp,
// which must stay the inverse of this table for the errors both know.
#include <cerrno>
#include <optional>

#include "xenwire/xen/transport.hpp"

namespace xenwire::xen {

namespace {

struct row {
  std::optional<xen_call> call;  // empty: any call
  int err;
  errc to;
};

constexpr row table[] = {
    // gntdev: a ref that is not granted to us / out of range (GNTST_bad_gntref, GNTST_general_error)
    // surfaces as EINVAL; our own argument checks run before the call, so EINVAL here is the ref.
    {xen_call::map, EINVAL, errc::bad_grant_ref},
    {xen_call::map, ENOENT, errc::bad_grant_ref},
    // gntalloc over its limit (default 1024 grants per process) / Xen's grant table full.
    {xen_call::share, ENOSPC, errc::grant_exhausted},
    {xen_call::share, ENOMEM, errc::grant_exhausted},
    // EVTCHNOP_alloc_unbound / bind_interdomain with no free port.
    {xen_call::bind_unbound, ENOSPC, errc::port_exhausted},
    {xen_call::bind_interdomain, ENOSPC, errc::port_exhausted},
    // EVTCHNOP_bind_interdomain: the remote port is not unbound (closed, already connected).
    {xen_call::bind_interdomain, EINVAL, errc::bad_port},
    // VIRQ_DOM_EXC already bound in this domain (Xen allows one binding per VIRQ and vCPU).
    {xen_call::bind_virq, EEXIST, errc::invalid_argument},
    // The evtchn driver: a port this file has not bound.
    {std::nullopt, ENOTCONN, errc::bad_port},
    // Refused: not ours, not the named domain, access mode, XSM, a restricted handle.
    {std::nullopt, EPERM, errc::permission_denied},
    {std::nullopt, EACCES, errc::permission_denied},
    // Xen's answer for an unknown (or dying) domid.
    {std::nullopt, ESRCH, errc::no_such_domain},
    // The emulation: the host (or the channel) went away.
    {std::nullopt, EPIPE, errc::peer_closed},
    {std::nullopt, EAGAIN, errc::would_block},
    {std::nullopt, ETIMEDOUT, errc::timed_out},
    // No /dev/xen/{gntdev,gntalloc,evtchn}: not on Xen (and not on the emulation).
    {xen_call::open, ENOENT, errc::not_supported},
    {std::nullopt, ENOSYS, errc::not_supported},
    {std::nullopt, EOPNOTSUPP, errc::not_supported},
    {std::nullopt, EINVAL, errc::invalid_argument},
};

}  // namespace

std::error_code errno_to_error(xen_call call, int err) noexcept {
  for (const auto& r : table) {
    if (r.err == err && (!r.call || *r.call == call)) return make_error_code(r.to);
  }
  return {err != 0 ? err : EIO, std::generic_category()};
}

}  // namespace xenwire::xen
