// Releasing nodes without recursion (XSA-418): a dead object's children are detached onto an
// intrusive worklist before it is deleted, so destructors never cascade.
#include "xenwire/xenstore/server/store_node.hpp"

namespace xenwire::xenstore::store_detail {

void release(const shared_obj* p) noexcept {
  if (--p->refs_ != 0) return;
  const shared_obj* worklist = p;
  // Drops one reference held by a dying object; queues the target if that was the last one.
  auto drop = [](auto& r, const shared_obj*& list) noexcept {
    const shared_obj* q = r.leak();
    if (q == nullptr) return;
    if (--q->refs_ == 0) {
      q->next_dead_ = list;
      list = q;
    }
  };
  p->next_dead_ = nullptr;
  while (worklist != nullptr) {
    const shared_obj* dead = worklist;
    worklist = dead->next_dead_;
    if (dead->kind_ == shared_obj::kind::node) {
      auto* n = const_cast<store_node*>(static_cast<const store_node*>(dead));
      drop(n->children_.root_, worklist);
      delete n;
    } else {
      auto* e = const_cast<child_entry*>(static_cast<const child_entry*>(dead));
      drop(e->node, worklist);
      drop(e->left, worklist);
      drop(e->right, worklist);
      delete e;
    }
  }
}

}  // namespace xenwire::xenstore::store_detail
