// What store operations report: the changes the watch layer fires events for, and the per-domain
// accounting changes the quota layer checks. Plain values, no callbacks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xenwire/base/ids.hpp"
#include "xenwire/xenstore/perms.hpp"

namespace xenwire::xenstore {

// Who creates nodes: new nodes inherit the parent's permissions; an unprivileged creator becomes
// their owner, a privileged one (dom0) keeps the parent's owner (C xenstored's construct_node).
struct creator {
  domid_t domid;
  bool privileged;
};

enum class change_kind : std::uint8_t { write, mkdir, rm, set_perms };

struct removed_node {
  std::string path;
  node_perms perms;  // as they were before removal (watch delivery checks them)
  friend bool operator==(const removed_node&, const removed_node&) = default;
};

struct change_set {
  change_kind kind{};
  std::string path;                   // the node the request named
  std::vector<std::string> created;   // new nodes, parents before children
  std::vector<removed_node> removed;  // rm: the removed subtree, its root first, then pre-order
  bool modified = false;              // the existing node at `path` got a new value or perms
  std::optional<node_perms> old_perms;  // set_perms: the perms before

  // False for a no-op (mkdir of an existing node, rm of an absent one).
  bool changed() const noexcept { return modified || !created.empty() || !removed.empty(); }
};

// What a domain owns in the store: nodes whose perms[0] names it, and their node_memory() sum.
struct domain_usage {
  std::uint64_t nodes = 0;
  std::uint64_t memory = 0;
  friend bool operator==(const domain_usage&, const domain_usage&) = default;
};

struct usage_change {
  std::int64_t nodes = 0;
  std::int64_t memory = 0;
  bool zero() const noexcept { return nodes == 0 && memory == 0; }
  friend bool operator==(const usage_change&, const usage_change&) = default;
};

// Net change per domain; domains with no net change are absent.
using usage_delta = std::map<domid_t, usage_change>;

}  // namespace xenwire::xenstore
