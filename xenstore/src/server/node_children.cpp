// The persistent AVL tree behind child_map. Updates copy the search path (O(log n) entries) and
// rebalance the copies. insert/erase recurse, but only as deep as the balanced tree
// (<= 1.44 log2 n, under 64 for any count that fits in memory): guests cannot make it deeper.
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

#include "xenwire/xenstore/server/store_node.hpp"

namespace xenwire::xenstore {

using store_detail::child_entry;
using entry_ref = store_detail::ref<child_entry>;

namespace store_detail {

namespace {
std::uint64_t sum(const ref<child_entry>& e, std::uint64_t (child_entry::*f)() const noexcept) noexcept {
  return e ? (e.get()->*f)() : 0;
}
void store48(std::uint16_t (&w)[3], std::uint64_t v) noexcept {
  w[0] = static_cast<std::uint16_t>(v);
  w[1] = static_cast<std::uint16_t>(v >> 16);
  w[2] = static_cast<std::uint16_t>(v >> 32);
}
}  // namespace

child_entry::child_entry(std::uint16_t name_size, node_ref v, ref<child_entry> l, ref<child_entry> r,
                         std::uint8_t height) noexcept
    : shared_obj(kind::child_entry, height, name_size), node(std::move(v)),
      left(std::move(l)), right(std::move(r)), count_(0), bytes_{}, nodes_{}, name_{} {}

ref<child_entry> child_entry::make(std::string_view name, node_ref v, ref<child_entry> l, ref<child_entry> r) {
  static_assert(sizeof(child_entry) == name_at + sizeof(name_), "the name starts at name_");
  const std::uint64_t count = 1 + sum(l, &child_entry::count) + sum(r, &child_entry::count);
  const std::uint64_t bytes = name.size() + 1 + sum(l, &child_entry::bytes) + sum(r, &child_entry::bytes);
  const std::uint64_t nodes =
      v->subtree_size() + sum(l, &child_entry::subtree_nodes) + sum(r, &child_entry::subtree_nodes);
  if (name.size() > UINT16_MAX || count > UINT32_MAX || bytes >> 48 != 0 || nodes >> 48 != 0)
    throw std::length_error("child_map: too large");
  const auto height = static_cast<std::uint8_t>(1 + std::max(l ? l->height() : 0, r ? r->height() : 0));
  void* mem = ::operator new(std::max(sizeof(child_entry), name_at + name.size()));
  auto* e =
      new (mem) child_entry(static_cast<std::uint16_t>(name.size()), std::move(v), std::move(l), std::move(r), height);
  e->count_ = static_cast<std::uint32_t>(count);
  store48(e->bytes_, bytes);
  store48(e->nodes_, nodes);
  if (!name.empty()) std::memcpy(reinterpret_cast<char*>(e) + name_at, name.data(), name.size());
  return ref<child_entry>(e);
}

void child_entry::destroy(child_entry* e) noexcept {
  e->~child_entry();
  ::operator delete(static_cast<void*>(e));
}

}  // namespace store_detail

namespace {

std::uint32_t height(const entry_ref& e) noexcept { return e ? e->height() : 0; }

entry_ref make(std::string_view name, node_ref node, entry_ref l, entry_ref r) {
  return child_entry::make(name, std::move(node), std::move(l), std::move(r));
}

// Builds an entry whose subtrees differ in height by at most 2, restoring the AVL invariant.
// `name` views an entry of the old tree, which the caller holds; make() copies it.
entry_ref balance(std::string_view name, node_ref node, entry_ref l, entry_ref r) {
  const auto hl = height(l), hr = height(r);
  if (hl > hr + 1) {
    if (height(l->left) >= height(l->right))
      return make(l->name(), l->node, l->left, make(name, std::move(node), l->right, std::move(r)));
    const child_entry& lr = *l->right;
    return make(lr.name(), lr.node, make(l->name(), l->node, l->left, lr.left),
                make(name, std::move(node), lr.right, std::move(r)));
  }
  if (hr > hl + 1) {
    if (height(r->right) >= height(r->left))
      return make(r->name(), r->node, make(name, std::move(node), std::move(l), r->left), r->right);
    const child_entry& rl = *r->left;
    return make(rl.name(), rl.node, make(name, std::move(node), std::move(l), rl.left),
                make(r->name(), r->node, rl.right, r->right));
  }
  return make(name, std::move(node), std::move(l), std::move(r));
}

entry_ref insert(const entry_ref& t, std::string_view name, const node_ref& node) {
  if (!t) return make(name, node, {}, {});
  const int c = name.compare(t->name());
  if (c == 0) return make(t->name(), node, t->left, t->right);
  if (c < 0) return balance(t->name(), t->node, insert(t->left, name, node), t->right);
  return balance(t->name(), t->node, t->left, insert(t->right, name, node));
}

entry_ref erase_min(const entry_ref& t) {
  if (!t->left) return t->right;
  return balance(t->name(), t->node, erase_min(t->left), t->right);
}

entry_ref erase(const entry_ref& t, std::string_view name) {
  if (!t) return t;
  const int c = name.compare(t->name());
  if (c < 0) {
    entry_ref l = erase(t->left, name);
    return l == t->left ? t : balance(t->name(), t->node, std::move(l), t->right);
  }
  if (c > 0) {
    entry_ref r = erase(t->right, name);
    return r == t->right ? t : balance(t->name(), t->node, t->left, std::move(r));
  }
  if (!t->left) return t->right;
  if (!t->right) return t->left;
  const child_entry* m = t->right.get();
  while (m->left) m = m->left.get();
  return balance(m->name(), m->node, t->left, erase_min(t->right));
}

}  // namespace

std::size_t child_map::size() const noexcept { return root_ ? static_cast<std::size_t>(root_->count()) : 0; }
std::uint64_t child_map::name_bytes() const noexcept { return root_ ? root_->bytes() : 0; }
std::uint64_t child_map::total_nodes() const noexcept { return root_ ? root_->subtree_nodes() : 0; }

const store_node* child_map::find(std::string_view name) const noexcept {
  const child_entry* e = root_.get();
  while (e != nullptr) {
    const int c = name.compare(e->name());
    if (c == 0) return e->node.get();
    e = c < 0 ? e->left.get() : e->right.get();
  }
  return nullptr;
}

node_ref child_map::get(std::string_view name) const { return node_ref(find(name)); }

child_map child_map::with(std::string_view name, node_ref node) const { return child_map(insert(root_, name, node)); }

child_map child_map::without(std::string_view name) const { return child_map(erase(root_, name)); }

namespace {
// The middle entry at the root of each range: both halves' heights differ by at most one (AVL).
// Recursion depth log2 n.
entry_ref build_balanced(std::vector<std::pair<std::string, node_ref>>& e, std::size_t lo, std::size_t hi) {
  if (lo == hi) return {};
  const std::size_t mid = lo + (hi - lo) / 2;
  entry_ref l = build_balanced(e, lo, mid);
  entry_ref r = build_balanced(e, mid + 1, hi);
  return make(std::move(e[mid].first), std::move(e[mid].second), std::move(l), std::move(r));
}
}  // namespace

child_map child_map::from_sorted(std::vector<std::pair<std::string, node_ref>>&& entries) {
  return child_map(build_balanced(entries, 0, entries.size()));
}

void child_map::cursor::push_left(const child_entry* e) {
  for (; e != nullptr; e = e->left.get()) stack_.push_back(e);
}

void child_map::cursor::next() {
  const child_entry* e = stack_.back();
  stack_.pop_back();
  push_left(e->right.get());
}

child_map::cursor child_map::begin() const {
  cursor c;
  c.push_left(root_.get());
  return c;
}

child_map::cursor child_map::from_byte_offset(std::uint64_t offset) const {
  // Lower bound by start offset: entries we go left from stay pending on the stack.
  cursor c;
  std::uint64_t base = 0;
  for (const child_entry* e = root_.get(); e != nullptr;) {
    const std::uint64_t start = base + (e->left ? e->left->bytes() : 0);
    if (start >= offset) {
      c.stack_.push_back(e);
      e = e->left.get();
    } else {
      base = start + e->name().size() + 1;
      e = e->right.get();
    }
  }
  return c;
}

std::vector<std::string> child_map::names() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (auto c = begin(); !c.done(); c.next()) out.emplace_back(c.name());
  return out;
}

