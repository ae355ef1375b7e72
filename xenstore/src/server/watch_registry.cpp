#include "watch_registry.hpp"

#include <algorithm>

namespace xenwire::xenstore::detail {

bool is_child(std::string_view child, std::string_view parent, int depth) noexcept {
  const std::size_t len = parent.size();
  if (!child.starts_with(parent)) return false;
  // "/" is everyone's ancestor; otherwise the match must end at a path separator.
  if (len > 1 && child.size() > len && child[len] != '/') return false;
  if (depth < 0 || child.size() == len) return true;
  // Count the levels below parent: one per '/' after it (for "/" the first level has no '/').
  int levels = (len == 1) ? 1 : 0;
  for (std::size_t i = len; i < child.size(); ++i)
    if (child[i] == '/') ++levels;
  return levels <= depth;
}

const watch* watch_registry::add(conn_id conn, std::string node, std::string token, int depth,
                                 std::size_t prefix_len) {
  auto& mine = by_conn_[conn];
  for (const watch* w : mine)
    if (w->node == node && w->token == token) return nullptr;
  auto w = std::make_unique<watch>(watch{conn, node, std::move(token), depth, prefix_len, next_seq_++});
  watch* raw = w.get();
  by_node_[std::move(node)].push_back(std::move(w));
  mine.push_back(raw);
  ++total_;
  return raw;
}

std::optional<std::size_t> watch_registry::remove(conn_id conn, std::string_view node, std::string_view token) {
  auto c = by_conn_.find(conn);
  if (c == by_conn_.end()) return std::nullopt;
  auto& mine = c->second;
  auto it = std::find_if(mine.begin(), mine.end(), [&](const watch* w) { return w->node == node && w->token == token; });
  if (it == mine.end()) return std::nullopt;
  watch* w = *it;
  std::size_t bytes = w->accounted_bytes();
  mine.erase(it);
  if (mine.empty()) by_conn_.erase(c);
  auto n = by_node_.find(w->node);
  auto& list = n->second;
  list.erase(std::find_if(list.begin(), list.end(), [&](const auto& p) { return p.get() == w; }));
  if (list.empty()) by_node_.erase(n);
  --total_;
  return bytes;
}

std::pair<std::size_t, std::size_t> watch_registry::remove_all(conn_id conn) {
  auto c = by_conn_.find(conn);
  if (c == by_conn_.end()) return {0, 0};
  std::vector<watch*> mine = std::move(c->second);
  by_conn_.erase(c);
  std::size_t bytes = 0;
  for (watch* w : mine) {
    bytes += w->accounted_bytes();
    auto n = by_node_.find(w->node);
    auto& list = n->second;
    list.erase(std::find_if(list.begin(), list.end(), [&](const auto& p) { return p.get() == w; }));
    if (list.empty()) by_node_.erase(n);
  }
  total_ -= mine.size();
  return {mine.size(), bytes};
}

std::size_t watch_registry::count(conn_id conn) const {
  auto c = by_conn_.find(conn);
  return c == by_conn_.end() ? 0 : c->second.size();
}

void watch_registry::match(std::string_view name, watch_match how, std::vector<const watch*>& out) const {
  const std::size_t first = out.size();
  auto at = [&](std::string_view node) -> const watch_list* {
    auto it = by_node_.find(node);
    return it == by_node_.end() ? nullptr : &it->second;
  };
  switch (how) {
    case watch_match::exact:
      if (auto* l = at(name))
        for (const auto& w : *l) out.push_back(w.get());
      break;
    case watch_match::nodepth:
      if (auto* l = at(name))
        for (const auto& w : *l)
          if (w->depth < 0) out.push_back(w.get());
      break;
    case watch_match::subtree:
    case watch_match::depth: {
      // Walk `name` and each ancestor: "/a/b" → "/a/b", "/a", "/"; "@releaseDomain/5" →
      // "@releaseDomain/5", "@releaseDomain".
      std::string_view node = name;
      for (;;) {
        if (auto* l = at(node)) {
          for (const auto& w : *l) {
            bool send = how == watch_match::subtree
                            ? is_child(name, w->node, w->depth)
                            : (w->node == name || (w->depth > 0 && is_child(name, w->node, w->depth)));
            if (send) out.push_back(w.get());
          }
        }
        if (node.size() <= 1) break;
        auto slash = node.rfind('/');
        if (slash == std::string_view::npos) break;
        node = slash == 0 ? std::string_view("/") : node.substr(0, slash);
        if (node.empty()) break;
      }
      break;
    }
  }
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
            [](const watch* a, const watch* b) { return a->seq < b->seq; });
}

std::vector<const watch*> watch_registry::of(conn_id conn) const {
  std::vector<const watch*> out;
  if (auto c = by_conn_.find(conn); c != by_conn_.end()) out.assign(c->second.begin(), c->second.end());
  std::sort(out.begin(), out.end(), [](const watch* a, const watch* b) { return a->seq < b->seq; });
  return out;
}

}  // namespace xenwire::xenstore::detail
