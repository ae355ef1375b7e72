// The simulated hypervisor's state: domains, their grant tables and event-channel ports, the
// page store. Every member is guarded by host_core::mutex; functions named *_locked expect it held.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "page_memory.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/sim/host.hpp"

namespace xenwire::sim::detail {

class scheduler_impl;
class domain;

inline constexpr domid_t domid_first_reserved = 0x7FF0;
inline constexpr grant_ref_t first_free_ref = 8;       // refs 0..7 are reserved, as in Xen
inline constexpr grant_ref_t grant_ref_space = 32768;  // v1 table, 64 frames

struct grant_entry {
  domid_t grantee = 0;
  access mode = access::read_write;
  page_index page = 0;
  bool shared = true;     // false once the owner unshared it (or died)
  std::uint32_t maps = 0; // live mappings by the grantee
};

// One share() call.
struct share_record {
  std::shared_ptr<domain> owner;
  domid_t peer = 0;
  std::vector<grant_ref_t> refs;
  std::vector<page_index> pages;
  unmap_notify notify;
  bool active = true;
};

// One map() call.
struct map_record {
  std::shared_ptr<domain> mapper;
  std::shared_ptr<domain> granter;
  std::vector<grant_ref_t> refs;
  std::vector<page_index> pages;
  access mode = access::read_only;
  unmap_notify notify;
  bool active = true;
};

struct handle_record;

enum class port_kind : std::uint8_t { free, unbound, connected, closed, virq };

struct port_entry {
  port_kind kind = port_kind::free;
  handle_record* handle = nullptr;
  domid_t remote_domid = 0;
  evtchn_port_t remote_port = 0;
  domain* remote = nullptr;  // set while connected; a dying peer closes us before it goes away
  bool pending = false;
  bool masked = false;
  std::uint32_t generation = 0;  // bumped at each bind, so stale queued events are dropped
};

// One event_channel handle: ports sharing an eventfd that is readable iff one is deliverable.
struct handle_record {
  std::shared_ptr<domain> owner;
  int efd = -1;
  std::vector<evtchn_port_t> ports;
  std::size_t deliverable = 0;  // ports pending and unmasked
  std::size_t cursor = 0;       // round-robin position for pending()
  bool open = true;             // false once closed or its domain died

  void add_deliverable() noexcept;
  void remove_deliverable() noexcept;
  void wake_all() noexcept;  // make the fd readable for good (domain died)
};

class domain : public std::enable_shared_from_this<domain> {
 public:
  domid_t id = 0;
  domain_state state = domain_state::alive;
  std::size_t grant_limit = 0;
  std::size_t port_limit = 0;
  domain_info info;

  std::map<grant_ref_t, grant_entry> grants;
  grant_ref_t next_ref = first_free_ref;

  std::vector<port_entry> ports{1};  // index = port number; port 0 is never bound
  std::size_t ports_in_use = 0;

  std::set<share_record*> shares;
  std::set<map_record*> maps;
  std::set<handle_record*> handles;

  // Set up by domain_config::xenstore until the guest takes them.
  std::unique_ptr<shared_pages> boot_xenstore_page;
  std::unique_ptr<event_channel> boot_xenstore_events;

  bool alive() const noexcept { return state == domain_state::alive; }
};

class host_core : public std::enable_shared_from_this<host_core> {
 public:
  explicit host_core(host_options opts) : options(opts) {}
  ~host_core();

  mutable std::mutex mutex;
  host_options options;
  page_memory memory;
  std::map<domid_t, std::shared_ptr<domain>> domains;
  scheduler_impl* sched = nullptr;

  domain* find_locked(domid_t id) const;

  // Grants.
  result<std::unique_ptr<shared_pages>> share(const std::shared_ptr<domain>& owner, domid_t peer,
                                               std::size_t pages, access peer_access, unmap_notify notify,
                                               std::optional<grant_ref_t> fixed_ref = {});
  result<std::unique_ptr<mapped_pages>> map(const std::shared_ptr<domain>& mapper, domid_t peer,
                                            std::span<const grant_ref_t> refs, access mode,
                                            unmap_notify notify);
  void unshare_locked(share_record& rec);
  void unmap_locked(map_record& rec);
  void free_grant_locked(domain& d, grant_ref_t ref);
  void update_dead_locked(domain& d);

  // Event channels.
  result<std::unique_ptr<event_channel>> open_handle(const std::shared_ptr<domain>& owner);
  // A new handle with one port unbound for `remote`, never subject to faults (domain building).
  result<std::pair<std::unique_ptr<event_channel>, evtchn_port_t>> open_boot_port(
      const std::shared_ptr<domain>& owner, domid_t remote);
  result<evtchn_port_t> allocate_port_locked(handle_record& h, bool may_fault);
  result<evtchn_port_t> bind_unbound_locked(handle_record& h, domid_t remote, bool may_fault);
  void close_port_locked(domain& d, evtchn_port_t port);  // frees it, closes the peer's end
  void close_handle_locked(handle_record& h);
  // Makes a port pending now (never allocates).
  void set_pending_locked(domain& d, evtchn_port_t port) noexcept;
  // Signals a port: at once, or through the scheduler's queue in deterministic mode.
  void raise_locked(domain& d, evtchn_port_t port);
  // Signals the remote end of one of d's ports, if connected (unmap-notify).
  void signal_remote_locked(domain& d, evtchn_port_t port);

  // Lifecycle.
  result<domain_info> create(domid_t id, domain_config config);
  result<void> destroy(domid_t id);  // takes the lock; destroys boot objects outside it
  void kill_locked(domain& d);
  // Picks a random live domain, or none (used by crash faults).
  std::optional<domid_t> random_alive_domain(scheduler_impl& s);
  // Makes a random bound port of a live domain pending; returns it (spurious-event fault).
  std::optional<std::pair<domid_t, evtchn_port_t>> spurious_event(scheduler_impl& s);
  bool domain_alive(domid_t id) const;
  // Deterministic mode on/off. Detaching delivers every queued event at once.
  result<void> attach_scheduler(scheduler_impl& s);
  void detach_scheduler();

  // Fault draws (false without a scheduler).
  bool fail_grant_locked();
  bool fail_port_locked();

  std::vector<std::string> leaks_locked(const domain& d) const;

  // VIRQ_DOM_EXC: ports bound in live domains, raised whenever a domain starts dying or dies.
  result<evtchn_port_t> bind_virq_locked(handle_record& h, std::uint32_t virq);
  void raise_dom_exc_locked();
  std::vector<std::pair<domain*, evtchn_port_t>> virq_ports;
};

// The pages behind a share or a mapping made by this host (for processes that map them themselves).
std::span<const page_index> backing_pages(const shared_pages& s);
std::span<const page_index> backing_pages(const mapped_pages& m);
// The event-channel calls beyond the seam that the cross-process host serves.
result<evtchn_port_t> bind_virq(event_channel& handle, std::uint32_t virq);
result<std::optional<evtchn_port_t>> pending_and_mask(event_channel& handle);

// Deterministic delivery of one event (called by the scheduler).
bool deliver_event(host_core& core, const std::weak_ptr<domain>& target, evtchn_port_t port,
                   std::uint32_t generation, domid_t& domid_out);

}  // namespace xenwire::sim::detail
