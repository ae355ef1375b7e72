// xenwire::sim::remote_transport — one process's door into a cross-process simulated host.
//
// The host process (sim::host_server, run by `xenwire-host start`) owns every table: domains, grant
// tables, event channels. Each process connects over the host's Unix socket as one process of one
// domain and gets the seam (xenwire::transport) on it:
//
//   auto t = sim::remote_transport::connect({.domid = 5, .mode = sim::membership::owner}).value();
//   auto shared = t->grants().share(0, 1, access::read_write).value();   // pages in the host's
//   auto events = t->open_event_channel().value();                       // shared memory segment
//
// Granted pages live in the host's named shared-memory segment and are mapped straight into this
// process (read-only mappings are PROT_READ: writes fault). Each event-channel handle is an eventfd
// the host signals, so poll() on fd() needs no round trip; every other call is one request to the
// host. The host is the only writer of its tables, so a process dying at any point — also between
// a request and its reply — can never leave them half-updated: the host sees the socket close and
// releases what the process held (and, for an owner, destroys its domain).
//
// Threads: a remote_transport and the objects it hands out may be used from any thread; requests
// are serialised on the process's connection. Objects may outlive the transport (they share the
// connection). If the host goes away, calls fail with errc::peer_closed and wait() returns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xenwire/ring/transport.hpp"
#include "xenwire/sim/host.hpp"

namespace xenwire::sim {

namespace detail {
class remote_connection;
}

enum class membership : std::uint8_t {
  owner,   // the connection is the domain's life: created if absent, destroyed when the connection closes
  member,  // one process of an existing domain: closing releases what this process held, nothing more
};

struct remote_options {
  std::filesystem::path socket;  // empty: $XENWIRE_HOST, else the default host's socket (host_paths)
  std::optional<domid_t> domid;  // empty: $XENWIRE_DOMID, else 0
  membership mode = membership::member;
};

// VIRQ_DOM_EXC (xen/include/public/xen.h): raised in dom0 whenever a domain starts dying or dies.
inline constexpr std::uint32_t virq_dom_exc = 3;

// An event-channel handle of a remote host, with the calls only the libxen emulation needs.
class remote_event_channel : public event_channel {
 public:
  // Binds a virtual IRQ (only virq_dom_exc, and only in dom0; else errc::invalid_argument).
  virtual result<evtchn_port_t> bind_virq(std::uint32_t virq) = 0;
  // pending(), and masks the port it returns, in one request: what Linux's evtchn driver does on
  // delivery (user space unmasks when it has handled the event).
  virtual result<std::optional<evtchn_port_t>> pending_and_mask() = 0;
};

// One domain as `ls` and xc_domain_getinfo see it.
struct domain_status {
  domid_t domid = 0;
  domain_state state = domain_state::alive;
  std::size_t grants = 0;  // grant entries still allocated
  std::size_t ports = 0;   // ports bound
  std::size_t processes = 0;
};

class remote_transport final : public xenwire::transport {
 public:
  static result<std::unique_ptr<remote_transport>> connect(remote_options opts = {});
  ~remote_transport() override;
  remote_transport(const remote_transport&) = delete;
  remote_transport& operator=(const remote_transport&) = delete;

  domid_t self() const noexcept override;
  grant_table& grants() noexcept override;
  // The handles are remote_event_channel.
  result<std::unique_ptr<event_channel>> open_event_channel() override;
  // keep_across_exec: the handle's fd() is inherited by an image this process execs, and its ports
  // stay bound until that image adopts it or the process exits (xenevtchn_open with
  // XENEVTCHN_NO_CLOEXEC); a forked child may adopt it too, and shares it.
  result<std::unique_ptr<remote_event_channel>> open_remote_event_channel(bool keep_across_exec = false);
  // The handle whose fd (inherited across exec or fork) this is, on this connection; the handle
  // takes `fd` (closes it) on success only. errc::invalid_argument if no handle of this domain has it.
  result<std::unique_ptr<remote_event_channel>> adopt_remote_event_channel(int fd);
  result<std::unique_ptr<event_channel>> open_event_channel_for_exec() override;
  result<std::unique_ptr<event_channel>> adopt_event_channel(int fd) override;
  // VIRQ_DOM_EXC on a handle of its own (one per domain, as on Xen) and the host's domain list;
  // dom0 only.
  result<std::unique_ptr<domain_watch>> watch_domains() override;

  // The page and port a toolstack built for this domain (create_domain with xenstore): once.
  result<xenstore_endpoint> take_xenstore();

  // Toolstack calls: dom0 only (errc::permission_denied otherwise). A domain created here is held
  // by the host until destroy_domain or until an owner connection of it closes.
  result<domain_info> create_domain(domid_t domid, domain_config config = {});
  result<void> destroy_domain(domid_t domid);
  result<std::vector<domain_status>> domains();
  // `xenwire-host ls`: every domain with its grants and ports, one line each, human-readable.
  result<std::string> describe();
  // `xenwire-host stop`: destroys every domain, reports leaks, and makes the host exit.
  result<clean_report> shutdown_host();

  // The connection's socket (for tests that kill a process and poll for the host's side).
  int connection_fd() const noexcept;

 private:
  explicit remote_transport(std::shared_ptr<detail::remote_connection> conn);
  std::shared_ptr<detail::remote_connection> conn_;
  std::unique_ptr<grant_table> grants_;
};

// Fault injection for tests of process death: this process SIGKILLs itself at its n-th request
// to a host (counting every request of every connection from 0), just before sending it or just
// after. Meant for a forked child; off by default.
namespace testing {
void die_at_request(std::uint64_t n, bool after_send) noexcept;
}

}  // namespace xenwire::sim
