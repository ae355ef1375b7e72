// The Xenstore data store: a persistent tree of immutable nodes (store_node.hpp), a global
// generation counter, and per-domain accounting kept incrementally. Pure: no I/O, no clocks.
//
// Paths are canonical absolute paths ("/" or "/a/b", characters [A-Za-z0-9-_@], at most
// xenstore::abs_path_max bytes); anything else is EINVAL. Permission checks are the caller's: the store
// only applies what it is told, and reports what changed.
//
// Every mutating operation comes in two steps, plan_*() then apply(), so the quota layer can look
// at a plan's usage delta before anything happens; write()/mkdir()/rm()/set_perms() do both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xenwire/xenstore/errors.hpp"
#include "xenwire/xenstore/server/store_changes.hpp"
#include "xenwire/xenstore/server/store_node.hpp"

namespace xenwire::xenstore {

class store;
class store_transaction;
namespace store_detail {
struct plan_builder;  // src/server: fills pending_change
}

// One node a transaction touched: its generation when first touched (no_generation if it did not
// exist) and whether the transaction changed it.
struct node_access {
  std::string path;
  generation_t generation;
  bool modified;
};

// A computed but not yet applied operation. Applying it to anything but the store or transaction
// that planned it, or after that one changed, is refused (EAGAIN).
class pending_change {
 public:
  const change_set& changes() const noexcept { return changes_; }
  const usage_delta& delta() const noexcept { return delta_; }

 private:
  friend struct store_detail::plan_builder;
  node_ref root_;
  change_set changes_;
  usage_delta delta_;
  std::vector<node_access> accessed_;  // transactions only
  const void* owner_ = nullptr;
  std::uint64_t epoch_ = 0;
};

// A frozen view of the whole store: O(1) to take, never changes.
class store_snapshot {
 public:
  xs_result<node_ref> read(std::string_view path) const;
  const node_ref& root() const noexcept { return root_; }
  std::uint64_t node_count() const noexcept { return root_->subtree_size(); }

 private:
  friend class store;
  explicit store_snapshot(node_ref root) noexcept : root_(std::move(root)) {}
  node_ref root_;
};

// One node of a whole store given at once (store::load).
struct loaded_node {
  std::string path;
  std::string value;
  node_perms perms;
};

class store {
 public:
  // Just "/", owned by dom0 with no access for others ("n0"), generation 0.
  store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // ENOENT if absent. The node_ref keeps that version alive.
  xs_result<node_ref> read(std::string_view path) const;
  store_snapshot snapshot() const noexcept { return store_snapshot(root_); }

  // WRITE: creates missing parents (perms per `creator`), sets the value.
  xs_result<change_set> write(std::string_view path, std::string_view value, const creator& who);
  // MKDIR: like WRITE with an empty value; nothing if the node exists.
  xs_result<change_set> mkdir(std::string_view path, const creator& who);
  // RM: removes the subtree. "/" -> EINVAL; absent node whose parent exists -> success with no
  // change; absent parent too -> ENOENT.
  xs_result<change_set> rm(std::string_view path);
  // SET_PERMS: replaces the list (non-empty, else EINVAL); ENOENT if absent.
  xs_result<change_set> set_perms(std::string_view path, node_perms perms);

  xs_result<pending_change> plan_write(std::string_view path, std::string_view value, const creator& who);
  xs_result<pending_change> plan_mkdir(std::string_view path, const creator& who);
  xs_result<pending_change> plan_rm(std::string_view path);
  xs_result<pending_change> plan_set_perms(std::string_view path, node_perms perms);
  xs_result<change_set> apply(pending_change&& plan);

  // TRANSACTION_START: O(1). `max_nodes` bounds the nodes the transaction may touch (C xenstored's
  // transaction-nodes quota, 1024 by default; 0 = unlimited): beyond it operations fail with ENOSPC.
  // The store must outlive the transaction. Abort = drop the transaction.
  store_transaction begin(std::size_t max_nodes = 1024);
  // TRANSACTION_END "T": applies every change atomically, or EAGAIN (nothing applied) when a node
  // the transaction touched has changed since (see transaction.hpp). Returns the transaction's
  // changes in order, for watch events. The transaction is consumed either way.
  xs_result<std::vector<change_set>> commit(store_transaction&& tx);
  // Whether commit would answer EAGAIN now: a node the transaction touched has changed since.
  bool conflicts(const store_transaction& tx) const;

  // A domain is gone (XSA-419, XSA-322): removes every subtree rooted at a node it owns and drops
  // ACL entries (1..) that name it, so a domain reusing the domid inherits nothing. One walk over
  // the store, iterative. Returns one change per removed subtree / rewritten node.
  std::vector<change_set> remove_domain_nodes(domid_t domid);

  generation_t generation() const noexcept { return generation_; }
  std::uint64_t node_count() const noexcept { return root_->subtree_size(); }
  domain_usage usage(domid_t domid) const noexcept;
  const std::unordered_map<domid_t, domain_usage>& usage() const noexcept { return usage_; }

  // A fresh store (just "/", nothing applied) takes a whole tree at once, built bottom-up: two
  // allocations a node, no path copying (live update's import; a write per node costs ~20 µs at a
  // million nodes). Parents come before their children; "/" may be given for the root's value and
  // perms. EINVAL, leaving the store as it was, for a store that is not fresh, a bad path, a
  // duplicate, a missing parent or empty perms. Every node gets a new generation.
  xs_result<void> load(std::vector<loaded_node>&& nodes);

  // Full invariant check (CONTROL check, fuzzers, tests): recounts accounting from scratch and
  // compares, perms non-empty, names valid, generations <= the counter, child maps well formed.
  // O(store). Returns a description of the first problem found.
  tl::expected<void, std::string> check() const;

 private:
  friend class store_transaction;
  xs_result<change_set> install(pending_change&& plan, bool check_owner);
  void apply_delta(const usage_delta& delta);

  node_ref root_;
  generation_t generation_ = 0;
  std::uint64_t epoch_ = 0;  // bumped by every applied change: detects stale plans
  std::unordered_map<domid_t, domain_usage> usage_;
};

}  // namespace xenwire::xenstore
