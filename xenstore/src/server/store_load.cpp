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
  // Each node's parent, checked in order: a parent is known before its children, so a valid path
  // is a known parent's path plus one valid name.
  std::vector<std::size_t> parent(n, root);
  std::unordered_map<std::string_view, std::size_t> index;
  index.reserve(n);
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
    if (slash != 0) {
      auto it = index.find(p.substr(0, slash));
      if (it == index.end()) return xs_fail(xs_error::einval);
      parent[i] = it->second;
    }
    if (!index.emplace(p, i).second) return xs_fail(xs_error::einval);
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
  auto make = [&](std::size_t s, std::string value, node_perms perms) {
    std::vector<std::pair<std::string, node_ref>> entries;
    entries.reserve(first[s + 1] - first[s]);
    for (std::size_t k = first[s]; k < first[s + 1]; ++k) {
      const std::size_t c = kids[k];
      entries.emplace_back(std::string(name_of(c)), std::move(built[c]));
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    node_ref node = store_node::make(std::move(value), std::move(perms), child_map::from_sorted(std::move(entries)), ++gen);
    auto& u = usage[node->owner()];
    u.nodes += 1;
    u.memory += node_memory(*node);
    return node;
  };
  for (std::size_t i = n; i-- > 0;) {
    if (i != root_record) built[i] = make(i, std::move(nodes[i].value), std::move(nodes[i].perms));
  }
  node_ref top = root_record == root ? make(n, root_->value(), root_->perms())
                                     : make(n, std::move(nodes[root_record].value), std::move(nodes[root_record].perms));
  root_ = std::move(top);
  generation_ = gen;
  usage_ = std::move(usage);
  ++epoch_;
  return {};
}

}  // namespace xenwire::xenstore
