// The host facade and domain lifecycle: create, destroy (crash), states, transports, limits.
#include "xenwire/sim/host.hpp"

#include <utility>

#include "core.hpp"
#include "grant_table_impl.hpp"
#include "scheduler_impl.hpp"
#include "xenwire/ring/event_wait.hpp"
#include "xenwire/sim/scheduler.hpp"

namespace xenwire::sim {
namespace detail {

namespace {
// Boot objects are destroyed outside the mutex: their destructors take it.
struct boot_objects {
  std::unique_ptr<shared_pages> page;
  std::unique_ptr<event_channel> events;
};
boot_objects take_boot_locked(domain& d) {
  return {std::move(d.boot_xenstore_page), std::move(d.boot_xenstore_events)};
}
}  // namespace

host_core::~host_core() = default;

domain* host_core::find_locked(domid_t id) const {
  auto it = domains.find(id);
  return it == domains.end() ? nullptr : it->second.get();
}

bool host_core::domain_alive(domid_t id) const {
  std::lock_guard lock(mutex);
  const domain* d = find_locked(id);
  return d != nullptr && d->alive();
}

result<domain_info> host_core::create(domid_t id, domain_config config) {
  std::shared_ptr<domain> d;
  {
    std::lock_guard lock(mutex);
    if (id >= domid_first_reserved) return fail(errc::invalid_argument);
    if (const domain* old = find_locked(id); old != nullptr && old->state != domain_state::dead) {
      return fail(errc::invalid_argument);
    }
    d = std::make_shared<domain>();
    d->id = id;
    d->grant_limit = options.grant_limit;
    d->port_limit = options.port_limit;
    d->info.domid = id;
    domains[id] = d;
  }
  if (config.xenstore) {
    // What the toolstack does before the guest runs: grant the xenstore page at its reserved ref
    // and allocate an event-channel port, unbound for xenstored's domain.
    auto page = share(d, config.xenstore_domid, 1, access::read_write, {}, gnttab_reserved_xenstore);
    if (!page) return fail(page.error());
    auto events = open_boot_port(d, config.xenstore_domid);
    if (!events) return fail(events.error());
    std::lock_guard lock(mutex);
    d->boot_xenstore_page = std::move(*page);
    d->boot_xenstore_events = std::move(events->first);
    d->info.xenstore_ref = gnttab_reserved_xenstore;
    d->info.xenstore_port = events->second;
  }
  std::lock_guard lock(mutex);
  return d->info;
}

result<void> host_core::destroy(domid_t id) {
  boot_objects boot;
  {
    std::lock_guard lock(mutex);
    domain* d = find_locked(id);
    if (d == nullptr) return fail(errc::no_such_domain);
    kill_locked(*d);
    boot = take_boot_locked(*d);
  }
  return {};
}

void host_core::kill_locked(domain& d) {
  if (!d.alive()) return;
  d.state = domain_state::dying;
  raise_dom_exc_locked();
  // Unmap-notifies first (they signal through the domain's ports), then the ports go.
  for (share_record* rec : std::vector(d.shares.begin(), d.shares.end())) unshare_locked(*rec);
  for (map_record* rec : std::vector(d.maps.begin(), d.maps.end())) unmap_locked(*rec);
  for (handle_record* h : std::vector(d.handles.begin(), d.handles.end())) {
    while (!h->ports.empty()) close_port_locked(d, h->ports.back());
    h->open = false;
    h->wake_all();  // threads blocked in wait() learn that their domain died
  }
  d.handles.clear();
  update_dead_locked(d);
}

std::optional<domid_t> host_core::random_alive_domain(scheduler_impl& s) {
  std::lock_guard lock(mutex);
  std::vector<domid_t> alive;
  for (const auto& [id, d] : domains) {
    if (d->alive()) alive.push_back(id);
  }
  if (alive.empty()) return std::nullopt;
  return alive[static_cast<std::size_t>(s.rng.uniform(alive.size()))];
}

std::optional<std::pair<domid_t, evtchn_port_t>> host_core::spurious_event(scheduler_impl& s) {
  std::lock_guard lock(mutex);
  std::vector<std::pair<domain*, evtchn_port_t>> bound;
  for (const auto& [id, d] : domains) {
    if (!d->alive()) continue;
    for (evtchn_port_t p = 1; p < d->ports.size(); ++p) {
      if (d->ports[p].kind != port_kind::free) bound.emplace_back(d.get(), p);
    }
  }
  if (bound.empty()) return std::nullopt;
  auto [d, port] = bound[static_cast<std::size_t>(s.rng.uniform(bound.size()))];
  set_pending_locked(*d, port);
  return std::pair{d->id, port};
}

bool host_core::fail_grant_locked() { return sched != nullptr && sched->rng.chance(sched->config.grant_failure); }
bool host_core::fail_port_locked() { return sched != nullptr && sched->rng.chance(sched->config.port_failure); }

result<void> host_core::attach_scheduler(scheduler_impl& s) {
  std::lock_guard lock(mutex);
  if (sched != nullptr || s.core) return fail(errc::invalid_argument);
  sched = &s;
  s.core = shared_from_this();
  return {};
}

void host_core::detach_scheduler() {
  std::lock_guard lock(mutex);
  if (sched == nullptr) return;
  scheduler_impl& s = *sched;
  sched = nullptr;
  for (const queued_event& ev : s.queue) {
    auto d = ev.target.lock();
    if (d && d->alive() && ev.port < d->ports.size() && d->ports[ev.port].generation == ev.generation) {
      set_pending_locked(*d, ev.port);
    }
  }
  s.queue.clear();
  s.core.reset();  // may drop the last reference to *this only after we return: the caller holds one
}

bool deliver_event(host_core& core, const std::weak_ptr<domain>& target, evtchn_port_t port,
                   std::uint32_t generation, domid_t& domid_out) {
  std::lock_guard lock(core.mutex);
  auto d = target.lock();
  if (!d) return false;
  domid_out = d->id;
  if (!d->alive() || port >= d->ports.size()) return false;
  const port_entry& e = d->ports[port];
  if (e.kind == port_kind::free || e.generation != generation) return false;
  core.set_pending_locked(*d, port);
  return true;
}

}  // namespace detail

const char* to_string(domain_state s) noexcept {
  switch (s) {
    case domain_state::alive:
      return "alive";
    case domain_state::dying:
      return "dying";
    case domain_state::dead:
      return "dead";
  }
  return "?";
}

// domain_transport

domain_transport::domain_transport(std::shared_ptr<detail::host_core> core, std::shared_ptr<detail::domain> dom)
    : core_(std::move(core)),
      dom_(std::move(dom)),
      grants_(std::make_unique<detail::grant_table_impl>(core_, dom_)) {}

domain_transport::~domain_transport() = default;

domid_t domain_transport::self() const noexcept { return dom_->id; }
grant_table& domain_transport::grants() noexcept { return *grants_; }
result<std::unique_ptr<event_channel>> domain_transport::open_event_channel() { return core_->open_handle(dom_); }

namespace {

domain_life life_of(const detail::domain* d) {
  if (d == nullptr) return domain_life::dead;
  switch (d->state) {
    case domain_state::alive: return domain_life::running;
    case domain_state::dying: return domain_life::dying;
    case domain_state::dead: break;
  }
  return domain_life::dead;
}

class local_domain_watch final : public domain_watch {
 public:
  local_domain_watch(std::shared_ptr<detail::host_core> core, std::unique_ptr<event_channel> events)
      : core_(std::move(core)), events_(std::move(events)) {}
  int fd() const noexcept override { return events_->fd(); }
  result<bool> consume() override {
    return drain_events([this] { return events_->pending(); });
  }
  result<domain_life> life(domid_t domid) override {
    std::lock_guard lock(core_->mutex);
    return life_of(core_->find_locked(domid));
  }

