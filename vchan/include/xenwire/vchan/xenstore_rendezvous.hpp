// The rendezvous over xenwire's Xenstore client (xenwire::xenstore_client), exactly as libxenvchan
// does it: both keys written in one transaction retried on EAGAIN, perms [n<server>, r<client>],
// the path removed on close; waits are Xenstore watches.
#pragma once

#include "xenwire/vchan/rendezvous.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/client/helpers.hpp"

namespace xenwire::vchan {

class xenstore_rendezvous final : public rendezvous {
 public:
  // `c` must outlive this object and every wait it starts.
  explicit xenstore_rendezvous(xenstore::client& c, xenstore::retry_policy retry = {}) noexcept
      : client_(&c), retry_(retry) {}

  result<void> publish(std::string_view path, domid_t server, domid_t client, const keys& k) override;
  result<std::optional<keys>> read(std::string_view path) override;
  result<void> remove(std::string_view path) override;
  // The wait's fd() is its Xenstore watch's fd (readable while events wait); poll() drains the
  // watch's queue without blocking, reading the keys only after an event. EACCES counts as "not there yet" in a
  // wait (a missing node under the server's unreadable home reads as EACCES), but not in read().
  result<std::unique_ptr<key_wait>> wait_for_keys(std::string_view path) override;

 private:
  xenstore::client* client_;
  xenstore::retry_policy retry_;
};

// A Xenstore error as a xenwire error code (EACCES → permission_denied, EAGAIN → would_block, ...).
std::error_code to_error_code(const xenstore::client_error& e) noexcept;

}  // namespace xenwire::vchan
