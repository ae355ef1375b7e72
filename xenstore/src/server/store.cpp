// The store: owns the current root, the generation counter and the accounting.
#include "xenwire/xenstore/server/store.hpp"

#include <algorithm>

#include "store_tree.hpp"
#include "xenwire/xenstore/server/transaction.hpp"

namespace xenwire::xenstore {

using store_detail::plan_builder;

namespace {

xs_result<node_ref> read_at(const node_ref& root, std::string_view path) {
  auto comps = store_tree::split(path);
  if (!comps) return xs_fail(comps.error());
  const store_node* n = store_tree::lookup(*root, *comps);
  if (n == nullptr) return xs_fail(xs_error::enoent);
  return node_ref(n);
}

std::size_t depth_of(const std::string& path) noexcept {
  return path == "/" ? 0 : static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
}

}  // namespace

xs_result<node_ref> store_snapshot::read(std::string_view path) const { return read_at(root_, path); }

store::store() : root_(store_node::make({}, node_perms{{0, perm::none}}, {}, 0)) {
  usage_[0] = {1, node_memory(*root_)};
}

xs_result<node_ref> store::read(std::string_view path) const { return read_at(root_, path); }

domain_usage store::usage(domid_t domid) const noexcept {
  auto it = usage_.find(domid);
  return it == usage_.end() ? domain_usage{} : it->second;
}

// --- plans ---------------------------------------------------------------------------------------

xs_result<pending_change> store::plan_write(std::string_view path, std::string_view value, const creator& who) {
  auto e = store_tree::write(root_, path, value, who, generation_, nullptr);
  if (!e) return xs_fail(e.error());
  return plan_builder::make(std::move(*e), this, epoch_);
}

xs_result<pending_change> store::plan_mkdir(std::string_view path, const creator& who) {
  auto e = store_tree::mkdir(root_, path, who, generation_, nullptr);
  if (!e) return xs_fail(e.error());
  return plan_builder::make(std::move(*e), this, epoch_);
}

xs_result<pending_change> store::plan_rm(std::string_view path) {
  auto e = store_tree::rm(root_, path, generation_, nullptr, 0);
  if (!e) return xs_fail(e.error());
  return plan_builder::make(std::move(*e), this, epoch_);
}

xs_result<pending_change> store::plan_set_perms(std::string_view path, node_perms perms) {
  auto e = store_tree::set_perms(root_, path, std::move(perms), generation_, nullptr);
  if (!e) return xs_fail(e.error());
  return plan_builder::make(std::move(*e), this, epoch_);
}

xs_result<change_set> store::apply(pending_change&& plan) {
  if (!plan_builder::fresh_for(plan, this, epoch_)) return xs_fail(xs_error::eagain);
  apply_delta(plan_builder::delta(plan));
  root_ = std::move(plan_builder::root(plan));
  ++epoch_;
  return std::move(plan_builder::changes(plan));
}

xs_result<change_set> store::write(std::string_view path, std::string_view value, const creator& who) {
  return plan_write(path, value, who).and_then([this](pending_change&& p) { return apply(std::move(p)); });
}
xs_result<change_set> store::mkdir(std::string_view path, const creator& who) {
  return plan_mkdir(path, who).and_then([this](pending_change&& p) { return apply(std::move(p)); });
}
xs_result<change_set> store::rm(std::string_view path) {
  return plan_rm(path).and_then([this](pending_change&& p) { return apply(std::move(p)); });
}
xs_result<change_set> store::set_perms(std::string_view path, node_perms perms) {
  return plan_set_perms(path, std::move(perms)).and_then([this](pending_change&& p) { return apply(std::move(p)); });
}

void store::apply_delta(const usage_delta& delta) {
  // Allocate first (may throw, leaving only harmless zero entries), then add without failing.
  for (const auto& entry : delta) usage_.try_emplace(entry.first);
  for (const auto& [domid, c] : delta) {
    domain_usage& u = usage_.find(domid)->second;
    u.nodes = static_cast<std::uint64_t>(static_cast<std::int64_t>(u.nodes) + c.nodes);
    u.memory = static_cast<std::uint64_t>(static_cast<std::int64_t>(u.memory) + c.memory);
  }
  for (const auto& entry : delta) {
    auto it = usage_.find(entry.first);
    if (it->second == domain_usage{}) usage_.erase(it);
  }
}

// --- transactions --------------------------------------------------------------------------------

store_transaction store::begin(std::size_t max_nodes) {
  // C xenstored also takes a generation for the transaction itself.
  return store_transaction(*this, root_, ++generation_, max_nodes);
}

bool store::conflicts(const store_transaction& tx) const {
  for (const auto& [path, st] : tx.accessed_)
    if (store_tree::generation_at(*root_, path) != st.generation) return true;
  return false;
}

xs_result<std::vector<change_set>> store::commit(store_transaction&& tx) {
  store_transaction t = std::move(tx);
  if (t.store_ != this || !t.root_) return xs_fail(xs_error::einval);  // foreign or already consumed

  // C xenstored's rule: every node touched must still have the generation it had when touched.
  if (conflicts(t)) return xs_fail(xs_error::eagain);

  // The touched nodes are unchanged, so replaying the transaction's final state of each modified
  // node (parents first) onto the current tree reproduces its view there and nothing else.
  std::vector<const std::string*> modified;
  for (const auto& [path, st] : t.accessed_)
    if (st.modified) modified.push_back(&path);
  std::sort(modified.begin(), modified.end(), [](const std::string* a, const std::string* b) {
    const auto da = depth_of(*a), db = depth_of(*b);
    return da != db ? da < db : *a < *b;
  });

  node_ref work = root_;
  generation_t counter = generation_;
  usage_delta delta;
  for (const std::string* path : modified) {
    auto comps = store_tree::split(*path);
    if (!comps) return xs_fail(xs_error::eio);
    const store_node* mine = store_tree::lookup(*t.root_, *comps);
    xs_result<node_ref> next = work;
    if (mine != nullptr)
      next = store_tree::put(work, *path, *mine, counter, delta);
    else if (store_tree::lookup(*work, *comps) != nullptr)
      next = store_tree::erase(work, *path, counter, delta);
    if (!next) return xs_fail(next.error());  // cannot happen after the checks; nothing applied
    work = std::move(*next);
  }

  apply_delta(delta);
  root_ = std::move(work);
  generation_ = counter;
  ++epoch_;
  return std::move(t.log_);
}

// --- domains -------------------------------------------------------------------------------------

std::vector<change_set> store::remove_domain_nodes(domid_t domid) {
  const node_ref before = root_;
  std::vector<std::string> doomed;
  std::vector<std::pair<std::string, node_perms>> stripped;
  store_tree::walk(*before, "/", [&](const std::string& path, const store_node& node) {
    if (path != "/" && node.owner() == domid) {
      doomed.push_back(path);
      return false;  // the whole subtree goes
    }
    const auto& perms = node.perms();
    if (std::any_of(perms.begin() + 1, perms.end(), [&](const perm_entry& e) { return e.domid == domid; })) {
      node_perms kept{perms.front()};
      std::copy_if(perms.begin() + 1, perms.end(), std::back_inserter(kept),
                   [&](const perm_entry& e) { return e.domid != domid; });
      stripped.emplace_back(path, std::move(kept));
    }
    return true;
  });

  std::vector<change_set> out;
  for (auto& [path, perms] : stripped)
    if (auto r = set_perms(path, std::move(perms))) out.push_back(std::move(*r));
  for (const auto& path : doomed)
    if (auto r = rm(path); r && r->changed()) out.push_back(std::move(*r));
  return out;
}

// --- check ---------------------------------------------------------------------------------------

tl::expected<void, std::string> store::check() const {
  std::unordered_map<domid_t, domain_usage> recount;
  std::uint64_t count = 0;
  std::string err;
  store_tree::walk(*root_, "/", [&](const std::string& path, const store_node& node) {
    if (!err.empty()) return false;
    ++count;
    if (node.perms().empty()) {
      err = path + ": no permissions";
      return false;
    }
    if (node.generation() > generation_) {
      err = path + ": generation " + std::to_string(node.generation()) + " above the counter " +
            std::to_string(generation_);
      return false;
    }
    if (auto why = node.children().verify(); !why.empty()) {
      err = path + ": " + why;
      return false;
    }
    for (auto c = node.children().begin(); !c.done(); c.next()) {
      if (!store_tree::valid_name(c.name())) {
        err = path + ": invalid child name '" + std::string(c.name()) + "'";
        return false;
      }
    }
    auto& u = recount[node.owner()];
    u.nodes += 1;
    u.memory += node_memory(node);
    return true;
  });
  if (!err.empty()) return tl::unexpected(std::move(err));
  if (count != root_->subtree_size())
    return tl::unexpected("node count " + std::to_string(count) + " but cached " + std::to_string(root_->subtree_size()));
  for (const auto& [domid, u] : usage_) {
    if (u == domain_usage{}) continue;
    auto it = recount.find(domid);
    const domain_usage real = it == recount.end() ? domain_usage{} : it->second;
    if (real != u)
      return tl::unexpected("dom" + std::to_string(domid) + ": accounted " + std::to_string(u.nodes) + " nodes/" +
                            std::to_string(u.memory) + " bytes, recounted " + std::to_string(real.nodes) + "/" +
                            std::to_string(real.memory));
  }
  for (const auto& [domid, u] : recount)
    if (usage(domid) != u) return tl::unexpected("dom" + std::to_string(domid) + ": nodes not accounted");
  return {};
}

}  // namespace xenwire::xenstore
