// Whether the peer domain is (still) there. Asked of the hypervisor through the transport: binding
// to port 0 of the domain (never an unbound port, so nothing is ever bound) fails with ESRCH
// (no_such_domain) when the domain does not exist or is dying, with EINVAL (bad_port) when it does.
// Checked at start, on every @releaseDomain event and at least once a second while waiting (a
// guest's xenstored may not send it @releaseDomain). vchan-socket-proxy asks xc_domain_getinfo,
// which only dom0 may call: a guest's proxy waits forever for a domain that is gone.
#pragma once

#include <chrono>
#include <memory>

#include "xenwire/base/error.hpp"
#include "xenwire/base/ids.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::vchan_proxy {

class peer_domain {
 public:
  // Fails with no_such_domain if the domain is not there now.
  static result<peer_domain> watch(transport& t, xenstore::client& xs, domid_t domid);

  // Readable when @releaseDomain fired; poll with a timeout of at most a second, then check_due().
  int fd() const noexcept { return release_.fd(); }
  // Checks if @releaseDomain fired or the last check is a second old; no_such_domain when gone.
  result<void> check_due();
  // Checks now.
  result<void> check();

 private:
  peer_domain(std::unique_ptr<event_channel> ev, domid_t domid, xenstore::watch w) noexcept
      : events_(std::move(ev)), domid_(domid), release_(std::move(w)) {}
  std::unique_ptr<event_channel> events_;
  domid_t domid_;
  xenstore::watch release_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace xenwire::vchan_proxy
