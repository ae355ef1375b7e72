// The Xenstore data store's immutable nodes and their persistent child maps.
//
// A node is {value bytes, permissions, children, generation}; it never changes once built, so its
// value and permissions live inline in its one allocation. Updates copy the path from the root to
// the changed node and share everything else, so a snapshot is one reference to a root. Children
// live in a persistent AVL tree keyed by name, in sorted (byte-wise) order -- oxenstored's order;
// C xenstored lists children in insertion order. Inserting or removing a child copies O(log n) map
// entries, each one allocation with its name inline.
//
// Reference counts are intrusive and not atomic: a store, its snapshots and its transactions belong
// to one thread. Releasing the last reference to a big or deep tree uses an explicit worklist, never
// recursion through destructors (XSA-418).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xenwire/xenstore/perms.hpp"

namespace xenwire::xenstore {

// The global counter stamps every node write; a node's generation identifies its version.
using generation_t = std::uint64_t;
// The generation of a node that does not exist (C xenstored's NO_GENERATION).
inline constexpr generation_t no_generation = ~generation_t{0};

class store_node;
class child_map;

namespace store_detail {

class shared_obj;
void retain(const shared_obj* p) noexcept;
void release(const shared_obj* p) noexcept;

class shared_obj {
 public:
  shared_obj(const shared_obj&) = delete;
  shared_obj& operator=(const shared_obj&) = delete;

 protected:
  enum class kind : std::uint8_t { node, child_entry };
  explicit shared_obj(kind k, std::uint8_t aux8 = 0, std::uint16_t aux16 = 0) noexcept
      : h_{.live = {0, k, aux8, aux16}} {}
  ~shared_obj() = default;
  // Small fields of the derived class, kept in this word rather than in padding of their own.
  std::uint8_t aux8() const noexcept { return h_.live.aux8; }
  std::uint16_t aux16() const noexcept { return h_.live.aux16; }

 private:
  friend void retain(const shared_obj* p) noexcept;
  friend void release(const shared_obj* p) noexcept;
  struct live_word {
    std::uint32_t refs;
    kind k;
    std::uint8_t aux8;
    std::uint16_t aux16;
  };
  // One word: a dead object needs no count, so the release worklist's link (with the kind in its
  // low bit) takes its place and no allocation or extra pointer per object is needed.
  union word {
    live_word live;
    std::uintptr_t dead;
  };
  mutable word h_;
};

inline void retain(const shared_obj* p) noexcept { ++p->h_.live.refs; }

// A counted reference to an immutable T.
template <class T>
class ref {
 public:
  ref() noexcept = default;
  explicit ref(const T* p) noexcept : p_(p) {
    if (p_) retain(p_);
  }
  ref(const ref& o) noexcept : p_(o.p_) {
    if (p_) retain(p_);
  }
  ref(ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  ref& operator=(ref o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~ref() {
    if (p_) release(p_);
  }
  const T* get() const noexcept { return p_; }
  const T* operator->() const noexcept { return p_; }
  const T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  friend bool operator==(const ref& a, const ref& b) noexcept { return a.p_ == b.p_; }
  // Gives up ownership without releasing (the release worklist takes it over).
  const T* leak() noexcept { return std::exchange(p_, nullptr); }

 private:
  const T* p_ = nullptr;
};

class child_entry;

}  // namespace store_detail

using node_ref = store_detail::ref<store_node>;

// name -> node, sorted by name; persistent (every "modification" returns a new map).
class child_map {
 public:
  class cursor;

  child_map() noexcept = default;

  bool empty() const noexcept { return !root_; }
  std::size_t size() const noexcept;
  // Sum of (name length + 1): the size of C xenstored's NUL-separated children list.
  std::uint64_t name_bytes() const noexcept;
  // Number of nodes in all the children's subtrees.
  std::uint64_t total_nodes() const noexcept;

  // A loop, O(log n). nullptr if absent.
  const store_node* find(std::string_view name) const noexcept;
  node_ref get(std::string_view name) const;

  // Insert or replace; O(log n) new entries.
  [[nodiscard]] child_map with(std::string_view name, node_ref node) const;
  // Remove; returns an equal map if `name` is absent.
  [[nodiscard]] child_map without(std::string_view name) const;
  // A balanced map of entries sorted by name with no duplicates (the caller's promise), in O(n):
  // one entry each, no rebalancing.
  [[nodiscard]] static child_map from_sorted(std::vector<std::pair<std::string, node_ref>>&& entries);

  // In-order traversal.
  cursor begin() const;
  // DIRECTORY_PART: the first child whose name starts at or after byte `offset` of the
  // NUL-separated list ("a\0bc\0": "a" starts at 0, "bc" at 2). O(log n).
  cursor from_byte_offset(std::uint64_t offset) const;
  std::vector<std::string> names() const;

  // Structure check for store::check(): order, balance and cached sums. Empty string = fine.
  std::string verify() const;

  const store_detail::child_entry* root_entry() const noexcept { return root_.get(); }

