// libxenevtchn (Linux evtchn driver semantics) on the host's event channels.
#include <fcntl.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <new>
#include <thread>

#include "errno_map.hpp"
#include "evtchn_handle.hpp"
#include "process_transport.hpp"

using namespace xenwire;

namespace xenwire::emu {

namespace {
struct channel_registry {
  std::mutex mutex;
  std::map<int, std::pair<std::weak_ptr<sim::remote_event_channel>, std::weak_ptr<sim::remote_transport>>> by_fd;
};
channel_registry& registry() {
  static auto* r = new channel_registry;  // leaked: handles may be closed from static destructors
  return *r;
}
}  // namespace

void remember_channel(const std::shared_ptr<sim::remote_event_channel>& channel,
                      const std::shared_ptr<sim::remote_transport>& transport) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.by_fd[channel->fd()] = {channel, transport};
}

std::optional<known_channel> find_channel(int fd) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.by_fd.find(fd);
  if (it == r.by_fd.end()) return std::nullopt;
  known_channel k{it->second.first.lock(), it->second.second.lock()};
  if (!k.channel || !k.transport) {
    r.by_fd.erase(it);
    return std::nullopt;
  }
  return k;
}

}  // namespace xenwire::emu

namespace {

bool has_nonblock(int fd) noexcept {
  const int fl = ::fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK) != 0;
}

xenevtchn_handle* make_handle(std::shared_ptr<sim::remote_transport> t,
                              std::shared_ptr<sim::remote_event_channel> channel) {
  auto* h = new xenevtchn_handle;
  h->born_nonblocking = has_nonblock(channel->fd());
  h->transport = std::move(t);
  h->channel = std::move(channel);
  return h;
}

// The domid a call names, or nullopt for one Xen would refuse with EINVAL.
std::optional<domid_t> to_domid(std::uint32_t domid) noexcept {
  if (domid >= domid_first_reserved) return std::nullopt;
  return static_cast<domid_t>(domid);
}

}  // namespace

extern "C" {

// xenevtchn_open → a new remote event-channel handle (its own eventfd) on the process's connection.
xenevtchn_handle* xenevtchn_open(struct xentoollog_logger* /*logger: we never log*/, unsigned int flags) {
  if ((flags & ~unsigned{XENEVTCHN_NO_CLOEXEC}) != 0) {
    emu::fail_errno(EINVAL);
    return nullptr;
  }
  try {
    auto t = emu::process_transport();
    if (!t) {
      emu::fail_errno(t.error());
      return nullptr;
    }
    // Without FD_CLOEXEC the handle's ports outlive an exec, as C xenstored's live update needs.
    auto opened = (*t)->open_remote_event_channel((flags & XENEVTCHN_NO_CLOEXEC) != 0);
    if (!opened) {
      emu::fail_errno(opened.error());
      return nullptr;
    }
    std::shared_ptr<sim::remote_event_channel> channel = std::move(*opened);
    emu::remember_channel(channel, *t);
    return make_handle(std::move(*t), std::move(channel));
  } catch (const std::bad_alloc&) {
    emu::fail_errno(ENOMEM);
    return nullptr;
  }
}

// xenevtchn_fdopen → another handle on the open handle whose fd this is; an fd this process did not
// open (inherited across exec or fork, as by C xenstored's live update) is adopted from the host,
// ports and all, and the handle owns it from then on. EBADF if no handle of this domain has it.
xenevtchn_handle* xenevtchn_fdopen(struct xentoollog_logger* /*logger*/, int fd, unsigned open_flags) {
  if (open_flags != 0) {  // XENEVTCHN_NO_CLOEXEC is rejected, as by Xen
    emu::fail_errno(EINVAL);
    return nullptr;
  }
  try {
    if (auto known = emu::find_channel(fd)) {
      return make_handle(std::move(known->transport), std::move(known->channel));
    }
    auto t = emu::process_transport();
    if (!t) {
      emu::fail_errno(t.error());
      return nullptr;
    }
    auto adopted = (*t)->adopt_remote_event_channel(fd);
    if (!adopted) {
      emu::fail_errno(adopted.error() == make_error_code(errc::invalid_argument) ? EBADF : emu::to_errno(adopted.error()));
      return nullptr;
    }
    std::shared_ptr<sim::remote_event_channel> channel = std::move(*adopted);
    emu::remember_channel(channel, *t);
    return make_handle(std::move(*t), std::move(channel));
  } catch (const std::bad_alloc&) {
    emu::fail_errno(ENOMEM);
    return nullptr;
  }
}

// xenevtchn_close → drops the handle; the channel (and its ports) closes with its last handle.
int xenevtchn_close(xenevtchn_handle* xce) {
  delete xce;
  return 0;
}

// xenevtchn_fd → the handle's eventfd: readable while one of its ports is pending and unmasked.
int xenevtchn_fd(xenevtchn_handle* xce) { return xce->channel->fd(); }

// xenevtchn_notify → event_channel::notify; a port whose peer closed drops the event and
// succeeds, as EVTCHNOP_send does on an unbound port.
int xenevtchn_notify(xenevtchn_handle* xce, evtchn_port_t port) {
  auto r = xce->channel->notify(port);
  if (!r && r.error() != make_error_code(errc::peer_closed)) return emu::fail_errno(r.error());
  return 0;
}

// xenevtchn_bind_unbound_port → event_channel::bind_unbound (EACCES on a restricted handle).
xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle* xce, uint32_t domid) {
  {
    std::lock_guard lock(xce->mutex);
    if (xce->restricted_to) return emu::fail_errno(EACCES);
  }
  const auto remote = to_domid(domid);
  if (!remote) return emu::fail_errno(EINVAL);
  auto port = xce->channel->bind_unbound(*remote);
  if (!port) return emu::fail_errno(port.error());
  return static_cast<xenevtchn_port_or_error_t>(*port);
}