std::string child_map::verify() const {
  // Post-order over an explicit stack; the height check bounds the work on a broken tree too.
  struct frame {
    const child_entry* e;
    bool expanded;
  };
  std::vector<frame> stack;
  if (root_) stack.push_back({root_.get(), false});
  std::string_view prev;
  bool first = true;
  // In-order pass for ordering.
  for (auto c = begin(); !c.done(); c.next()) {
    if (!first && !(prev < c.name())) return "children not strictly sorted at '" + std::string(c.name()) + "'";
    prev = c.name();
    first = false;
    if (c.stack_.size() > 96) return "child map too deep";
  }
  while (!stack.empty()) {
    auto [e, expanded] = stack.back();
    if (!expanded) {
      stack.back().expanded = true;
      if (e->left) stack.push_back({e->left.get(), false});
      if (e->right) stack.push_back({e->right.get(), false});
      continue;
    }
    stack.pop_back();
    const auto hl = height(e->left), hr = height(e->right);
    if (e->height() != 1 + std::max(hl, hr) || hl > hr + 1 || hr > hl + 1)
      return "child map unbalanced at '" + std::string(e->name()) + "'";
    const std::uint64_t count = 1 + (e->left ? e->left->count() : 0) + (e->right ? e->right->count() : 0);
    const std::uint64_t bytes =
        e->name().size() + 1 + (e->left ? e->left->bytes() : 0) + (e->right ? e->right->bytes() : 0);
    const std::uint64_t nodes = e->node->subtree_size() + (e->left ? e->left->subtree_nodes() : 0) +
                                (e->right ? e->right->subtree_nodes() : 0);
    if (e->count() != count || e->bytes() != bytes || e->subtree_nodes() != nodes)
      return "child map sums wrong at '" + std::string(e->name()) + "'";
  }
  return {};
}

