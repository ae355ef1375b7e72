// An in-process rendezvous: a map from path to the two key strings and their permissions. For unit
// tests, fuzzing and single-process simulations. Thread-safe. Waits get an eventfd that becomes
// readable whenever a publish, set_raw or remove touches their path.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "xenwire/vchan/rendezvous.hpp"

namespace xenwire::vchan {

class memory_rendezvous final : public rendezvous {
 public:
  // What is stored at one path, as a Xenstore would hold it.
  struct entry {
    std::string ring_ref, event_channel;  // the values' text; empty string: key absent
    domid_t owner = 0;                     // perms[0]: owner, others none
    domid_t reader = 0;                    // perms[1]: read
    unsigned publishes = 0;                // how many transactions wrote this path
  };

  memory_rendezvous();
  ~memory_rendezvous() override;

  result<void> publish(std::string_view path, domid_t server, domid_t client, const keys& k) override;
  result<std::optional<keys>> read(std::string_view path) override;
  result<void> remove(std::string_view path) override;
  result<std::unique_ptr<key_wait>> wait_for_keys(std::string_view path) override;

  // Test hooks: what is stored, and raw (possibly hostile) key text written as if by a server.
  std::optional<entry> lookup(std::string_view path) const;
  void set_raw(std::string_view path, std::string ring_ref, std::string event_channel);
  std::size_t size() const;

  struct shared;  // state shared with the waits (they may outlive the rendezvous)

 private:
  std::shared_ptr<shared> state_;
};

}  // namespace xenwire::vchan
