// A Xenstore transaction over the persistent store.
//
// Start takes an O(1) snapshot; the transaction's reads and writes see the snapshot plus its own
// changes. Conflicts follow C xenstored (tools/xenstored/transaction.c): each node the transaction
// touches is recorded with its generation when first touched (no_generation if it did not exist);
// at commit a recorded node whose generation in the store differs means EAGAIN.
//
// Which nodes count as touched, as C xenstored's request handlers do it (they read a node before
// changing it, so the "modified nodes need no check" remark in transaction.c's comment never
// applies to a node a request names):
//   read/directory/get_perms P  -> P (also when absent: a node created meanwhile conflicts)
//   write/mkdir P               -> P; if absent, each missing ancestor and the nearest existing
//                                  ancestor, which gains a child
//   rm P                        -> P and its parent; if P exists, its whole subtree
//   set_perms P                 -> P
// A parent gains a new generation when a child is added or removed (that is also DIRECTORY_PART's
// gencnt), so two transactions adding or removing children of one directory conflict, while
// transactions touching disjoint nodes never do. Checking modified nodes too is what keeps parents'
// child lists consistent at commit. Where C reads lazily (first access sees the store as it is then)
// this reads the start snapshot, so a node changed between start and first access conflicts here.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "xenwire/xenstore/server/store.hpp"

namespace xenwire::xenstore {

class store_transaction {
 public:
  store_transaction(store_transaction&&) noexcept = default;
  store_transaction& operator=(store_transaction&&) noexcept = default;
  store_transaction(const store_transaction&) = delete;
  store_transaction& operator=(const store_transaction&) = delete;

  // Records the access (absent nodes too), then ENOENT or the node in this transaction's view.
  xs_result<node_ref> read(std::string_view path);

  xs_result<change_set> write(std::string_view path, std::string_view value, const creator& who);
  xs_result<change_set> mkdir(std::string_view path, const creator& who);
  xs_result<change_set> rm(std::string_view path);
  xs_result<change_set> set_perms(std::string_view path, node_perms perms);

  xs_result<pending_change> plan_write(std::string_view path, std::string_view value, const creator& who);
  xs_result<pending_change> plan_mkdir(std::string_view path, const creator& who);
  xs_result<pending_change> plan_rm(std::string_view path);
  xs_result<pending_change> plan_set_perms(std::string_view path, node_perms perms);
  xs_result<change_set> apply(pending_change&& plan);

  // Nodes touched so far (what the transaction-nodes quota counts).
  std::size_t touched() const noexcept { return accessed_.size(); }
  std::size_t max_nodes() const noexcept { return max_nodes_; }
  // What committing would change in each domain's accounting now.
  const usage_delta& delta() const noexcept { return delta_; }
  // Effective changes so far, in order.
  const std::vector<change_set>& changes() const noexcept { return log_; }
  // The transaction's current view (snapshot plus own changes).
  const node_ref& root() const noexcept { return root_; }
  generation_t start_generation() const noexcept { return start_generation_; }
  // The transaction's node in its own view (nullptr: absent), without recording an access: what
  // live update's export reads.
  const store_node* peek(std::string_view path) const;
  // Every node touched so far, sorted by path (so parents come before their children), and whether
  // the transaction changed it (live update exports these as the stream's pending nodes).
  struct touched_node {
    std::string_view path;
    bool modified;
  };
  std::vector<touched_node> touched_nodes() const;

 private:
  friend class store;
  struct access_state {
    generation_t generation;
    bool modified;
  };
  store_transaction(store& s, node_ref root, generation_t start, std::size_t max_nodes) noexcept;
  template <class Edit>
  xs_result<pending_change> finish_plan(xs_result<Edit>&& edit, std::vector<node_access>&& accessed);
  bool over_quota(const std::vector<node_access>& accessed) const;
  void record(const std::vector<node_access>& accessed);

  store* store_;
  node_ref root_;
  generation_t start_generation_;
  std::size_t max_nodes_;
  std::uint64_t epoch_ = 0;
  std::map<std::string, access_state, std::less<>> accessed_;
  usage_delta delta_;
  std::vector<change_set> log_;
};

}  // namespace xenwire::xenstore
