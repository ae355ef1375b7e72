// Releasing nodes without recursion (XSA-418): a dead object's children are detached onto an
// intrusive worklist before it is deleted, so destructors never cascade.
#include "xenwire/xenstore/server/store_node.hpp"

namespace xenwire::xenstore::store_detail {

void release(const shared_obj* p) noexcept {
  if (--p->h_.live.refs != 0) return;
  static_assert(alignof(shared_obj) >= 2, "the link's low bit holds the kind");
  // Queues a dead object: its count word becomes the link to the next one, tagged with its kind.
  auto push_dead = [](const shared_obj* q, const shared_obj*& list) noexcept {
    const auto k = static_cast<std::uintptr_t>(q->h_.live.k);
    q->h_.dead = reinterpret_cast<std::uintptr_t>(list) | k;
    list = q;
  };
  // Drops one reference held by a dying object; queues the target if that was the last one.
  auto drop = [&](auto& r, const shared_obj*& list) noexcept {
    const shared_obj* q = r.leak();
    if (q == nullptr) return;
    if (--q->h_.live.refs == 0) push_dead(q, list);
  };
  const shared_obj* worklist = nullptr;
  push_dead(p, worklist);
  while (worklist != nullptr) {
    const shared_obj* dead = worklist;
    const std::uintptr_t link = dead->h_.dead;
    worklist = reinterpret_cast<const shared_obj*>(link & ~std::uintptr_t{1});
    if (static_cast<shared_obj::kind>(link & 1) == shared_obj::kind::node) {
      auto* n = const_cast<store_node*>(static_cast<const store_node*>(dead));
      drop(n->children_.root_, worklist);
      store_node::destroy(n);
    } else {
      auto* e = const_cast<child_entry*>(static_cast<const child_entry*>(dead));
      drop(e->node, worklist);
      drop(e->left, worklist);
      drop(e->right, worklist);
      child_entry::destroy(e);
    }
  }
}

}  // namespace xenwire::xenstore::store_detail
