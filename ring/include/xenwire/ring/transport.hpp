// The transport seam: the only way xenwire's protocols touch shared memory and event channels.
//
// Shaped after libxengnttab/libxengntshr/libxenevtchn (xengnttab.h, xenevtchn.h) so the real
// backend is a thin adapter, while the simulator (xenwire::sim) provides the same contract without
// a hypervisor. Everything a peer domain can touch through these objects is untrusted.
//
// Thread safety, the same for every backend (in-process simulator, cross-process host, Xen):
//   - transport: every member may be called from any thread, concurrently.
//   - grant_table: share() and map() may be called concurrently from any threads.
//   - shared_pages / mapped_pages: the memory is the caller's to synchronise (it is shared with a
//     peer that follows no lock of ours); destroying one (which fires its unmap_notify) must not
//     race its other members. They may outlive the transport that made them.
//   - event_channel: bind_*, unbind, notify, mask, unmask, state and fd may be called concurrently
//     from any threads. pending() and wait() consume events: one consuming thread at a time.
//   - domain_watch: consume() and life() from one thread at a time; fd() from any.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "xenwire/base/error.hpp"
#include "xenwire/base/ids.hpp"

namespace xenwire {

inline constexpr std::size_t page_size = 4096;
inline constexpr grant_ref_t gnttab_reserved_xenstore = 1;  // GNTTAB_RESERVED_XENSTORE

enum class access : std::uint8_t { read_only, read_write };

// What happens when a share or a mapping goes away, including when its owner dies
// (xengnttab's UNMAP_NOTIFY_CLEAR_BYTE / UNMAP_NOTIFY_SEND_EVENT): this is how a peer learns that
// we are gone even if we crash.
struct unmap_notify {
  std::optional<std::size_t> clear_byte = std::nullopt;  // offset in the region's first page, set to 0
  std::optional<evtchn_port_t> port = std::nullopt;      // a port of ours: its remote end is signalled
};

// Pages we grant to one peer domain. Destroying the object unshares them. As with gntalloc, a ref
// the peer still maps stays allocated (and its memory valid for the peer) until the peer unmaps.
class shared_pages {
 public:
  virtual ~shared_pages() = default;
  virtual std::span<std::byte> bytes() noexcept = 0;  // refs().size() * page_size bytes
  virtual std::span<const grant_ref_t> refs() const noexcept = 0;
  virtual domid_t peer() const noexcept = 0;
};

// A peer's granted pages mapped contiguously into our address space. Destroying it unmaps.
// With access::read_only the memory is mapped without write permission: writes fault.
class mapped_pages {
 public:
  virtual ~mapped_pages() = default;
  virtual std::span<std::byte> bytes() noexcept = 0;
  virtual access mode() const noexcept = 0;
  virtual domid_t peer() const noexcept = 0;
};

class grant_table {
 public:
  virtual ~grant_table() = default;
  // Grants `pages` fresh zeroed pages to `peer` (xengntshr_share_pages / _share_page_notify).
  virtual result<std::unique_ptr<shared_pages>> share(domid_t peer, std::size_t pages, access peer_access,
                                                      unmap_notify notify = {}) = 0;
  // Maps refs granted to us by `peer` (xengnttab_map_domain_grant_refs / _map_grant_ref_notify).
  // Only the grantee may map; asking read_write of a read-only grant is refused.
  virtual result<std::unique_ptr<mapped_pages>> map(domid_t peer, std::span<const grant_ref_t> refs, access mode,
                                                    unmap_notify notify = {}) = 0;
};

enum class port_state : std::uint8_t {
  unbound,      // bound with bind_unbound, remote has not connected yet
  connected,    // interdomain channel up
  peer_closed,  // the remote end unbound or its domain died; notify() fails with peer_closed
};

// One event-channel handle (an xenevtchn_open): a set of local ports sharing one pollable fd.
// Notifications coalesce: any number of notify() calls before pending() yields the port once.
class event_channel {
 public:
  virtual ~event_channel() = default;
  virtual result<evtchn_port_t> bind_unbound(domid_t remote) = 0;
  virtual result<evtchn_port_t> bind_interdomain(domid_t remote, evtchn_port_t remote_port) = 0;
  // Closes the port; the remote end sees port_state::peer_closed and is woken.
  virtual result<void> unbind(evtchn_port_t port) = 0;
  virtual result<void> notify(evtchn_port_t port) = 0;
  // Takes the next pending, unmasked port without blocking; the port stays armed for further events.
  virtual result<std::optional<evtchn_port_t>> pending() = 0;
  // Takes up to out.size() ports as pending() would, one after another; how many (0: none). A
  // backend where each pending() costs a round trip takes them in one.
  virtual result<std::size_t> pending_batch(std::span<evtchn_port_t> out) {
    std::size_t n = 0;
    for (; n < out.size(); ++n) {
      auto p = pending();
      if (!p) {
        if (n > 0) return n;  // the ports taken are not lost: the error comes again next call
        return fail(p.error());
      }
      if (!*p) break;
      out[n] = **p;
    }
    return n;
  }
  // Blocks until pending() would return a port, or fails with errc::timed_out.
  // A negative timeout waits forever.
  virtual result<evtchn_port_t> wait(std::chrono::milliseconds timeout) = 0;
  // A masked port keeps its pending bit but does not wake anyone; unmask delivers it.
  virtual result<void> mask(evtchn_port_t port) = 0;
  virtual result<void> unmask(evtchn_port_t port) = 0;
  virtual result<port_state> state(evtchn_port_t port) = 0;
  // Readable while a port is pending (poll/epoll friendly). Valid for the handle's lifetime.
  virtual int fd() const noexcept = 0;
};

// What the hypervisor says of a domain (xc_domain_getinfo's flags, libxenmanage's state).
enum class domain_life : std::uint8_t {
  running,   // alive: running, paused or blocked
  shutdown,  // shut down (halted, crashed, suspended) but not being destroyed: its toolstack decides
  dying,     // being destroyed: its pages and ports are going away
  dead,      // gone (or never existed)
};

constexpr const char* to_string(domain_life l) noexcept {
  switch (l) {
    case domain_life::running: return "running";
    case domain_life::shutdown: return "shutdown";
    case domain_life::dying: return "dying";
    case domain_life::dead: return "dead";
  }
  return "?";
}

// Domain lifecycle, for a privileged domain (dom0, the store domain): VIRQ_DOM_EXC, which the
// hypervisor raises whenever some domain shuts down, starts dying or dies, and each domain's state.
// The VIRQ only says "something changed": ask life() of the domains you care about. This, not a
// port's state, is how a daemon learns of deaths: on Xen a dead domain's port does not wake anyone.
class domain_watch {
 public:
  virtual ~domain_watch() = default;
  // Readable while a VIRQ_DOM_EXC is pending (poll/epoll friendly). Valid for the watch's lifetime.
  virtual int fd() const noexcept = 0;
  // Takes what is pending without blocking; true if the VIRQ had fired since the last call.
  virtual result<bool> consume() = 0;
  virtual result<domain_life> life(domid_t domid) = 0;
};

// A domain's view of the hypervisor: its own id, its grant table and event-channel handles.
class transport {
 public:
  virtual ~transport() = default;
  virtual domid_t self() const noexcept = 0;
  virtual grant_table& grants() noexcept = 0;
  virtual result<std::unique_ptr<event_channel>> open_event_channel() = 0;
  // Across exec (live update): a handle opened for exec keeps its ports bound in an image this
  // process execs (xenevtchn_open with XENEVTCHN_NO_CLOEXEC: its fd() is inherited), and that image
  // takes it back from the inherited fd with adopt_event_channel (xenevtchn_fdopen). Mappings and
  // shares do not survive an exec: the new image maps again. errc::not_supported by default.
  virtual result<std::unique_ptr<event_channel>> open_event_channel_for_exec() { return fail(errc::not_supported); }
  virtual result<std::unique_ptr<event_channel>> adopt_event_channel(int fd) {
    (void)fd;
    return fail(errc::not_supported);
  }
  // Binds VIRQ_DOM_EXC on a handle of its own. Only dom0 (errc::permission_denied otherwise);
  // errc::not_supported where the backend cannot tell domains' states.
  virtual result<std::unique_ptr<domain_watch>> watch_domains() = 0;
};

}  // namespace xenwire