 private:
  std::shared_ptr<detail::host_core> core_;
  std::unique_ptr<event_channel> events_;
};

}  // namespace

result<std::unique_ptr<domain_watch>> domain_transport::watch_domains() {
  if (dom_->id != 0) return fail(errc::permission_denied);
  auto events = open_event_channel();
  if (!events) return fail(events.error());
  if (auto port = detail::bind_virq(**events, 3); !port) return fail(port.error());
  return std::make_unique<local_domain_watch>(core_, std::move(*events));
}

result<xenstore_endpoint> domain_transport::take_xenstore() {
  std::lock_guard lock(core_->mutex);
  if (!dom_->alive()) return fail(errc::domain_dying);
  if (!dom_->boot_xenstore_page) return fail(errc::invalid_argument);
  xenstore_endpoint ep;
  ep.page = std::move(dom_->boot_xenstore_page);
  ep.events = std::move(dom_->boot_xenstore_events);
  ep.port = *dom_->info.xenstore_port;
  return ep;
}

// host

host::host(host_options options) : core_(std::make_shared<detail::host_core>(options)) {}

host::~host() {
  detach();
  // Break the domain → boot object → core cycle; other objects keep the core alive as needed.
  std::vector<detail::boot_objects> boot;
  {
    std::lock_guard lock(core_->mutex);
    for (auto& [id, d] : core_->domains) boot.push_back(detail::take_boot_locked(*d));
  }
}

result<domain_info> host::create_domain(domid_t domid, domain_config config) { return core_->create(domid, config); }
result<void> host::destroy_domain(domid_t domid) { return core_->destroy(domid); }

result<domain_state> host::state(domid_t domid) const {
  std::lock_guard lock(core_->mutex);
  const detail::domain* d = core_->find_locked(domid);
  if (d == nullptr) return fail(errc::no_such_domain);
  return d->state;
}

result<domain_info> host::info(domid_t domid) const {
  std::lock_guard lock(core_->mutex);
  const detail::domain* d = core_->find_locked(domid);
  if (d == nullptr) return fail(errc::no_such_domain);
  return d->info;
}

result<std::unique_ptr<domain_transport>> host::transport(domid_t domid) {
  std::lock_guard lock(core_->mutex);
  detail::domain* d = core_->find_locked(domid);
  if (d == nullptr) return fail(errc::no_such_domain);
  if (!d->alive()) return fail(errc::domain_dying);
  return std::make_unique<domain_transport>(core_, d->shared_from_this());
}

result<void> host::set_grant_limit(domid_t domid, std::size_t limit) {
  std::lock_guard lock(core_->mutex);
  detail::domain* d = core_->find_locked(domid);
  if (d == nullptr) return fail(errc::no_such_domain);
  d->grant_limit = limit;
  return {};
}

result<void> host::set_port_limit(domid_t domid, std::size_t limit) {
  std::lock_guard lock(core_->mutex);
  detail::domain* d = core_->find_locked(domid);
  if (d == nullptr) return fail(errc::no_such_domain);
  d->port_limit = limit;
  return {};
}

std::size_t host::pages_in_use() const {
  std::lock_guard lock(core_->mutex);
  return core_->memory.pages_in_use();
}

result<void> host::attach(scheduler& sched) { return core_->attach_scheduler(*sched.impl_); }
void host::detach() { core_->detach_scheduler(); }

}  // namespace xenwire::sim
