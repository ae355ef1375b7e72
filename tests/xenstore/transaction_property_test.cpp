// RapidCheck: random interleavings of two transactions and direct operations. An independent
// oracle (flat maps with version numbers) decides which operations fail and whether each commit
// succeeds by the rule in transaction.hpp; the store must agree, keep its generations in step with
// the oracle's versions, and keep accounting equal to a from-scratch recount after every step.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "xenwire/xenstore/server/store.hpp"
#include "xenwire/xenstore/server/transaction.hpp"

namespace xenwire::xenstore {
namespace {

struct onode {
  std::string value;
  node_perms perms;
  std::uint64_t ver;
};
using omodel = std::map<std::string, onode>;

std::string parent_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == 0 ? "/" : p.substr(0, slash);
}
bool in_subtree(const std::string& p, const std::string& top) {
  return p == top || (p.size() > top.size() && p.compare(0, top.size(), top) == 0 && p[top.size()] == '/');
}
std::size_t depth(const std::string& p) { return p == "/" ? 0 : static_cast<std::size_t>(std::count(p.begin(), p.end(), '/')); }

std::vector<std::string> children(const omodel& m, const std::string& p) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m)
    if (k != "/" && parent_of(k) == p) out.push_back(k.substr(p == "/" ? 1 : p.size() + 1));
  std::sort(out.begin(), out.end());
  return out;
}

std::map<domid_t, domain_usage> recount(const omodel& m) {
  std::map<domid_t, domain_usage> u;
  for (const auto& [k, v] : m) {
    std::uint64_t bytes = v.value.size() + v.perms.size() * perm_entry_bytes;
    for (const auto& c : children(m, k)) bytes += c.size() + 1;
    u[v.perms.front().domid].nodes += 1;
    u[v.perms.front().domid].memory += bytes;
  }
  return u;
}

enum class op { read, write, mkdir, rm, set_perms };
struct request {
  op kind;
  std::string path;
  std::string value;
  creator who;
  node_perms perms;
};
struct access {
  std::string path;
  bool modified;
};

struct oracle {
  std::uint64_t next_ver = 1;
  std::uint64_t fresh() { return next_ver++; }

  // The nodes a request touches (transaction.hpp's table), evaluated on `m` before it runs.
  static std::vector<access> touches(const omodel& m, const request& r) {
    std::vector<access> out;
    switch (r.kind) {
      case op::read:
        out.push_back({r.path, false});
        break;
      case op::write:
      case op::mkdir:
        if (m.contains(r.path)) {
          out.push_back({r.path, r.kind == op::write});
        } else {
          std::string a = r.path;
          while (!m.contains(a)) {
            out.push_back({a, true});
            a = parent_of(a);
          }
          out.push_back({a, true});
        }
        break;
      case op::rm:
        if (r.path == "/") break;
        if (!m.contains(r.path)) {
          out.push_back({r.path, false});
          out.push_back({parent_of(r.path), false});
        } else {
          out.push_back({parent_of(r.path), true});
          for (const auto& [k, v] : m)
            if (in_subtree(k, r.path)) out.push_back({k, true});
        }
        break;
      case op::set_perms:
        out.push_back({r.path, m.contains(r.path)});
        break;
    }
    return out;
  }

  // Runs a request on `m`, stamping fresh versions as the store stamps generations.
  std::optional<xs_error> run(omodel& m, const request& r) {
    switch (r.kind) {
      case op::read:
        return m.contains(r.path) ? std::nullopt : std::optional(xs_error::enoent);
      case op::write:
      case op::mkdir: {
        if (m.contains(r.path)) {
          if (r.kind == op::write) {
            m[r.path].value = r.value;
            m[r.path].ver = fresh();
          }
          return std::nullopt;
        }
        std::vector<std::string> missing;
        std::string a = r.path;
        while (!m.contains(a)) {
          missing.push_back(a);
          a = parent_of(a);
        }
        node_perms perms = m[a].perms;
        if (!r.who.privileged) perms.front().domid = r.who.domid;
        const std::string value = r.kind == op::write ? r.value : std::string();
        for (const auto& q : missing) m[q] = {q == r.path ? value : std::string(), perms, fresh()};
        m[a].ver = fresh();
        return std::nullopt;
      }
      case op::rm: {
        if (r.path == "/") return xs_error::einval;
        if (!m.contains(r.path)) return m.contains(parent_of(r.path)) ? std::nullopt : std::optional(xs_error::enoent);
        std::erase_if(m, [&](const auto& kv) { return in_subtree(kv.first, r.path); });
        m[parent_of(r.path)].ver = fresh();
        return std::nullopt;
      }
      case op::set_perms:
        if (!m.contains(r.path)) return xs_error::enoent;
        m[r.path].perms = r.perms;
        m[r.path].ver = fresh();
        return std::nullopt;
    }
    return xs_error::eio;
  }
};

