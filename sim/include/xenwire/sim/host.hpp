// xenwire::sim::host — a simulated Xen host living in one process.
//
//   sim::host host;
//   host.create_domain(0);                                  // dom0
//   auto guest = host.create_domain(1, {.xenstore = true});  // ref 1 + an unbound port for dom0
//   auto t0 = host.transport(0).value();                    // xenwire::transport for dom0
//   auto t1 = host.transport(1).value();
//   auto shared = t1->grants().share(0, 1, access::read_write).value();
//   auto mapped = t0->grants().map(1, shared->refs(), access::read_write).value();
//   ...
//   host.destroy_domain(1);                                 // a crash, at any point
//   EXPECT_TRUE(host.check_clean());                        // prints every leak when it fails
//
// Domains go alive → dying → dead. destroy_domain() makes a domain dying and releases, as a crash
// would, everything it holds: its shares are unshared, its mappings unmapped (unmap-notifies fire
// first), its ports closed (peers see port_state::peer_closed and are woken). It becomes dead once
// no other domain maps any of its pages. A dead domid can be created again.
//
// Objects handed out (transports, shared_pages, mapped_pages, event_channel) may outlive their
// domain or the host itself: after the domain dies they are inert (calls fail with
// errc::domain_dying) but their memory stays mapped until they are destroyed, so code still
// running for a crashed domain never touches unmapped memory.
//
// Threads: one host may be used from many threads at once (typically one domain per thread). Its
// tables are guarded by one mutex; shared pages are plain memory, synchronised by their users.
// notify() does not allocate. With a scheduler attached (attach()), the host is single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "xenwire/ring/transport.hpp"
#include "xenwire/sim/clean_report.hpp"

namespace xenwire::sim {

class scheduler;

namespace detail {
class host_core;
class domain;
}  // namespace detail

enum class domain_state : std::uint8_t { alive, dying, dead };
const char* to_string(domain_state s) noexcept;

struct host_options {
  std::size_t grant_limit = 1024;  // grant refs per domain (gntalloc's default limit)
  std::size_t port_limit = 1024;   // event-channel ports per domain
};

// What a domain's builder sets up before the guest runs, like the toolstack does.
struct domain_config {
  // Grant one zeroed page at ref gnttab_reserved_xenstore (1), read-write, to `xenstore_domid`,
  // and bind an unbound event-channel port for it in the new domain. The guest claims both with
  // domain_transport::take_xenstore(); xenstored maps ref 1 and binds to the port.
  bool xenstore = false;
  domid_t xenstore_domid = 0;
};

struct domain_info {
  domid_t domid = 0;
  std::optional<grant_ref_t> xenstore_ref;     // set with domain_config::xenstore
  std::optional<evtchn_port_t> xenstore_port;  // the guest's port, unbound for xenstore_domid
};

// The guest side of a pre-built xenstore connection.
struct xenstore_endpoint {
  std::unique_ptr<shared_pages> page;           // ref 1; destroying it unshares the page
  std::unique_ptr<event_channel> events;        // the handle holding `port`
  evtchn_port_t port = 0;
};

// A domain's xenwire::transport, plus simulator-only extras.
class domain_transport final : public xenwire::transport {
 public:
  domain_transport(std::shared_ptr<detail::host_core> core, std::shared_ptr<detail::domain> dom);
  ~domain_transport() override;

  domid_t self() const noexcept override;
  grant_table& grants() noexcept override;
  result<std::unique_ptr<event_channel>> open_event_channel() override;
  // VIRQ_DOM_EXC on a handle of its own (one per domain, as on Xen) and host::state(); dom0 only.
  result<std::unique_ptr<domain_watch>> watch_domains() override;

  // Hands over the page and port set up by domain_config::xenstore. Once: errc::invalid_argument
  // when there is none (not configured, or already taken); errc::domain_dying when dead.
  result<xenstore_endpoint> take_xenstore();

 private:
  std::shared_ptr<detail::host_core> core_;
  std::shared_ptr<detail::domain> dom_;
  std::unique_ptr<grant_table> grants_;
};

class host {
 public:
  explicit host(host_options options = {});
  ~host();
  host(const host&) = delete;
  host& operator=(const host&) = delete;

  // errc::invalid_argument for a reserved domid (>= DOMID_FIRST_RESERVED, 0x7FF0) or a domid
  // that is alive or dying; a dead domid is reused.
  result<domain_info> create_domain(domid_t domid, domain_config config = {});
  // Crash/death at any point: idempotent on a dying or dead domain. errc::no_such_domain if unknown.
  result<void> destroy_domain(domid_t domid);
  result<domain_state> state(domid_t domid) const;
  result<domain_info> info(domid_t domid) const;

  // A new transport for the domain (any number per domain). errc::domain_dying if not alive.
  result<std::unique_ptr<domain_transport>> transport(domid_t domid);

  // Limits apply to new allocations; lowering one below current use fails only later ones.
  result<void> set_grant_limit(domid_t domid, std::size_t limit);
  result<void> set_port_limit(domid_t domid, std::size_t limit);

  // Leak check over every domain, or one. Lists each grant, mapping and port still allocated,
  // and each domain stuck dying. After destroying every domain a correct program is clean.
  clean_report check_clean() const;
  clean_report check_clean(domid_t domid) const;

  // Simulated pages still backed by memory (grant entries plus live views held by objects).
  std::size_t pages_in_use() const;

  // Deterministic mode: events go through the scheduler's queue, faults apply. One scheduler per
  // host; errc::invalid_argument if either is already attached. Detach happens on destruction of
  // the scheduler or with detach(); queued events are then delivered at once.
  result<void> attach(scheduler& sched);
  void detach();

 private:
  friend class host_server;  // the cross-process host serves the same core to other processes
  std::shared_ptr<detail::host_core> core_;
};

}  // namespace xenwire::sim
