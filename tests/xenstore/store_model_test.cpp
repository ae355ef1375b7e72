// RapidCheck: random operation sequences on the persistent store against a trivially correct
// model (a flat std::map of path -> node); snapshots never change.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "xenwire/xenstore/server/store.hpp"

namespace xenwire::xenstore {
namespace {

struct model_node {
  std::string value;
  node_perms perms;
};
using model = std::map<std::string, model_node>;

std::string parent_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == 0 ? "/" : p.substr(0, slash);
}
bool below(const std::string& p, const std::string& top) { return p.size() > top.size() && p.compare(0, top.size(), top) == 0 && p[top.size()] == '/'; }

std::vector<std::string> model_children(const model& m, const std::string& p) {
  std::vector<std::string> out;
  const std::string prefix = p == "/" ? "/" : p + "/";
  for (const auto& [k, v] : m)
    if (k.size() > prefix.size() && k.compare(0, prefix.size(), prefix) == 0 && k.find('/', prefix.size()) == std::string::npos)
      out.push_back(k.substr(prefix.size()));
  std::sort(out.begin(), out.end());
  return out;
}

model fresh_model() { return {{"/", {"", {{0, perm::none}}}}}; }

// Returns the created paths, parents first.
std::vector<std::string> model_create(model& m, const std::string& p, const std::string& value, const creator& who) {
  std::vector<std::string> missing;
  std::string a = p;
  while (!m.contains(a)) {
    missing.push_back(a);
    a = parent_of(a);
  }
  node_perms perms = m[a].perms;
  if (!who.privileged) perms.front().domid = who.domid;
  std::reverse(missing.begin(), missing.end());
  for (const auto& q : missing) m[q] = {q == p ? value : std::string(), perms};
  return missing;
}

std::map<domid_t, domain_usage> model_usage(const model& m) {
  std::map<domid_t, domain_usage> u;
  for (const auto& [k, v] : m) {
    std::uint64_t bytes = v.value.size() + v.perms.size() * perm_entry_bytes;
    for (const auto& c : model_children(m, k)) bytes += c.size() + 1;
    u[v.perms.front().domid].nodes += 1;
    u[v.perms.front().domid].memory += bytes;
  }
  return u;
}

const std::vector<std::string>& universe() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> v{"/"};
    for (char a : std::string("abc")) {
      v.push_back(std::string("/") + a);
      for (char b : std::string("abc")) {
        v.push_back(std::string("/") + a + "/" + b);
        for (char c : std::string("abc")) v.push_back(std::string("/") + a + "/" + b + "/" + c);
      }
    }
    return v;
  }();
  return all;
}

void expect_same(const store_snapshot& s, const model& m) {
  for (const auto& p : universe()) {
    auto n = s.read(p);
    RC_ASSERT(n.has_value() == m.contains(p));
    if (!n) {
      RC_ASSERT(n.error() == xs_error::enoent);
      continue;
    }
    const auto& want = m.at(p);
    RC_ASSERT((*n)->value() == want.value);
    RC_ASSERT((*n)->perms() == want.perms);
    RC_ASSERT((*n)->children().names() == model_children(m, p));
  }
  RC_ASSERT(s.node_count() == m.size());
}

std::string gen_path() {
  const auto depth = *rc::gen::inRange(0, 4);
  std::string p;
  for (int i = 0; i < depth; ++i) p += std::string("/") + "abc"[*rc::gen::inRange(0, 3)];
  return p.empty() ? "/" : p;
}

creator gen_creator() {
  const auto d = static_cast<domid_t>(*rc::gen::inRange(0, 3));
  return {d, d == 0};
}

node_perms gen_perms() {
  node_perms p;
  const auto n = *rc::gen::inRange(1, 4);
  for (int i = 0; i < n; ++i)
    p.push_back({static_cast<domid_t>(*rc::gen::inRange(0, 4)), static_cast<perm>(*rc::gen::inRange(0, 4))});
  return p;
}

RC_GTEST_PROP(store_model, RandomOperationsMatchTheMapModel, ()) {
  store s;
  model m = fresh_model();
  std::vector<std::pair<store_snapshot, model>> snaps;
  const auto steps = *rc::gen::inRange(1, 80);
  for (int step = 0; step < steps; ++step) {
    const std::string p = gen_path();
    switch (*rc::gen::inRange(0, 6)) {
      case 0:
      case 1: {  // write
        const std::string v = *rc::gen::container<std::string>(rc::gen::inRange('a', 'e'));
        const auto who = gen_creator();
        auto c = s.write(p, v, who);
        RC_ASSERT(c.has_value());
        if (m.contains(p)) {
          m[p].value = v;
          RC_ASSERT(c->modified && c->created.empty());
        } else {
          RC_ASSERT(c->created == model_create(m, p, v, who));
        }
        break;
      }
      case 2: {  // mkdir
        const auto who = gen_creator();
        auto c = s.mkdir(p, who);
        RC_ASSERT(c.has_value());
        std::vector<std::string> created;
        if (!m.contains(p)) created = model_create(m, p, "", who);
        RC_ASSERT(c->created == created);
        break;
      }
      case 3: {  // rm
        auto c = s.rm(p);
        if (p == "/") {
          RC_ASSERT(c.error() == xs_error::einval);
        } else if (!m.contains(p)) {
          RC_ASSERT(c.has_value() == m.contains(parent_of(p)));
          if (c) RC_ASSERT(!c->changed());
        } else {
          RC_ASSERT(c.has_value());
          std::vector<removed_node> want;
          for (auto it = m.begin(); it != m.end();) {
            if (it->first == p || below(it->first, p)) {
              want.push_back({it->first, it->second.perms});
              it = m.erase(it);
            } else {
              ++it;
            }
          }
          RC_ASSERT(c->removed.front().path == p);
          auto got = c->removed;
          auto by_path = [](const removed_node& a, const removed_node& b) { return a.path < b.path; };
          std::sort(got.begin(), got.end(), by_path);
          std::sort(want.begin(), want.end(), by_path);
          RC_ASSERT(got == want);
        }
        break;
      }
      case 4: {  // set_perms
        const auto perms = gen_perms();
        auto c = s.set_perms(p, perms);
        RC_ASSERT(c.has_value() == m.contains(p));
        if (c) {
          RC_ASSERT(*c->old_perms == m[p].perms);
          m[p].perms = perms;
        }
        break;
      }
      case 5:  // snapshot
        snaps.emplace_back(s.snapshot(), m);
        break;
    }
    expect_same(s.snapshot(), m);
    auto ok = s.check();
    RC_ASSERT(ok.has_value());
    std::map<domid_t, domain_usage> got(s.usage().begin(), s.usage().end());
    RC_ASSERT(got == model_usage(m));
  }
  for (const auto& [snap, frozen] : snaps) expect_same(snap, frozen);
}

}  // namespace
}  // namespace xenwire::xenstore
