#include "ls_printer.hpp"

#include <algorithm>
#include <vector>

#include "text.hpp"

namespace xenwire::xenstore::tools {
namespace {

// xenstore-ls's TAG: ` = "..."`.
constexpr int tag_len = 8;

std::string perms_text(const node_perms& perms) {
  std::string s;
  for (std::size_t i = 0; i < perms.size(); ++i) {
    if (i) s += ',';
    s += perm_letter(perms[i].access);
    s += std::to_string(perms[i].domid);
  }
  return s;
}

std::string json_perms(const node_perms& perms) {
  std::string s = "[";
  for (std::size_t i = 0; i < perms.size(); ++i) {
    if (i) s += ',';
    s += "{\"domid\":" + std::to_string(perms[i].domid) + ",\"perm\":\"" + perm_letter(perms[i].access) + "\"}";
  }
  return s + "]";
}

std::string child_path(const std::string& dir, const std::string& name) {
  return dir + (dir.back() == '/' ? "" : "/") + name;
}

// One node's line, as do_ls prints it.
std::string text_line(client& c, const std::string& full, const std::string& name, int depth, const ls_options& o) {
  const int max_width = o.full_paths ? INT32_MAX / 2 : o.width;
  const int desired_width = o.full_paths ? 0 : 60;
  std::string line;
  int linewid = 0;
  if (o.full_paths) {
    line = full;
  } else {
    line.assign(static_cast<std::size_t>(depth), ' ');
    linewid = depth;
    const int room = std::max(0, max_width - tag_len - linewid);
    const std::string shown = name.substr(0, static_cast<std::size_t>(room));
    line += shown;
    linewid += static_cast<int>(shown.size());
  }
  auto value = c.read(full);
  if (!value) {
    line += ":\n";
  } else {
    const std::string clean = sanitise_value(*value);
    if (static_cast<long>(max_width) < static_cast<long>(linewid) + static_cast<long>(value->size()) + tag_len) {
      const int room = std::max(0, max_width - tag_len - linewid);
      line += " = \"" + clean.substr(0, static_cast<std::size_t>(room)) + "\\...\"";
    } else {
      const std::string shown = " = \"" + clean + "\"";
      line += shown;
      linewid += static_cast<int>(shown.size());
      if (o.perms) {
        line += ' ';
        for (linewid++; linewid < std::min(desired_width, max_width); linewid++) line += (linewid & 1) ? '.' : ' ';
      }
    }
  }
  if (o.perms) {
    if (auto p = c.get_perms(full)) line += "  (" + perms_text(*p) + ")";
  }
  return line + "\n";
}

std::string json_line(client& c, const std::string& full, const ls_options& o) {
  std::string line = "{\"path\":" + json_string(full);
  if (auto value = c.read(full)) line += ",\"value\":" + json_string(*value);
  if (o.perms) {
    if (auto p = c.get_perms(full)) line += ",\"perms\":" + json_perms(*p);
  }
  return line + "}";
}

}  // namespace

client_result<void> print_tree(client& c, const std::string& path, const ls_options& o, std::FILE* out) {
  // Depth-first in the server's order, with an explicit stack: a deep store cannot overflow ours.
  struct level {
    std::string path;
    std::vector<std::string> children;
    std::size_t next = 0;
  };
  auto top = c.directory(path);
  if (!top) return client_fail(top.error());
  std::vector<level> stack;
  stack.push_back({path, std::move(*top), 0});
  bool first = true;
  if (o.json) std::fputs("[", out);
  while (!stack.empty()) {
    level& l = stack.back();
    if (l.next == l.children.size()) {
      stack.pop_back();
      continue;
    }
    const std::string name = l.children[l.next++];
    const std::string full = child_path(l.path, name);
    const int depth = static_cast<int>(stack.size()) - 1;
    if (o.json) {
      std::fputs(first ? "\n" : ",\n", out);
      std::fputs(json_line(c, full, o).c_str(), out);
    } else {
      std::fputs(text_line(c, full, name, depth, o).c_str(), out);
    }
    first = false;
    auto kids = c.directory(full);
    if (!kids) {
      if (kids.error().is(xs_error::enoent) || kids.error().is(xs_error::eacces)) continue;  // vanished meanwhile
      return client_fail(kids.error());
    }
    if (!kids->empty()) stack.push_back({full, std::move(*kids), 0});
  }
  if (o.json) std::fputs(first ? "]\n" : "\n]\n", out);
  return {};
}

}  // namespace xenwire::xenstore::tools
