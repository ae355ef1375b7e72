// Registered watches, indexed by watched node so that a change to N costs one lookup per ancestor
// of N (C xenstored scans every watch of every connection). Matching follows tools/xenstored/watch.c:
// subtree matches (with depth), exact matches for removed descendants, and the two special-watch
// matches for @introduceDomain / @releaseDomain[/<domid>].
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xenwire/xenstore/server/core.hpp"

namespace xenwire::xenstore::detail {

enum class watch_match : std::uint8_t {
  subtree,  // watches on `name` or an ancestor, within their depth (WRITE, MKDIR, SET_PERMS, RM root)
  exact,    // watches on exactly `name` (each removed descendant)
  nodepth,  // special event without domid: exact watches registered without a depth
  depth,    // special event "<special>/<domid>": exact watches, or watches on <special> with depth > 0
};

struct watch {
  conn_id conn;
  std::string node;   // canonical: absolute path or special path
  std::string token;
  int depth;          // -1: no depth limit
  std::size_t prefix_len;  // relative watches: bytes of "<home>/" stripped from event paths
  std::uint64_t seq;  // registration order, for per-connection event order

  std::string_view event_path(std::string_view name) const noexcept { return name.substr(prefix_len); }
  std::size_t accounted_bytes() const noexcept { return node.size() + token.size(); }
};

class watch_registry {
 public:
  // Fails (returns nullptr) if the connection already has a watch with this node and token.
  const watch* add(conn_id conn, std::string node, std::string token, int depth, std::size_t prefix_len);
  // Removes the connection's watch on node/token; returns its accounted bytes, or nullopt if none.
  std::optional<std::size_t> remove(conn_id conn, std::string_view node, std::string_view token);
  // Removes every watch of the connection; returns (count, accounted bytes).
  std::pair<std::size_t, std::size_t> remove_all(conn_id conn);
  std::size_t count(conn_id conn) const;
  // The connection's watches in registration order.
  std::vector<const watch*> of(conn_id conn) const;
  std::size_t total() const noexcept { return total_; }

  // The watches an event on `name` reaches, in registration order.
  void match(std::string_view name, watch_match how, std::vector<const watch*>& out) const;

 private:
  using watch_list = std::vector<std::unique_ptr<watch>>;
  struct string_hash {  // heterogeneous lookup: matching probes with string_views, no allocation
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, watch_list, string_hash, std::equal_to<>> by_node_;
  std::unordered_map<conn_id, std::vector<watch*>> by_conn_;
  std::uint64_t next_seq_ = 0;
  std::size_t total_ = 0;
};

// Is `child` equal to `parent` or below it, within `depth` levels (-1: any)? (watch.c's is_child)
bool is_child(std::string_view child, std::string_view parent, int depth) noexcept;

}  // namespace xenwire::xenstore::detail
