// Domains' xenstore rings, served from the daemon's loop: on INTRODUCE the domain's page (grant ref
// 1) is mapped and its event channel bound; every pending port then moves bytes between the ring
// and server_core like socket_connection does for sockets. A corrupt ring gets error = RINGIDX, a
// protocol violation error = PROTO, and the connection is dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "daemon/message_tracer.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/ring/xenstore_ring.hpp"
#include "xenwire/base/event_loop.hpp"
#include "xenwire/xenstore/daemon/xenstored.hpp"
#include "xenwire/xenstore/server/core.hpp"

namespace xenwire::xenstore {

class ring_host {
 public:
  using say_fn = std::function<void(log_level, const std::string&)>;
  ring_host(transport& t, event_loop& loop, server_core& core, say_fn say, const trace_sink& trace);
  ~ring_host();
  ring_host(const ring_host&) = delete;
  ring_host& operator=(const ring_host&) = delete;

  // effect::introduce_domain: maps, binds, advertises the features, then completes the INTRODUCE
  // (server_core::complete_introduce, which opens the core connection; on failure it answers the
  // requester with the error).
  void introduce(const effect::introduce_domain& in, time_point now);
  // A ring that needs no INTRODUCE: the store domain's own (its kernel's xenbus page and port),
  // opened as a core ring connection of `domid`.
  result<conn_id> adopt(domid_t domid, std::shared_ptr<mapped_pages> page, evtchn_port_t remote_port, time_point now);
  // effect::release_domain: unmaps and unbinds; the core connection is closed when dropped.
  void release(domid_t domid, conn_id conn);
  // Is `conn` (or was it, until its drop is handled) one of ours?
  bool owns(conn_id conn) const;
  // An effect::drop: records the reason on the ring, signals, closes the core connection.
  void drop(conn_id conn, drop_reason why, time_point now);
  // After each loop batch: offers held-back input, writes queued output, signals peers. Visits only
  // rings with work: `ready` (the core's effect::ready ids this pass; others' are skipped) and
  // those left with work by an earlier service, so idle rings cost nothing per batch.
  void settle(time_point now, bool& progressed, std::span<const conn_id> ready);
  void close_all(time_point now);
  // Opens the transport's domain watch (VIRQ_DOM_EXC): how dying, dead and shut-down domains are
  // found, as C xenstored's domain_cleanup. Without one (a backend that cannot, or another watcher
  // holds the VIRQ) a domain is released when its end of the event channel closes, which only the
  // simulator reports; says so.
  void start_domain_watch();
  std::size_t size() const noexcept { return rings_.size(); }

  // Live update. The handle every ring's port is bound on is opened for exec where the backend
  // can (transport::open_event_channel_for_exec): its fd is GLOBAL_DATA's evtchn fd and the ports
  // stay bound in the image we exec. nullopt: no handle, or one that would not survive.
  std::optional<int> exec_event_fd() const noexcept;
  // What the state says of ring `conn`: our local port, and input read off the ring that the core
  // has not taken yet.
  std::optional<evtchn_port_t> local_port(conn_id conn) const;
  std::string_view held_input(conn_id conn) const;
  // -U: the previous image's handle, from its inherited fd (transport::adopt_event_channel).
  result<void> adopt_event_channel(int fd);
  // -U: a ring connection the core imported, its page mapped again (grant ref 1, or our own
  // kernel's page) and its port still bound on the adopted handle. `held` is fed before the ring.
  result<void> restore(conn_id conn, domid_t domid, std::shared_ptr<mapped_pages> page, evtchn_port_t local_port,
                       std::string_view held);

 private:
  struct ring_conn;
  void on_events(time_point now);
  void on_port(evtchn_port_t port, time_point now);
  void on_domain_exc(time_point now);
  void service(ring_conn& rc, time_point now);
  bool needs_service(const ring_conn& rc) const;
  void mark_active(ring_conn& rc);
  void pump_input(ring_conn& rc, time_point now);
  void pump_output(ring_conn& rc, time_point now);
  void fail_ring(ring_conn& rc, std::error_code why, time_point now);
  void teardown(conn_id conn);
  result<void> ensure_event_channel();
  result<void> watch_event_channel();
  ring_conn& add_ring(domid_t domid, conn_id id, evtchn_port_t port, std::shared_ptr<mapped_pages> page,
                      server_ring ring);

  transport& transport_;
  event_loop& loop_;
  server_core& core_;
  say_fn say_;
  const trace_sink& trace_;
  std::unique_ptr<event_channel> evtchn_;
  bool evtchn_survives_exec_ = false;
  std::unique_ptr<domain_watch> domains_;
  std::unordered_map<conn_id, std::unique_ptr<ring_conn>> rings_;
  std::unordered_map<evtchn_port_t, conn_id> by_port_;
  std::vector<conn_id> active_;         // rings settle() must visit (ring_conn::active); may hold closed ids
  std::vector<conn_id> settle_ids_;     // reused by settle()
  std::unordered_set<conn_id> closing_;  // torn down (released or failed), core close still due
};

}  // namespace xenwire::xenstore
