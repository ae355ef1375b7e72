// The real Xen backend of the transport seam: a thin adapter over libxengnttab (xengnttab_* to map,
// xengntshr_* to share) and libxenevtchn, linked by soname. The same binary runs on Xen and, with
// emu/'s libraries first on LD_LIBRARY_PATH, on the simulated host (docs/transport.md, "The Xen
// backend"). One process is one domain: the domain whose kernel drivers (/dev/xen/gntdev,
// gntalloc, evtchn) the libraries talk to.
//
// What libxen cannot do, and so this backend does not pretend to:
//   - event_channel::mask() fails with errc::not_supported (libxenevtchn has unmask only; the
//     Linux driver masks a port itself when it delivers it, and pending() unmasks it again);
//   - event_channel::state() fails with errc::not_supported for a port of this handle (libxenevtchn
//     has no status call), errc::bad_port for any other port;
//   - event_channel::notify() on a port whose peer has closed succeeds and the event is dropped
//     (EVTCHNOP_send on an unbound port), it does not fail with errc::peer_closed;
//   - an unmap_notify is only possible on a one-page share or mapping (xengntshr_share_page_notify,
//     xengnttab_map_grant_ref_notify take one page): several pages with a notify fail with
//     errc::not_supported — share the notified page on its own, as libxenvchan does.
//     A clear_byte on a read-only mapping fails with errc::read_only (gntdev refuses it).
//
// Thread safety (the libraries' handles are kernel file descriptors; every call is an ioctl, an
// mmap or a read/write on them):
//   - transport: self(), grants() and open_event_channel() may be called from any thread.
//   - grant_table (grants()): share() and map() may be called concurrently from any threads.
//   - shared_pages / mapped_pages: the memory is the caller's to synchronise; destroying one
//     (unshare/unmap, which fires its notify) must not race with its other members. Each keeps the
//     library handles alive, so it may outlive the transport.
//   - event_channel: bind_unbound, bind_interdomain, unbind, notify, unmask, state, fd may be
//     called concurrently from any threads. pending() and wait() consume events: call them from one
//     thread at a time (they poll the fd before xenevtchn_pending, which would otherwise block; a
//     second consumer could take the event between the poll and the read).
#pragma once

#include <memory>
#include <optional>

#include "xenwire/base/error.hpp"
#include "xenwire/base/ids.hpp"
#include "xenwire/ring/transport.hpp"

namespace xenwire::xen {

struct transport_options {
  // Our domain id; empty: discover_domid().
  std::optional<domid_t> domid = std::nullopt;
};

// The domain this process runs in, as simply as it can be known without Xenstore:
//   1. $XENWIRE_DOMID (set by `xenwire-host run` on the emulation; also an explicit override on Xen);
//   2. dom0: /proc/xen/capabilities contains "control_d" -> 0;
//   3. otherwise errc::not_supported: a guest must be told its domid (transport_options::domid);
//      reading Xenstore's "domid" key belongs to the Xenstore bootstrap, not to this layer.
// A malformed $XENWIRE_DOMID fails with errc::invalid_argument.
result<domid_t> discover_domid();

class transport final : public xenwire::transport {
 public:
  // Opens xengnttab, xengntshr (both must open: no Xen or no emulation fails here, with the
  // errno mapped by errno_to_error) and resolves the domid.
  static result<std::unique_ptr<transport>> open(transport_options options = {});
  ~transport() override;
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  domid_t self() const noexcept override;
  grant_table& grants() noexcept override;
  // xenevtchn_open(NULL, 0): a new handle with its own fd.
  result<std::unique_ptr<event_channel>> open_event_channel() override;
  // xenevtchn_open(NULL, XENEVTCHN_NO_CLOEXEC) and xenevtchn_fdopen(NULL, fd, 0).
  result<std::unique_ptr<event_channel>> open_event_channel_for_exec() override;
  result<std::unique_ptr<event_channel>> adopt_event_channel(int fd) override;
  // VIRQ_DOM_EXC on a handle of its own (xenevtchn_bind_virq; Xen allows one binding per domain:
  // a second watch fails with errc::invalid_argument, EEXIST); domain states from libxenmanage.so.1
  // (Xen 4.21+) or else libxenctrl.so.4.17's xc_domain_getinfo, found with dlopen because their
  // sonames follow Xen's version: errc::not_supported when neither loads. dom0 only.
  result<std::unique_ptr<domain_watch>> watch_domains() override;

  struct impl;

 private:
  explicit transport(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// The one errno -> xenwire error table (xen/src/errno_map.cpp), by the call that set errno.
enum class xen_call : std::uint8_t {
  open, share, unshare, map, unmap, bind_unbound, bind_interdomain, unbind, notify, pending, unmask, bind_virq,
  domain_info
};
// An errno with no row comes back as itself in std::generic_category().
std::error_code errno_to_error(xen_call call, int err) noexcept;

}  // namespace xenwire::xen
