// Event channels with Xen's semantics: per-domain port numbers, one pending and one mask bit per
// port (notifications coalesce), peer closure visible as port_state::peer_closed, and a pollable
// eventfd per handle that is readable iff some port of the handle is pending and unmasked.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core.hpp"
#include "scheduler_impl.hpp"
#include "xenwire/ring/event_wait.hpp"

namespace xenwire::sim::detail {

void handle_record::add_deliverable() noexcept {
  if (deliverable++ == 0) {
    const eventfd_t one = 1;
    static_cast<void>(::eventfd_write(efd, one));
  }
}

void handle_record::remove_deliverable() noexcept {
  if (--deliverable == 0 && open) {
    eventfd_t drained = 0;
    static_cast<void>(::eventfd_read(efd, &drained));
  }
}

void handle_record::wake_all() noexcept {
  static_cast<void>(::eventfd_write(efd, 1));
}

namespace {

class event_channel_impl final : public event_channel {
 public:
  event_channel_impl(std::shared_ptr<host_core> core, std::shared_ptr<handle_record> h)
      : core_(std::move(core)), h_(std::move(h)) {}

  ~event_channel_impl() override {
    {
      std::lock_guard lock(core_->mutex);
      core_->close_handle_locked(*h_);
    }
    ::close(h_->efd);
  }

  result<evtchn_port_t> bind_unbound(domid_t remote) override {
    std::lock_guard lock(core_->mutex);
    if (auto ok = usable(); !ok) return fail(ok.error());
    return core_->bind_unbound_locked(*h_, remote, true);
  }

  result<evtchn_port_t> bind_interdomain(domid_t remote, evtchn_port_t remote_port) override {
    std::lock_guard lock(core_->mutex);
    if (auto ok = usable(); !ok) return fail(ok.error());
    domain& d = *h_->owner;
    if (remote == domid_self) remote = d.id;
    domain* rd = core_->find_locked(remote);
    if (rd == nullptr) return fail(errc::no_such_domain);
    if (!rd->alive()) return fail(errc::domain_dying);
    if (remote_port == 0 || remote_port >= rd->ports.size() || rd->ports[remote_port].kind != port_kind::unbound) {
      return fail(errc::bad_port);
    }
    if (rd->ports[remote_port].remote_domid != d.id) return fail(errc::permission_denied);
    auto local = core_->allocate_port_locked(*h_, true);
    if (!local) return fail(local.error());
    port_entry& l = d.ports[*local];  // after allocation: it may grow d.ports (rd may be d)
    port_entry& r = rd->ports[remote_port];
    l.kind = port_kind::connected;
    l.remote_domid = rd->id;
    l.remote_port = remote_port;
    l.remote = rd;
    r.kind = port_kind::connected;
    r.remote_port = *local;
    r.remote = &d;
    // As Xen does: events sent to the unbound port may have been lost, so the new local port
    // starts pending.
    core_->raise_locked(d, *local);
    return *local;
  }

  result<void> unbind(evtchn_port_t port) override {
    std::lock_guard lock(core_->mutex);
    if (auto ok = owned(port); !ok) return fail(ok.error());
    core_->close_port_locked(*h_->owner, port);
    return {};
  }

  result<void> notify(evtchn_port_t port) override {
    std::lock_guard lock(core_->mutex);
    if (auto ok = owned(port); !ok) return fail(ok.error());
    const port_entry& e = h_->owner->ports[port];
    switch (e.kind) {
      case port_kind::connected:
        core_->raise_locked(*e.remote, e.remote_port);
        return {};
      case port_kind::closed:
        return fail(errc::peer_closed);
      case port_kind::unbound:  // nobody to tell yet: Xen drops it too
      case port_kind::virq:     // the hypervisor's to raise
      case port_kind::free:
        break;
    }
    return {};
  }

  result<std::optional<evtchn_port_t>> pending() override {
    std::lock_guard lock(core_->mutex);
    return take_locked();
  }

  result<evtchn_port_t> wait(std::chrono::milliseconds timeout) override {
    pollfd fds[] = {{h_->efd, POLLIN, 0}};
    return wait_for_event(
        [this]() -> result<std::optional<evtchn_port_t>> {
          std::lock_guard lock(core_->mutex);
          auto got = take_locked();
          if (got && !*got && core_->sched != nullptr) return fail(errc::timed_out);  // deterministic: never block
          return got;
        },
        fds, timeout);
  }

