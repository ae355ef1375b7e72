// Path-copying tree operations. Descents are loops over the path's components; subtree walks use
// explicit stacks (XSA-418: no recursion on guest-shaped data).
#include "store_tree.hpp"

#include <utility>

#include "xenwire/ring/xenstore_layout.hpp"

namespace xenwire::xenstore::store_tree {

namespace {

bool name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '@';
}

void charge(usage_delta& d, domid_t who, std::int64_t nodes, std::int64_t memory) {
  if (nodes == 0 && memory == 0) return;
  auto& c = d[who];
  c.nodes += nodes;
  c.memory += memory;
  if (c.zero()) d.erase(who);
}
std::int64_t mem(const store_node& n) noexcept { return static_cast<std::int64_t>(node_memory(n)); }
void account_new(usage_delta& d, const store_node& n) { charge(d, n.owner(), 1, mem(n)); }
void account_gone(usage_delta& d, const store_node& n) { charge(d, n.owner(), -1, -mem(n)); }
void account_replaced(usage_delta& d, const store_node& before, const store_node& after) {
  account_gone(d, before);
  account_new(d, after);
}

void track(tracker t, std::string path, generation_t gen, bool modified) {
  if (t != nullptr) t->push_back({std::move(path), gen, modified});
}

// The existing nodes along a path: chain[0] is the root, chain[i] the node after i components.
struct descent {
  std::vector<const store_node*> chain;
  std::size_t found() const noexcept { return chain.size() - 1; }  // components that exist
};

descent descend(const store_node& root, const std::vector<std::string_view>& comps) {
  descent d;
  d.chain.reserve(comps.size() + 1);
  d.chain.push_back(&root);
  for (auto comp : comps) {
    const store_node* next = d.chain.back()->children().find(comp);
    if (next == nullptr) break;
    d.chain.push_back(next);
  }
  return d;
}

// Path copying: `replacement` is the new version of chain[depth]; the ancestors above are copied
// with the new child, keeping their generations (their own contents did not change).
node_ref rebuild(const descent& d, const std::vector<std::string_view>& comps, std::size_t depth, node_ref replacement) {
  for (std::size_t i = depth; i-- > 0;) {
    const store_node& up = *d.chain[i];
    replacement = store_node::make(up.value(), up.perms(), up.children().with(comps[i], std::move(replacement)),
                                   up.generation());
  }
  return replacement;
}

node_ref with_child(const store_node& parent, std::string_view name, node_ref child, generation_t gen) {
  return store_node::make(parent.value(), parent.perms(), parent.children().with(name, std::move(child)), gen);
}

}  // namespace

bool valid_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (char c : name)
    if (!name_char(c)) return false;
  return true;
}

xs_result<std::vector<std::string_view>> split(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > xenstore::abs_path_max) return xs_fail(xs_error::einval);
  std::vector<std::string_view> comps;
  if (path.size() == 1) return comps;
  std::size_t start = 1;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string_view comp = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!valid_name(comp)) return xs_fail(xs_error::einval);
    comps.push_back(comp);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return comps;
}

std::string join(const std::vector<std::string_view>& comps, std::size_t depth) {
  if (depth == 0) return "/";
  std::string out;
  for (std::size_t i = 0; i < depth; ++i) {
    out += '/';
    out += comps[i];
  }
  return out;
}

const store_node* lookup(const store_node& root, const std::vector<std::string_view>& comps) noexcept {
  const store_node* n = &root;
  for (auto comp : comps) {
    n = n->children().find(comp);
    if (n == nullptr) return nullptr;
  }
  return n;
}

generation_t generation_at(const store_node& root, std::string_view path) {
  auto comps = split(path);
  if (!comps) return no_generation;
  const store_node* n = lookup(root, *comps);
  return n ? n->generation() : no_generation;
}

namespace {

xs_result<edit> create_or_set(const node_ref& root, std::string_view path, std::string_view value, const creator& who,
                              generation_t& counter, tracker t, change_kind kind) {
  auto comps = split(path);
  if (!comps) return xs_fail(comps.error());
  const descent d = descend(*root, *comps);
  const std::size_t n = comps->size();
  edit e;
  e.changes.kind = kind;
  e.changes.path = std::string(path);

  if (d.found() == n) {
    const store_node& old = *d.chain[n];
    track(t, e.changes.path, old.generation(), kind == change_kind::write);
    if (kind == change_kind::mkdir) {
      e.root = root;  // exists: nothing to do
      return e;
    }
    node_ref fresh = store_node::make(value, old.perms(), old.children(), ++counter);
    account_replaced(e.delta, old, *fresh);
    e.changes.modified = true;
    e.root = rebuild(d, *comps, n, std::move(fresh));
    return e;
  }

  // Missing from depth found()+1 down: build the chain bottom-up, then hang it on the nearest
  // existing ancestor. New nodes copy that ancestor's perms; an unprivileged creator owns them.
  const std::size_t base_depth = d.found();
  const store_node& base = *d.chain[base_depth];
  node_perms perms(base.perms());
  if (!who.privileged) perms.front().domid = who.domid;

  node_ref chain = store_node::make(value, perms, {}, ++counter);
  account_new(e.delta, *chain);
  for (std::size_t depth = n - 1; depth > base_depth; --depth) {
    chain = store_node::make({}, perms, child_map().with((*comps)[depth], std::move(chain)), ++counter);
    account_new(e.delta, *chain);
  }
  node_ref new_base = with_child(base, (*comps)[base_depth], std::move(chain), ++counter);
  account_replaced(e.delta, base, *new_base);
  e.root = rebuild(d, *comps, base_depth, std::move(new_base));

  for (std::size_t depth = base_depth + 1; depth <= n; ++depth) e.changes.created.push_back(join(*comps, depth));
  // As C xenstored touches them: the target, its missing ancestors upwards, the existing ancestor.
  for (std::size_t depth = n; depth > base_depth; --depth) track(t, join(*comps, depth), no_generation, true);
  track(t, join(*comps, base_depth), base.generation(), true);
  return e;
}

}  // namespace