 private:
  friend void store_detail::release(const store_detail::shared_obj* p) noexcept;
  explicit child_map(store_detail::ref<store_detail::child_entry> r) noexcept : root_(std::move(r)) {}
  store_detail::ref<store_detail::child_entry> root_;
};

namespace store_detail {

// One AVL entry, with sums over its subtree for O(1) sizes and O(log n) offset seeks. One
// allocation with the name inline; the height and the name's length ride in the count word.
class child_entry : public shared_obj {
 public:
  static ref<child_entry> make(std::string_view name, node_ref v, ref<child_entry> l, ref<child_entry> r);

  std::string_view name() const noexcept { return {reinterpret_cast<const char*>(this) + name_at, aux16()}; }
  std::uint32_t height() const noexcept { return aux8(); }
  std::uint64_t count() const noexcept { return count_; }                 // entries in this subtree
  std::uint64_t bytes() const noexcept { return load48(bytes_); }         // sum of name().size() + 1
  std::uint64_t subtree_nodes() const noexcept { return load48(nodes_); }  // sum of the values' subtree sizes

  node_ref node;
  ref<child_entry> left, right;

 private:
  friend void release(const shared_obj* p) noexcept;
  child_entry(std::uint16_t name_size, node_ref v, ref<child_entry> l, ref<child_entry> r, std::uint8_t height) noexcept;
  ~child_entry() = default;
  static void destroy(child_entry* e) noexcept;
  static std::uint64_t load48(const std::uint16_t (&w)[3]) noexcept {
    return w[0] | std::uint64_t{w[1]} << 16 | std::uint64_t{w[2]} << 32;
  }

  // Narrowed so that an entry with a name of up to 8 bytes fits malloc's 64-byte block: 4G
  // entries in one directory, 256 TiB of names or 2.8e14 nodes below it (far past any memory).
  std::uint32_t count_;
  std::uint16_t bytes_[3];
  std::uint16_t nodes_[3];
  char name_[8];  // where the name starts; the allocation runs past it for longer names

  static constexpr std::size_t name_at = sizeof(shared_obj) + sizeof(node_ref) + 2 * sizeof(ref<child_entry>) +
                                         sizeof(std::uint32_t) + 6 * sizeof(std::uint16_t);
};

}  // namespace store_detail

class child_map::cursor {
 public:
  bool done() const noexcept { return stack_.empty(); }
  std::string_view name() const noexcept { return stack_.back()->name(); }
  const store_node& node() const noexcept { return *stack_.back()->node; }
  const node_ref& shared_node() const noexcept { return stack_.back()->node; }
  void next();

 private:
  friend class child_map;
  void push_left(const store_detail::child_entry* e);
  std::vector<const store_detail::child_entry*> stack_;  // at most the tree height
};

// One allocation: the fixed fields, then the perms entries, then the value bytes.
class store_node : public store_detail::shared_obj {
 public:
  static node_ref make(std::string_view value, perms_view perms, child_map children, generation_t generation);

  std::string_view value() const noexcept {
    return {reinterpret_cast<const char*>(tail() + perm_count_ * sizeof(perm_entry)), value_size_};
  }
  perms_view perms() const noexcept {
    return perms_view(std::span(reinterpret_cast<const perm_entry*>(tail()), perm_count_));
  }
  domid_t owner() const noexcept { return perms().front().domid; }
  generation_t generation() const noexcept { return generation_; }
  const child_map& children() const noexcept { return children_; }
  // This node and all below it.
  std::uint64_t subtree_size() const noexcept { return 1 + children_.total_nodes(); }

 private:
  friend void store_detail::release(const store_detail::shared_obj* p) noexcept;
  store_node(std::uint32_t value_size, std::uint16_t perm_count, child_map children, generation_t generation) noexcept;
  ~store_node() = default;
  static void destroy(store_node* n) noexcept;
  const unsigned char* tail() const noexcept { return reinterpret_cast<const unsigned char*>(this) + tail_at; }
  unsigned char* tail() noexcept { return reinterpret_cast<unsigned char*>(this) + tail_at; }

  child_map children_;
  generation_t generation_;
  std::uint32_t value_size_;   // the value may be any length a record carries
  std::uint16_t perm_count_;   // the migration stream's limit too (a u16 count)
  unsigned char tail_[2];      // where the inline perms and value start; the allocation runs past it

  static constexpr std::size_t tail_at = sizeof(store_detail::shared_obj) + sizeof(child_map) + sizeof(generation_t) +
                                         sizeof(std::uint32_t) + sizeof(std::uint16_t);
};

// Bytes a node costs its owner: value + permissions + children's names (C xenstored's
// data + perms + childlen; the fixed header is left out). Also what the node-size quota measures.
inline constexpr std::size_t perm_entry_bytes = 8;  // sizeof(struct xs_permissions) in C xenstored
inline std::uint64_t node_memory(const store_node& n) noexcept {
  return n.value().size() + n.perms().size() * perm_entry_bytes + n.children().name_bytes();
}

}  // namespace xenwire::xenstore