struct otx {
  omodel start, view;
  std::map<std::string, std::optional<std::uint64_t>> seen;  // first-touch versions
  std::set<std::string> modified;
  std::size_t limit = 0;
};

std::optional<xs_error> oracle_tx_request(oracle& o, otx& t, const request& r) {
  const auto acc = oracle::touches(t.view, r);
  std::set<std::string> fresh;
  for (const auto& a : acc)
    if (!t.seen.contains(a.path)) fresh.insert(a.path);
  if (t.limit != 0 && t.seen.size() + fresh.size() > t.limit) return xs_error::enospc;
  const omodel before = t.view;
  auto err = o.run(t.view, r);
  if (err && err != xs_error::enoent) return err;  // (an absent node was still looked at)
  for (const auto& a : acc) {
    if (!t.seen.contains(a.path)) {
      auto it = before.find(a.path);
      t.seen[a.path] = it == before.end() ? std::nullopt : std::optional(it->second.ver);
    }
    if (a.modified) t.modified.insert(a.path);
  }
  return err;
}

bool oracle_commit(oracle& o, omodel& global, otx& t) {
  for (const auto& [p, ver] : t.seen) {
    auto it = global.find(p);
    const std::optional<std::uint64_t> now = it == global.end() ? std::nullopt : std::optional(it->second.ver);
    if (now != ver) return false;
  }
  std::vector<std::string> mods(t.modified.begin(), t.modified.end());
  std::stable_sort(mods.begin(), mods.end(), [](const auto& a, const auto& b) { return depth(a) < depth(b); });
  for (const auto& p : mods) {
    auto mine = t.view.find(p);
    if (mine != t.view.end()) {
      global[p] = {mine->second.value, mine->second.perms, o.fresh()};
    } else {
      std::erase_if(global, [&](const auto& kv) { return in_subtree(kv.first, p); });
    }
  }
  return true;
}

