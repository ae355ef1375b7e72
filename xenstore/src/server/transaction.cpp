// Transactions: a snapshot root, the nodes touched with their first-seen generations, and the
// accounting delta committing would apply.
#include "xenwire/xenstore/server/transaction.hpp"

#include <set>

#include "store_tree.hpp"

namespace xenwire::xenstore {

using store_detail::plan_builder;

store_transaction::store_transaction(store& s, node_ref root, generation_t start, std::size_t max_nodes) noexcept
    : store_(&s), root_(std::move(root)), start_generation_(start), max_nodes_(max_nodes) {}

bool store_transaction::over_quota(const std::vector<node_access>& accessed) const {
  if (max_nodes_ == 0) return false;
  std::set<std::string_view> fresh;
  for (const auto& a : accessed)
    if (!accessed_.contains(a.path)) fresh.insert(a.path);
  return accessed_.size() + fresh.size() > max_nodes_;
}

void store_transaction::record(const std::vector<node_access>& accessed) {
  for (const auto& a : accessed) {
    auto [it, inserted] = accessed_.try_emplace(a.path, access_state{a.generation, a.modified});
    if (!inserted) it->second.modified |= a.modified;
  }
}

template <class Edit>
xs_result<pending_change> store_transaction::finish_plan(xs_result<Edit>&& edit, std::vector<node_access>&& accessed) {
  if (over_quota(accessed)) return xs_fail(xs_error::enospc);
  if (!edit) {
    // A node found absent was still looked at: creating it meanwhile must conflict.
    if (edit.error() == xs_error::enoent) record(accessed);
    return xs_fail(edit.error());
  }
  return plan_builder::make(std::move(*edit), this, epoch_, std::move(accessed));
}

const store_node* store_transaction::peek(std::string_view path) const {
  if (!root_) return nullptr;
  auto comps = store_tree::split(path);
  return comps ? store_tree::lookup(*root_, *comps) : nullptr;
}

std::vector<store_transaction::touched_node> store_transaction::touched_nodes() const {
  std::vector<touched_node> out;
  out.reserve(accessed_.size());
  for (const auto& [path, st] : accessed_) out.push_back({path, st.modified});
  return out;
}

xs_result<node_ref> store_transaction::read(std::string_view path) {
  if (!root_) return xs_fail(xs_error::einval);  // moved from
  auto comps = store_tree::split(path);
  if (!comps) return xs_fail(comps.error());
  const store_node* n = store_tree::lookup(*root_, *comps);
  std::vector<node_access> accessed{{std::string(path), n ? n->generation() : no_generation, false}};
  if (over_quota(accessed)) return xs_fail(xs_error::enospc);
  record(accessed);
  if (n == nullptr) return xs_fail(xs_error::enoent);
  return node_ref(n);
}

xs_result<pending_change> store_transaction::plan_write(std::string_view path, std::string_view value,
                                                        const creator& who) {
  if (!root_) return xs_fail(xs_error::einval);
  std::vector<node_access> accessed;
  auto e = store_tree::write(root_, path, value, who, store_->generation_, &accessed);
  return finish_plan(std::move(e), std::move(accessed));
}

xs_result<pending_change> store_transaction::plan_mkdir(std::string_view path, const creator& who) {
  if (!root_) return xs_fail(xs_error::einval);
  std::vector<node_access> accessed;
  auto e = store_tree::mkdir(root_, path, who, store_->generation_, &accessed);
  return finish_plan(std::move(e), std::move(accessed));
}

xs_result<pending_change> store_transaction::plan_rm(std::string_view path) {
  if (!root_) return xs_fail(xs_error::einval);
  std::vector<node_access> accessed;
  auto e = store_tree::rm(root_, path, store_->generation_, &accessed, max_nodes_);
  return finish_plan(std::move(e), std::move(accessed));
}

xs_result<pending_change> store_transaction::plan_set_perms(std::string_view path, node_perms perms) {
  if (!root_) return xs_fail(xs_error::einval);
  std::vector<node_access> accessed;
  auto e = store_tree::set_perms(root_, path, std::move(perms), store_->generation_, &accessed);
  return finish_plan(std::move(e), std::move(accessed));
}

xs_result<change_set> store_transaction::apply(pending_change&& plan) {
  if (!root_ || !plan_builder::fresh_for(plan, this, epoch_)) return xs_fail(xs_error::eagain);
  const auto& accessed = plan_builder::accessed(plan);
  if (over_quota(accessed)) return xs_fail(xs_error::enospc);  // reads since the plan used it up
  log_.reserve(log_.size() + 1);
  record(accessed);
  store_tree::merge(delta_, plan_builder::delta(plan));
  root_ = std::move(plan_builder::root(plan));
  ++epoch_;
  change_set& changes = plan_builder::changes(plan);
  if (changes.changed()) log_.push_back(changes);
  return std::move(changes);
}

xs_result<change_set> store_transaction::write(std::string_view path, std::string_view value, const creator& who) {
  return plan_write(path, value, who).and_then([this](pending_change&& p) { return apply(std::move(p)); });
}
xs_result<change_set> store_transaction::mkdir(std::string_view path, const creator& who) {
  return plan_mkdir(path, who).and_then([this](pending_change&& p) { return apply(std::move(p)); });
}
xs_result<change_set> store_transaction::rm(std::string_view path) {
  return plan_rm(path).and_then([this](pending_change&& p) { return apply(std::move(p)); });
}
xs_result<change_set> store_transaction::set_perms(std::string_view path, node_perms perms) {
  return plan_set_perms(path, std::move(perms)).and_then([this](pending_change&& p) { return apply(std::move(p)); });
}

}  // namespace xenwire::xenstore