store_node::store_node(std::uint32_t value_size, std::uint16_t perm_count, child_map children,
                       generation_t generation) noexcept
    : shared_obj(kind::node), children_(std::move(children)), generation_(generation), value_size_(value_size),
      perm_count_(perm_count), tail_{} {}

node_ref store_node::make(std::string_view value, perms_view perms, child_map children, generation_t generation) {
  static_assert(sizeof(store_node) == tail_at + sizeof(tail_), "the inline data starts at tail_");
  static_assert(alignof(perm_entry) <= 2 && tail_at % alignof(perm_entry) == 0);
  if (perms.size() > UINT16_MAX || value.size() > UINT32_MAX) throw std::length_error("store_node: too large");
  const std::size_t bytes = std::max(sizeof(store_node), tail_at + perms.size() * sizeof(perm_entry) + value.size());
  void* mem = ::operator new(bytes);
  auto* n = new (mem) store_node(static_cast<std::uint32_t>(value.size()), static_cast<std::uint16_t>(perms.size()),
                                 std::move(children), generation);
  auto* at = std::uninitialized_copy(perms.begin(), perms.end(), reinterpret_cast<perm_entry*>(n->tail()));
  if (!value.empty()) std::memcpy(reinterpret_cast<unsigned char*>(at), value.data(), value.size());
  return node_ref(n);
}

void store_node::destroy(store_node* n) noexcept {
  n->~store_node();
  ::operator delete(static_cast<void*>(n));
}

}  // namespace xenwire::xenstore
