// store::load: a whole tree at once, bottom-up (live update's import).
#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "store_tree.hpp"
#include "xenwire/ring/xenstore_layout.hpp"
#include "xenwire/xenstore/server/store.hpp"

namespace xenwire::xenstore {

xs_result<void> store::load(std::vector<loaded_node>&& nodes) {
  if (node_count() != 1 || generation_ != 0) return xs_fail(xs_error::einval);
  const std::size_t n = nodes.size();
  constexpr std::size_t root = ~std::size_t{0};
  // Each node's parent, checked in order: a parent comes before its children, so a valid path is a
  // known parent's path plus one valid name. Writers list nodes depth first (pre-order): the
  // parent is then on the path from the root to the node before, which a stack finds without
  // hashing. Any other parents-first order falls back to an index of the paths seen. Duplicates
  // show up as equal names among a node's children.
  std::vector<std::size_t> parent(n, root);
  std::vector<std::size_t> path_stack;
  std::unordered_map<std::string_view, std::size_t> index;
  bool indexed = false;
  std::size_t root_record = root;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view p = nodes[i].path;
    if (nodes[i].perms.empty()) return xs_fail(xs_error::einval);
    if (p == "/") {
      if (root_record != root) return xs_fail(xs_error::einval);
      root_record = i;
      continue;
    }
    if (p.size() > abs_path_max || p.front() != '/') return xs_fail(xs_error::einval);
    const std::size_t slash = p.rfind('/');
    if (!store_tree::valid_name(p.substr(slash + 1))) return xs_fail(xs_error::einval);
    const std::string_view want = p.substr(0, slash);
    if (!indexed) {
      while (!path_stack.empty() && nodes[path_stack.back()].path != want) path_stack.pop_back();
      if (!path_stack.empty()) {
        parent[i] = path_stack.back();
      } else if (slash != 0) {
        indexed = true;
        index.reserve(n);
        for (std::size_t j = 0; j < i; ++j)
          if (j != root_record) index.emplace(nodes[j].path, j);
      }
    }
    if (indexed && slash != 0) {
      auto it = index.find(want);
      if (it == index.end()) return xs_fail(xs_error::einval);
      parent[i] = it->second;
    }
    if (indexed) {
      index.emplace(p, i);
    } else {
      path_stack.push_back(i);
    }
  }
  // Children per node, as index ranges (counting sort by parent), then sorted by name.
  std::vector<std::size_t> first(n + 2, 0);  // slot n: the root's
  auto slot = [&](std::size_t par) { return par == root ? n : par; };
  for (std::size_t i = 0; i < n; ++i) {
    if (i != root_record) ++first[slot(parent[i]) + 1];
  }
  for (std::size_t s = 1; s < first.size(); ++s) first[s] += first[s - 1];
  std::vector<std::size_t> kids(first.back());
  {
    std::vector<std::size_t> fill(first.begin(), first.end() - 1);
    for (std::size_t i = 0; i < n; ++i) {
      if (i != root_record) kids[fill[slot(parent[i])]++] = i;
    }
  }
  auto name_of = [&](std::size_t i) { return std::string_view(nodes[i].path).substr(nodes[i].path.rfind('/') + 1); };
  // Children come after their parent, so building from the last node back finds them built.
  std::vector<node_ref> built(n);
  std::unordered_map<domid_t, domain_usage> usage;
  generation_t gen = 0;
  auto make = [&](std::size_t s, std::string_view value, perms_view perms) {
    std::vector<std::pair<std::string, node_ref>> entries;
    entries.reserve(first[s + 1] - first[s]);
    for (std::size_t k = first[s]; k < first[s + 1]; ++k) {
      const std::size_t c = kids[k];
      entries.emplace_back(std::string(name_of(c)), std::move(built[c]));
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    auto same = [](const auto& a, const auto& b) { return a.first == b.first; };
    if (std::adjacent_find(entries.begin(), entries.end(), same) != entries.end()) return node_ref{};  // a duplicate
    node_ref node = store_node::make(value, perms, child_map::from_sorted(std::move(entries)), ++gen);
    auto& u = usage[node->owner()];
    u.nodes += 1;
    u.memory += node_memory(*node);
    return node;
  };
  for (std::size_t i = n; i-- > 0;) {
    if (i == root_record) continue;
    built[i] = make(i, nodes[i].value, nodes[i].perms);
    if (!built[i]) return xs_fail(xs_error::einval);
  }
  node_ref top = root_record == root ? make(n, root_->value(), root_->perms())
                                     : make(n, nodes[root_record].value, nodes[root_record].perms);
  if (!top) return xs_fail(xs_error::einval);
  root_ = std::move(top);
  generation_ = gen;
  usage_ = std::move(usage);
  ++epoch_;
  return {};
}

}  // namespace xenwire::xenstore
