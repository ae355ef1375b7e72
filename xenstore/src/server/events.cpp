// Watch event fan-out (tools/xenstored/watch.c's fire_watches, with an index instead of a scan).
#include <algorithm>

#include "core_state.hpp"

namespace xenwire::xenstore::detail {

namespace {
const node_perms* special_perms_for(const core_impl& s, std::string_view name) {
  if (name.starts_with(introduce_domain_path)) return &s.special_perms[0];
  if (name.starts_with(release_domain_path)) return &s.special_perms[1];
  return nullptr;
}
}  // namespace

// The watcher must be able to read the node or its parent; on a perms change or removal the old
// perms count too, so that a watcher losing access still learns of it.
bool core_impl::watch_permitted(const connection& c, std::string_view name, const node_perms* old_perms) {
  if (c.privileged) return true;
  accessor a = who(c);
  if (const node_perms* sp = special_perms_for(*this, name)) return can_access(*sp, a, perm::read);
  if (old_perms && can_access(*old_perms, a, perm::read)) return true;
  if (auto n = db.read(name); n) {
    if (can_access((*n)->perms(), a, perm::read)) return true;
  } else if (!old_perms) {
    return false;  // gone, and nothing known about it
  }
  auto p = parent(name);
  if (!p) return false;
  auto pn = db.read(*p);
  return pn && can_access((*pn)->perms(), a, perm::read);
}

void core_impl::fire(std::string_view name, watch_match how, const node_perms* old_perms, time_point now) {
  match_scratch.clear();
  watches.match(name, how, match_scratch);
  if (match_scratch.empty()) return;
  // Permission is per connection; check it once for each.
  conn_id last = 0;
  bool permitted = false;
  connection* target = nullptr;
  std::stable_sort(match_scratch.begin(), match_scratch.end(),
                   [](const watch* a, const watch* b) { return a->conn < b->conn; });
  for (const watch* w : match_scratch) {
    if (w->conn != last || !target) {
      last = w->conn;
      target = find(w->conn);
      permitted = target && !target->dropping && watch_permitted(*target, name, old_perms);
    }
    if (permitted) queue_event(*target, w->event_path(name), w->token, now);
  }
}

void core_impl::fire_changes(const change_set& ch, time_point now) {
  if (!ch.changed()) return;
  switch (ch.kind) {
    case change_kind::write:
    case change_kind::mkdir:
      fire(ch.path, watch_match::subtree, nullptr, now);
      break;
    case change_kind::set_perms:
      fire(ch.path, watch_match::subtree, ch.old_perms ? &*ch.old_perms : nullptr, now);
      break;
    case change_kind::rm:
      // Descendants exactly, deepest first, then the removed root for whole subtrees (C order).
      for (auto it = ch.removed.rbegin(); it != ch.removed.rend(); ++it) {
        bool root = it->path == ch.path;
        fire(it->path, root ? watch_match::subtree : watch_match::exact, &it->perms, now);
      }
      break;
  }
}

void core_impl::fire_changes(const std::vector<change_set>& changes, time_point now) {
  for (const change_set& ch : changes) fire_changes(ch, now);
}

void core_impl::fire_special(std::string_view special, std::optional<domid_t> domid, time_point now) {
  fire(special, watch_match::nodepth, nullptr, now);
  if (domid) {
    std::string with_domid(special);
    with_domid += '/';
    with_domid += std::to_string(*domid);
    fire(with_domid, watch_match::depth, nullptr, now);
  }
}

}  // namespace xenwire::xenstore::detail
