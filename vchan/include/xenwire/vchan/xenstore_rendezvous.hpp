// The rendezvous over xenwire's Xenstore client (xenwire::xenstore_client), exactly as libxenvchan
// does it: both keys written in one transaction retried on EAGAIN, perms [n<server>, r<client>],
// the path removed on close; waits are Xenstore watches.
//
// Unlike libxenvchan, remove() also removes the directories the rendezvous created that are left
// empty (issue 13: leftovers piling up until listing or the node quota fails): each empty ancestor
// that publish() found missing and created, and, for the convention path
// /local/domain/<srv>/data/vchan/<cli>/<port>, `.../data/vchan/<cli>` and `.../data/vchan`
// (which only vchan servers create). `.../data` or anything else that existed before is never
// removed. Each ancestor goes in a transaction that first lists it, so a concurrent server
// publishing a sibling either makes the list non-empty (kept) or the commit conflict (retried).
#pragma once

#include <set>
#include <string>

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
  // Removes `dir` if it exists and has no children; false when it stays (children, an error).
  bool remove_if_empty(const std::string& dir);

  xenstore::client* client_;
  xenstore::retry_policy retry_;
  std::set<std::string> created_;  // ancestors publish() created and remove() has not removed yet
};

// A Xenstore error as a xenwire error code (EACCES → permission_denied, EAGAIN → would_block, ...).
std::error_code to_error_code(const xenstore::client_error& e) noexcept;

}  // namespace xenwire::vchan