// xenevtchn_bind_interdomain → event_channel::bind_interdomain (EACCES outside a restriction).
xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle* xce, uint32_t domid,
                                                     evtchn_port_t remote_port) {
  const auto remote = to_domid(domid);
  {
    std::lock_guard lock(xce->mutex);
    if (xce->restricted_to && (!remote || *xce->restricted_to != *remote)) return emu::fail_errno(EACCES);
  }
  if (!remote) return emu::fail_errno(EINVAL);
  auto port = xce->channel->bind_interdomain(*remote, remote_port);
  if (!port) return emu::fail_errno(port.error());
  return static_cast<xenevtchn_port_or_error_t>(*port);
}

// xenevtchn_bind_virq → remote_event_channel::bind_virq (VIRQ_DOM_EXC in dom0 only, else EINVAL).
xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle* xce, unsigned int virq) {
  {
    std::lock_guard lock(xce->mutex);
    if (xce->restricted_to) return emu::fail_errno(EACCES);
  }
  auto port = xce->channel->bind_virq(virq);
  if (!port) return emu::fail_errno(port.error());
  return static_cast<xenevtchn_port_or_error_t>(*port);
}

// xenevtchn_unbind → event_channel::unbind (ENOTCONN for a port this handle has not bound).
int xenevtchn_unbind(xenevtchn_handle* xce, evtchn_port_t port) {
  auto r = xce->channel->unbind(port);
  if (!r) return emu::fail_errno(r.error());
  return 0;
}

// xenevtchn_pending → remote_event_channel::pending_and_mask, blocking in poll() on the fd while
// nothing is pending (the evtchn device's read()); the port comes back masked.
xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle* xce) {
  int idle_wakeups = 0;
  for (;;) {
    auto got = xce->channel->pending_and_mask();
    if (!got) return emu::fail_errno(got.error());
    if (*got) return static_cast<xenevtchn_port_or_error_t>(**got);
    const int efd = xce->channel->fd();
    if (!xce->born_nonblocking && has_nonblock(efd)) return emu::fail_errno(EAGAIN);
    pollfd fds[2] = {{efd, POLLIN, 0}, {xce->transport->connection_fd(), POLLRDHUP, 0}};
    const int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) return -1;  // a signal interrupts read() on the device too
      return -1;
    }
    if ((fds[1].revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0) return emu::fail_errno(EPIPE);
    // The fd says "pending" but another thread took the port: back off a little if it repeats.
    if (++idle_wakeups > 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// xenevtchn_unmask → event_channel::unmask; like the driver, a port not of this handle is ignored.
int xenevtchn_unmask(xenevtchn_handle* xce, evtchn_port_t port) {
  auto r = xce->channel->unmask(port);
  if (!r && r.error() != make_error_code(errc::bad_port)) return emu::fail_errno(r.error());
  return 0;
}

// xenevtchn_restrict → remembered by the handle: from then on only bind_interdomain to `domid`
// (IOCTL_EVTCHN_RESTRICT_DOMID; once per handle, EACCES the second time).
int xenevtchn_restrict(xenevtchn_handle* xce, domid_t domid) {
  if (domid == 0 || domid >= domid_first_reserved) return emu::fail_errno(EINVAL);
  std::lock_guard lock(xce->mutex);
  if (xce->restricted_to) return emu::fail_errno(EACCES);
  xce->restricted_to = domid;
  return 0;
}

}  // extern "C"