  result<void> mask(evtchn_port_t port) override {
    std::lock_guard lock(core_->mutex);
    if (auto ok = owned(port); !ok) return fail(ok.error());
    port_entry& e = h_->owner->ports[port];
    if (!e.masked) {
      e.masked = true;
      if (e.pending) h_->remove_deliverable();
    }
    return {};
  }

  result<void> unmask(evtchn_port_t port) override {
    std::lock_guard lock(core_->mutex);
    if (auto ok = owned(port); !ok) return fail(ok.error());
    port_entry& e = h_->owner->ports[port];
    if (e.masked) {
      e.masked = false;
      if (e.pending) h_->add_deliverable();
    }
    return {};
  }

  result<port_state> state(evtchn_port_t port) override {
    std::lock_guard lock(core_->mutex);
    if (auto ok = owned(port); !ok) return fail(ok.error());
    switch (h_->owner->ports[port].kind) {
      case port_kind::unbound:
        return port_state::unbound;
      case port_kind::connected:
      case port_kind::virq:
        return port_state::connected;
      case port_kind::closed:
      case port_kind::free:
        break;
    }
    return port_state::peer_closed;
  }

  int fd() const noexcept override { return h_->efd; }
  handle_record& record() noexcept { return *h_; }

  result<evtchn_port_t> bind_virq(std::uint32_t virq) {
    std::lock_guard lock(core_->mutex);
    if (auto ok = usable(); !ok) return fail(ok.error());
    return core_->bind_virq_locked(*h_, virq);
  }

  result<std::optional<evtchn_port_t>> pending_and_mask() {
    std::lock_guard lock(core_->mutex);
    auto got = take_locked();
    if (got && *got) h_->owner->ports[**got].masked = true;  // just taken: not pending, nothing to recount
    return got;
  }

 private:
  result<void> usable() const {
    if (!h_->open || !h_->owner->alive()) return fail(errc::domain_dying);
    return {};
  }

  result<void> owned(evtchn_port_t port) const {
    if (auto ok = usable(); !ok) return ok;
    const domain& d = *h_->owner;
    if (port == 0 || port >= d.ports.size() || d.ports[port].kind == port_kind::free ||
        d.ports[port].handle != h_.get()) {
      return fail(errc::bad_port);
    }
    return {};
  }

  result<std::optional<evtchn_port_t>> take_locked() {
    if (auto ok = usable(); !ok) return fail(ok.error());
    handle_record& h = *h_;
    if (h.deliverable == 0) return std::optional<evtchn_port_t>{};
    domain& d = *h.owner;
    const std::size_t n = h.ports.size();
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t idx = (h.cursor + i) % n;
      port_entry& e = d.ports[h.ports[idx]];
      if (e.pending && !e.masked) {
        e.pending = false;
        h.remove_deliverable();
        h.cursor = idx + 1;
        return std::optional<evtchn_port_t>{h.ports[idx]};
      }
    }
    return fail(errc::system_error);  // deliverable count out of sync: a simulator bug
  }

  std::shared_ptr<host_core> core_;
  std::shared_ptr<handle_record> h_;
};

}  // namespace

result<std::unique_ptr<event_channel>> host_core::open_handle(const std::shared_ptr<domain>& owner) {
  std::lock_guard lock(mutex);
  if (!owner->alive()) return fail(errc::domain_dying);
  const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return fail(std::error_code(errno, std::system_category()));
  auto h = std::make_shared<handle_record>();
  h->owner = owner;
  h->efd = efd;
  owner->handles.insert(h.get());
  return std::make_unique<event_channel_impl>(shared_from_this(), std::move(h));
}

result<std::pair<std::unique_ptr<event_channel>, evtchn_port_t>> host_core::open_boot_port(
    const std::shared_ptr<domain>& owner, domid_t remote) {
  auto handle = open_handle(owner);
  if (!handle) return fail(handle.error());
  std::lock_guard lock(mutex);
  auto* impl = static_cast<event_channel_impl*>(handle->get());
  auto port = bind_unbound_locked(impl->record(), remote, false);
  if (!port) return fail(port.error());
  return std::pair{std::move(*handle), *port};
}

result<evtchn_port_t> host_core::allocate_port_locked(handle_record& h, bool may_fault) {
  domain& d = *h.owner;
  if (d.ports_in_use >= d.port_limit) return fail(errc::port_exhausted);
  if (may_fault && fail_port_locked()) return fail(errc::port_exhausted);
  evtchn_port_t port = 1;
  while (port < d.ports.size() && d.ports[port].kind != port_kind::free) ++port;
  if (port == d.ports.size()) d.ports.emplace_back();
  port_entry& e = d.ports[port];
  const std::uint32_t generation = e.generation + 1;
  e = port_entry{};
  e.generation = generation;
  e.handle = &h;
  h.ports.push_back(port);
  ++d.ports_in_use;
  return port;
}

