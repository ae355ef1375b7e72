// Functional operations on a persistent tree: each takes a root and returns a new root plus what
// changed, leaving the input untouched. The store and transactions share them.
#pragma once

#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include "xenwire/xenstore/errors.hpp"
#include "xenwire/xenstore/server/store.hpp"

namespace xenwire::xenstore::store_tree {

struct edit {
  node_ref root;
  change_set changes;
  usage_delta delta;
};

// Where operations report the nodes they touch (transactions); nullptr when nobody asks.
using tracker = std::vector<node_access>*;

// Canonical absolute path -> components; EINVAL otherwise.
xs_result<std::vector<std::string_view>> split(std::string_view path);
bool valid_name(std::string_view name) noexcept;
std::string join(const std::vector<std::string_view>& comps, std::size_t depth);

const store_node* lookup(const store_node& root, const std::vector<std::string_view>& comps) noexcept;
// Generation of the node at `path`, or no_generation (also for an invalid path).
generation_t generation_at(const store_node& root, std::string_view path);

xs_result<edit> write(const node_ref& root, std::string_view path, std::string_view value, const creator& who,
                      generation_t& counter, tracker t);
xs_result<edit> mkdir(const node_ref& root, std::string_view path, const creator& who, generation_t& counter,
                      tracker t);
// walk_limit: refuse (ENOSPC) a subtree larger than this (0 = no limit).
xs_result<edit> rm(const node_ref& root, std::string_view path, generation_t& counter, tracker t,
                   std::uint64_t walk_limit);
xs_result<edit> set_perms(const node_ref& root, std::string_view path, node_perms perms, generation_t& counter,
                          tracker t);

// Commit primitives: make the node at `path` carry `value`/`perms` (keeping its children; creating
// it under an existing parent if absent), or remove its subtree. EIO if the parent is missing.
xs_result<node_ref> put(const node_ref& root, std::string_view path, const store_node& src, generation_t& counter,
                        usage_delta& delta);
xs_result<node_ref> erase(const node_ref& root, std::string_view path, generation_t& counter, usage_delta& delta);

void merge(usage_delta& into, const usage_delta& from);

// Pre-order walk with an explicit stack, children in sorted order. f(path, node) returns whether
// to descend into the node's children.
template <class F>
void walk(const store_node& top, std::string top_path, F&& f) {
  struct item {
    const store_node* node;
    std::string path;
  };
  std::vector<item> stack;
  std::vector<item> kids;
  stack.push_back({&top, std::move(top_path)});
  while (!stack.empty()) {
    item it = std::move(stack.back());
    stack.pop_back();
    if (!f(std::as_const(it.path), *it.node)) continue;
    kids.clear();
    for (auto c = it.node->children().begin(); !c.done(); c.next()) {
      std::string p = it.path == "/" ? std::string() : it.path;
      p += '/';
      p += c.name();
      kids.push_back({&c.node(), std::move(p)});
    }
    for (auto k = kids.rbegin(); k != kids.rend(); ++k) stack.push_back(std::move(*k));
  }
}

}  // namespace xenwire::xenstore::store_tree

namespace xenwire::xenstore::store_detail {

// The one place that builds and opens pending_change.
struct plan_builder {
  static pending_change make(store_tree::edit&& e, const void* owner, std::uint64_t epoch,
                             std::vector<node_access>&& accessed = {}) {
    pending_change p;
    p.root_ = std::move(e.root);
    p.changes_ = std::move(e.changes);
    p.delta_ = std::move(e.delta);
    p.accessed_ = std::move(accessed);
    p.owner_ = owner;
    p.epoch_ = epoch;
    return p;
  }
  static bool fresh_for(const pending_change& p, const void* owner, std::uint64_t epoch) noexcept {
    return p.owner_ == owner && p.epoch_ == epoch;
  }
  static node_ref& root(pending_change& p) noexcept { return p.root_; }
  static change_set& changes(pending_change& p) noexcept { return p.changes_; }
  static usage_delta& delta(pending_change& p) noexcept { return p.delta_; }
  static std::vector<node_access>& accessed(pending_change& p) noexcept { return p.accessed_; }
};

}  // namespace xenwire::xenstore::store_detail