const store_node* find(const node_ref& root, const std::string& path) {
  const store_node* n = root.get();
  if (path == "/") return n;
  std::size_t start = 1;
  while (n != nullptr) {
    const auto slash = path.find('/', start);
    n = n->children().find(std::string_view(path).substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return n;
}

// Same contents, and generations in one-to-one correspondence with the oracle's versions.
struct gen_map {
  std::map<std::uint64_t, generation_t> o2s;
  std::map<generation_t, std::uint64_t> s2o;
  void same(const node_ref& root, const omodel& m) {
    RC_ASSERT(root->subtree_size() == m.size());
    for (const auto& [p, n] : m) {
      const store_node* s = find(root, p);
      RC_ASSERT(s != nullptr);
      RC_ASSERT(s->value() == n.value);
      RC_ASSERT(s->perms() == n.perms);
      RC_ASSERT(s->children().names() == children(m, p));
      auto [a, ia] = o2s.try_emplace(n.ver, s->generation());
      RC_ASSERT(a->second == s->generation());
      auto [b, ib] = s2o.try_emplace(s->generation(), n.ver);
      RC_ASSERT(b->second == n.ver);
    }
  }
};

std::string gen_path() {
  const auto d = *rc::gen::inRange(0, 4);
  std::string p;
  for (int i = 0; i < d; ++i) p += std::string("/") + "abc"[*rc::gen::inRange(0, 3)];
  return p.empty() ? "/" : p;
}

request gen_request() {
  request r;
  r.kind = static_cast<op>(*rc::gen::inRange(0, 5));
  r.path = gen_path();
  r.value = *rc::gen::container<std::string>(rc::gen::inRange('a', 'd'));
  const auto d = static_cast<domid_t>(*rc::gen::inRange(0, 3));
  r.who = {d, d == 0};
  r.perms = {{static_cast<domid_t>(*rc::gen::inRange(0, 3)), static_cast<perm>(*rc::gen::inRange(0, 4))}};
  return r;
}

xs_result<change_set> run_store(store_transaction* t, store& s, const request& r) {
  switch (r.kind) {
    case op::read: {
      auto n = t ? t->read(r.path) : s.read(r.path);
      if (!n) return xs_fail(n.error());
      return change_set{};
    }
    case op::write:
      return t ? t->write(r.path, r.value, r.who) : s.write(r.path, r.value, r.who);
    case op::mkdir:
      return t ? t->mkdir(r.path, r.who) : s.mkdir(r.path, r.who);
    case op::rm:
      return t ? t->rm(r.path) : s.rm(r.path);
    case op::set_perms:
      return t ? t->set_perms(r.path, r.perms) : s.set_perms(r.path, r.perms);
  }
  return xs_fail(xs_error::eio);
}

RC_GTEST_PROP(transaction_property, CommitSucceedsExactlyWhenTheOracleSaysSo, ()) {
  store s;
  oracle o;
  omodel global{{"/", {"", {{0, perm::none}}, 0}}};
  gen_map gens;
  gens.o2s[0] = 0;
  gens.s2o[0] = 0;
  std::optional<store_transaction> tx[2];
  std::optional<otx> otxs[2];
  std::size_t commits = 0, conflicts = 0;

  const auto steps = *rc::gen::inRange(1, 60);
  for (int step = 0; step < steps; ++step) {
    const auto actor = *rc::gen::inRange(0, 3);  // 0: direct, 1 and 2: transactions
    if (actor == 0) {
      const request r = gen_request();
      RC_LOG() << "direct " << static_cast<int>(r.kind) << " " << r.path << " '" << r.value << "'\n";
      auto got = run_store(nullptr, s, r);
      const auto want = o.run(global, r);
      RC_ASSERT(got.has_value() == !want.has_value());
      if (!got) RC_ASSERT(got.error() == *want);
    } else {
      auto& t = tx[actor - 1];
      auto& ot = otxs[actor - 1];
      if (!t) {
        const std::size_t limit = *rc::gen::element<std::size_t>(0, 4, 8);
        RC_LOG() << "tx" << actor << " begin " << limit << "\n";
        t.emplace(s.begin(limit));
        ot.emplace(otx{global, global, {}, {}, limit});
      } else {
        switch (*rc::gen::inRange(0, 8)) {
          case 0: {  // commit
            RC_LOG() << "tx" << actor << " commit\n";
            auto got = s.commit(std::move(*t));
            const bool want = oracle_commit(o, global, *ot);
            RC_ASSERT(got.has_value() == want);
            if (!got) RC_ASSERT(got.error() == xs_error::eagain);
            ++(want ? commits : conflicts);
            t.reset();
            ot.reset();
            break;
          }
          case 1:  // abort
            t.reset();
            ot.reset();
            break;
          default: {
            const request r = gen_request();
            RC_LOG() << "tx" << actor << " " << static_cast<int>(r.kind) << " " << r.path << " '" << r.value << "'\n";
            auto got = run_store(&*t, s, r);
            const auto want = oracle_tx_request(o, *ot, r);
            RC_ASSERT(got.has_value() == !want.has_value());
            if (!got) RC_ASSERT(got.error() == *want);
            RC_ASSERT(t->touched() == ot->seen.size());
            break;
          }
        }
      }
    }
    gens.same(s.snapshot().root(), global);
    for (int i = 0; i < 2; ++i) {
      if (!tx[i]) continue;
      gens.same(tx[i]->root(), otxs[i]->view);
      // The transaction's delta is its view's usage minus its snapshot's.
      auto view = recount(otxs[i]->view), start = recount(otxs[i]->start);
      usage_delta want;
      for (const auto& [d, u] : view) want[d] = {static_cast<std::int64_t>(u.nodes), static_cast<std::int64_t>(u.memory)};
      for (const auto& [d, u] : start) {
        want[d].nodes -= static_cast<std::int64_t>(u.nodes);
        want[d].memory -= static_cast<std::int64_t>(u.memory);
        if (want[d].zero()) want.erase(d);
      }
      RC_ASSERT(tx[i]->delta() == want);
    }
    auto ok = s.check();
    RC_ASSERT(ok.has_value());
    std::map<domid_t, domain_usage> got(s.usage().begin(), s.usage().end());
    RC_ASSERT(got == recount(global));
  }
  RC_CLASSIFY(commits > 0, "some commit");
  RC_CLASSIFY(conflicts > 0, "some conflict");
}

}  // namespace
}  // namespace xenwire::xenstore