result<evtchn_port_t> host_core::bind_unbound_locked(handle_record& h, domid_t remote, bool may_fault) {
  domain& d = *h.owner;
  if (remote == domid_self) remote = d.id;
  if (remote >= domid_first_reserved) return fail(errc::invalid_argument);
  auto port = allocate_port_locked(h, may_fault);
  if (!port) return port;
  port_entry& e = d.ports[*port];
  e.kind = port_kind::unbound;
  e.remote_domid = remote;
  return port;
}

result<evtchn_port_t> bind_virq(event_channel& handle, std::uint32_t virq) {
  return dynamic_cast<event_channel_impl&>(handle).bind_virq(virq);
}

result<std::optional<evtchn_port_t>> pending_and_mask(event_channel& handle) {
  return dynamic_cast<event_channel_impl&>(handle).pending_and_mask();
}

result<evtchn_port_t> host_core::bind_virq_locked(handle_record& h, std::uint32_t virq) {
  domain& d = *h.owner;
  // Only VIRQ_DOM_EXC is simulated, and like Xen's it is global: dom0's (the control domain's).
  if (virq != 3 || d.id != 0) return fail(errc::invalid_argument);
  for (const auto& [dom, p] : virq_ports) {
    if (dom == &d && d.ports[p].remote_port == virq) return fail(errc::invalid_argument);  // EEXIST on Xen
  }
  auto port = allocate_port_locked(h, false);
  if (!port) return port;
  port_entry& e = d.ports[*port];
  e.kind = port_kind::virq;
  e.remote_domid = d.id;
  e.remote_port = virq;
  virq_ports.emplace_back(&d, *port);
  return port;
}

void host_core::raise_dom_exc_locked() {
  for (const auto& [d, port] : virq_ports) {
    if (d->alive()) raise_locked(*d, port);
  }
}

void host_core::close_port_locked(domain& d, evtchn_port_t port) {
  port_entry& e = d.ports[port];
  if (e.handle != nullptr) {
    handle_record& h = *e.handle;
    if (e.pending && !e.masked) h.remove_deliverable();
    h.ports.erase(std::find(h.ports.begin(), h.ports.end(), port));
    e.handle = nullptr;
  }
  if (e.notify_holds > 0) {  // an unmap-notify still signals through it: closed when that fires
    e.orphaned = true;
    return;
  }
  if (e.kind == port_kind::virq) {
    std::erase(virq_ports, std::pair<domain*, evtchn_port_t>{&d, port});
  }
  if (e.kind == port_kind::connected) {
    port_entry& peer = e.remote->ports[e.remote_port];
    peer.kind = port_kind::closed;
    peer.remote = nullptr;
    raise_locked(*e.remote, e.remote_port);
  }
  const std::uint32_t generation = e.generation;
  e = port_entry{};
  e.generation = generation;
  --d.ports_in_use;
}

void host_core::hold_port_locked(domain& d, const unmap_notify& notify) {
  if (notify.port) ++d.ports[*notify.port].notify_holds;
}

void host_core::release_port_locked(domain& d, const unmap_notify& notify) {
  if (!notify.port) return;
  port_entry& e = d.ports[*notify.port];
  if (--e.notify_holds == 0 && e.orphaned) close_port_locked(d, *notify.port);
}

void host_core::close_handle_locked(handle_record& h) {
  if (!h.open) return;
  while (!h.ports.empty()) close_port_locked(*h.owner, h.ports.back());
  h.owner->handles.erase(&h);
  h.open = false;
}

void host_core::set_pending_locked(domain& d, evtchn_port_t port) noexcept {
  port_entry& e = d.ports[port];
  if (e.kind == port_kind::free || e.pending) return;
  e.pending = true;
  if (!e.masked && e.handle != nullptr) e.handle->add_deliverable();  // an orphan wakes nobody
}

void host_core::raise_locked(domain& d, evtchn_port_t port) {
  if (sched != nullptr) {
    sched->post(d.weak_from_this(), port, d.ports[port].generation);
  } else {
    set_pending_locked(d, port);
  }
}

void host_core::signal_remote_locked(domain& d, evtchn_port_t port) {
  if (port == 0 || port >= d.ports.size()) return;
  const port_entry& e = d.ports[port];
  if (e.kind == port_kind::connected) raise_locked(*e.remote, e.remote_port);
}

}  // namespace xenwire::sim::detail