xs_result<edit> write(const node_ref& root, std::string_view path, std::string_view value, const creator& who,
                      generation_t& counter, tracker t) {
  return create_or_set(root, path, value, who, counter, t, change_kind::write);
}

xs_result<edit> mkdir(const node_ref& root, std::string_view path, const creator& who, generation_t& counter,
                      tracker t) {
  return create_or_set(root, path, {}, who, counter, t, change_kind::mkdir);
}

xs_result<edit> rm(const node_ref& root, std::string_view path, generation_t& counter, tracker t,
                   std::uint64_t walk_limit) {
  auto comps = split(path);
  if (!comps) return xs_fail(comps.error());
  const std::size_t n = comps->size();
  if (n == 0) return xs_fail(xs_error::einval);
  const descent d = descend(*root, *comps);
  edit e;
  e.changes.kind = change_kind::rm;
  e.changes.path = std::string(path);

  if (d.found() < n) {
    track(t, e.changes.path, no_generation, false);
    const bool parent_exists = d.found() == n - 1;
    track(t, join(*comps, n - 1), parent_exists ? d.chain[n - 1]->generation() : no_generation, false);
    if (!parent_exists) return xs_fail(xs_error::enoent);
    e.root = root;  // absent, parent present: success, nothing removed
    return e;
  }

  const store_node& target = *d.chain[n];
  const store_node& parent = *d.chain[n - 1];
  if (walk_limit != 0 && target.subtree_size() > walk_limit) return xs_fail(xs_error::enospc);

  track(t, join(*comps, n - 1), parent.generation(), true);
  walk(target, e.changes.path, [&](const std::string& p, const store_node& node) {
    e.changes.removed.push_back({p, node_perms(node.perms())});
    account_gone(e.delta, node);
    track(t, p, node.generation(), true);
    return true;
  });
  node_ref new_parent =
      store_node::make(parent.value(), parent.perms(), parent.children().without((*comps)[n - 1]), ++counter);
  account_replaced(e.delta, parent, *new_parent);
  e.root = rebuild(d, *comps, n - 1, std::move(new_parent));
  return e;
}

xs_result<edit> set_perms(const node_ref& root, std::string_view path, node_perms perms, generation_t& counter,
                          tracker t) {
  auto comps = split(path);
  if (!comps) return xs_fail(comps.error());
  const descent d = descend(*root, *comps);
  const std::size_t n = comps->size();
  if (d.found() < n) {
    track(t, std::string(path), no_generation, false);
    return xs_fail(xs_error::enoent);
  }
  if (perms.empty()) return xs_fail(xs_error::einval);
  const store_node& old = *d.chain[n];
  track(t, std::string(path), old.generation(), true);
  edit e;
  e.changes.kind = change_kind::set_perms;
  e.changes.path = std::string(path);
  e.changes.modified = true;
  e.changes.old_perms = node_perms(old.perms());
  node_ref fresh = store_node::make(old.value(), perms, old.children(), ++counter);
  account_replaced(e.delta, old, *fresh);
  e.root = rebuild(d, *comps, n, std::move(fresh));
  return e;
}

xs_result<node_ref> put(const node_ref& root, std::string_view path, const store_node& src, generation_t& counter,
                        usage_delta& delta) {
  auto comps = split(path);
  if (!comps) return xs_fail(comps.error());
  const descent d = descend(*root, *comps);
  const std::size_t n = comps->size();
  if (d.found() == n) {
    const store_node& old = *d.chain[n];
    node_ref fresh = store_node::make(src.value(), src.perms(), old.children(), ++counter);
    account_replaced(delta, old, *fresh);
    return rebuild(d, *comps, n, std::move(fresh));
  }
  if (d.found() != n - 1) return xs_fail(xs_error::eio);
  node_ref fresh = store_node::make(src.value(), src.perms(), {}, ++counter);
  account_new(delta, *fresh);
  const store_node& parent = *d.chain[n - 1];
  node_ref new_parent = with_child(parent, (*comps)[n - 1], std::move(fresh), ++counter);
  account_replaced(delta, parent, *new_parent);
  return rebuild(d, *comps, n - 1, std::move(new_parent));
}

xs_result<node_ref> erase(const node_ref& root, std::string_view path, generation_t& counter, usage_delta& delta) {
  auto e = rm(root, path, counter, nullptr, 0);
  if (!e) return xs_fail(e.error());
  merge(delta, e->delta);
  return std::move(e->root);
}

void merge(usage_delta& into, const usage_delta& from) {
  for (const auto& [domid, c] : from) charge(into, domid, c.nodes, c.memory);
}

}  // namespace xenwire::xenstore::store_tree
