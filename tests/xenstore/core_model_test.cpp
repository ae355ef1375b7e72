// Model-based test: random command sequences from dom0 and two guests run against the server core and
// against a small reference model (a map path -> {value, perms}, C xenstored's permission rules, the
// watch rules as plain loops). Replies must match exactly; each step's watch events must match as a
// multiset per connection; the whole tree must match at the end.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core_harness.hpp"
#include "xenwire/xenstore/path.hpp"

namespace xenwire::xenstore::testing {
namespace {

using H = core_harness;

// ---------------------------------------------------------------------------------------------
// Commands

enum class op : std::uint8_t { write, read, mkdir, rm, directory, get_perms, set_perms, watch, unwatch, start, end };

// Few paths, so that commands collide: shared dom0 nodes, a guest's home, relative names.
const std::array<const char*, 7> paths = {"/a", "/a/b", "/a/b/c", "/local/domain/5/x", "/local/domain/5", "x", "x/y"};
const std::array<std::vector<std::string>, 7> perm_lists = {{{"b0"},
                                                             {"n0", "r5"},
                                                             {"n5", "b6"},
                                                             {"n5"},
                                                             {"n6", "r5", "w0"},
                                                             {"r0", "n6"},
                                                             {"n0", "b5", "w6"}}};
const std::array<const char*, 3> values = {"", "v1", "v2"};
const std::array<const char*, 2> tokens = {"t1", "t2"};

struct cmd {
  int conn;  // 0 dom0 socket, 1 guest 5, 2 guest 6
  op what;
  int path;
  int arg;  // value, perms or token index
  bool in_tx;
  bool commit;
};

std::ostream& operator<<(std::ostream& os, const cmd& c) {
  static const char* names[] = {"write", "read", "mkdir", "rm", "directory", "get_perms", "set_perms",
                                "watch", "unwatch", "start", "end"};
  return os << "{conn " << c.conn << " " << names[static_cast<int>(c.what)] << " " << paths[c.path] << " arg "
            << c.arg << (c.in_tx ? " tx" : "") << (c.commit ? " commit" : "") << "}";
}

}  // namespace
}  // namespace xenwire::xenstore::testing

namespace rc {
template <>
struct Arbitrary<xenwire::xenstore::testing::cmd> {
  static Gen<xenwire::xenstore::testing::cmd> arbitrary() {
    using xenwire::xenstore::testing::cmd;
    using xenwire::xenstore::testing::op;
    return gen::build<cmd>(gen::set(&cmd::conn, gen::inRange(0, 3)),
                           gen::set(&cmd::what, gen::weightedElement<op>({{4, op::write},
                                                                         {2, op::read},
                                                                         {1, op::mkdir},
                                                                         {2, op::rm},
                                                                         {1, op::directory},
                                                                         {1, op::get_perms},
                                                                         {4, op::set_perms},
                                                                         {2, op::watch},
                                                                         {1, op::unwatch},
                                                                         {1, op::start},
                                                                         {1, op::end}})),
                           gen::set(&cmd::path, gen::inRange(0, 7)), gen::set(&cmd::arg, gen::inRange(0, 7)),
                           gen::set(&cmd::in_tx, gen::arbitrary<bool>()), gen::set(&cmd::commit, gen::arbitrary<bool>()));
  }
};
}  // namespace rc

namespace xenwire::xenstore::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// The reference model

struct pe {
  char c;  // n r w b
  int domid;
  friend bool operator==(const pe&, const pe&) = default;
};
using perms_t = std::vector<pe>;

perms_t parse_perms(const std::vector<std::string>& v) {
  perms_t p;
  for (auto& s : v) p.push_back({s[0], std::stoi(s.substr(1))});
  return p;
}
std::string perms_payload(const perms_t& p) {
  std::string s;
  for (auto& e : p) s += e.c + std::to_string(e.domid) + '\0';
  return s;
}

struct node {
  std::string value;
  perms_t perms;
};
using tree = std::map<std::string, node>;

std::optional<std::string> parent_of(const std::string& p) {
  if (p == "/") return std::nullopt;
  auto i = p.rfind('/');
  return i == 0 ? std::string("/") : p.substr(0, i);
}
bool under(const std::string& child, const std::string& anc) {  // child == anc or below it
  if (anc == "/") return true;
  return child == anc || (child.size() > anc.size() && child.compare(0, anc.size(), anc) == 0 && child[anc.size()] == '/');
}

struct who {
  int domid;
  bool priv;
};
// C's perm_for_conn: privileged all; the owner all; else its own entry, else the owner entry's flag.
bool can(const perms_t& p, who w, char want) {
  if (w.priv || p[0].domid == w.domid) return true;
  char f = p[0].c;
  for (std::size_t i = 1; i < p.size(); ++i)
    if (p[i].domid == w.domid) {
      f = p[i].c;
      break;
    }
  if (f == 'b') return true;
  return f == want;
}

struct watch_t {
  int conn;
  std::string node;
  std::string token;
  std::size_t prefix;
};

struct change {  // for events, possibly deferred to a commit
  enum kind { changed, removed } k;
  std::string path;
  std::optional<perms_t> old_perms;
  bool root = true;  // removed: the rm's root (subtree match) or a descendant (exact)
};

struct model {
  tree t;
  std::vector<watch_t> watches;
  struct tx_state {
    tree view;
    std::uint64_t start_gen;
    std::vector<change> log;
  };
  std::map<int, tx_state> tx;  // per connection (at most one)
  std::uint64_t gen = 0;       // bumps on every committed change

  static who who_of(int conn) { return conn == 0 ? who{0, true} : who{conn == 1 ? 5 : 6, false}; }

  model() {
    t["/"] = {"", {{'n', 0}}};
    t["/local"] = {"", {{'n', 0}}};
    t["/local/domain"] = {"", {{'n', 0}}};
    t["/local/domain/5"] = {"", {{'n', 5}}};
    t["/local/domain/6"] = {"", {{'n', 6}}};
  }

  // An existing node needs `want`; a missing one is ENOENT if its nearest existing ancestor grants
  // `want`, else EACCES.
  static std::string check(const tree& t, const std::string& p, who w, char want) {
    if (auto it = t.find(p); it != t.end()) return can(it->second.perms, w, want) ? "" : "EACCES";
    std::string up = p;
    while (auto par = parent_of(up)) {
      up = *par;
      if (auto it = t.find(up); it != t.end()) return can(it->second.perms, w, want) ? "ENOENT" : "EACCES";
    }
    return "ENOENT";
  }

  static std::vector<std::string> children(const tree& t, const std::string& p) {
    std::vector<std::string> out;
    std::string pre = p == "/" ? "/" : p + "/";
    for (auto it = t.lower_bound(pre); it != t.end() && it->first.compare(0, pre.size(), pre) == 0; ++it)
      if (it->first.find('/', pre.size()) == std::string::npos) out.push_back(it->first.substr(pre.size()));
    std::sort(out.begin(), out.end());
    return out;
  }

  // Creates `p` and missing parents (inherit the parent's perms, unprivileged creators own them).
  static void create(tree& t, const std::string& p, const std::string& value, who w) {
    std::vector<std::string> missing;
    for (std::string up = p; !t.contains(up); up = *parent_of(up)) missing.push_back(up);
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      perms_t perms = t.at(*parent_of(*it)).perms;
      if (!w.priv) perms[0].domid = w.domid;
      t[*it] = {"", perms};
    }
    t[p].value = value;
  }

  bool permitted(int conn, const std::string& name, const std::optional<perms_t>& old) const {
    who w = who_of(conn);
    if (w.priv) return true;
    if (old && can(*old, w, 'r')) return true;
    if (auto it = t.find(name); it != t.end()) {
      if (can(it->second.perms, w, 'r')) return true;
    } else if (!old) {
      return false;
    }
    auto par = parent_of(name);
    if (!par) return false;
    auto it = t.find(*par);
    return it != t.end() && can(it->second.perms, w, 'r');
  }

  void fire(const change& ch, std::map<int, std::set<std::pair<std::string, std::string>>>& out) const {
    for (const auto& wt : watches) {
      bool match = (ch.k == change::removed && !ch.root) ? wt.node == ch.path : under(ch.path, wt.node);
      if (match && permitted(wt.conn, ch.path, ch.old_perms))
        out[wt.conn].insert({ch.path.substr(wt.prefix), wt.token});
    }
  }
};

struct outcome {
  std::string reply;  // "E:<errno>" or the payload
  std::map<int, std::set<std::pair<std::string, std::string>>> events;
};

std::string resolve(int conn, const std::string& p) {
  if (p[0] == '/') return p;
  int domid = conn == 0 ? 0 : (conn == 1 ? 5 : 6);
  return domain_home(static_cast<domid_t>(domid)) + "/" + p;
}

// Runs one command on the model.
outcome model_step(model& m, const cmd& c) {
  outcome o;
  who w = model::who_of(c.conn);
  const std::string sent = paths[c.path];
  const std::string p = resolve(c.conn, sent);
  auto txit = m.tx.find(c.conn);
  const bool in_tx = c.in_tx && txit != m.tx.end();
  tree& t = in_tx ? txit->second.view : m.t;
  std::vector<change> changes;
  auto err = [&](const std::string& e) { o.reply = "E:" + e; };
  auto ok = [&] { o.reply = std::string("OK\0", 3); };

  switch (c.what) {
    case op::read:
    case op::directory:
    case op::get_perms: {
      auto e = model::check(t, p, w, 'r');
      if (!e.empty()) return err(e), o;
      const node& n = t.at(p);
      if (c.what == op::read) {
        o.reply = n.value;
      } else if (c.what == op::get_perms) {
        o.reply = perms_payload(n.perms);
      } else {
        for (auto& k : model::children(t, p)) o.reply += k + '\0';
      }
      break;
    }
    case op::write:
    case op::mkdir: {
      auto e = model::check(t, p, w, 'w');
      if (e == "EACCES") return err(e), o;
      if (c.what == op::mkdir && e.empty()) return ok(), o;
      if (e.empty()) {
        t[p].value = values[c.arg % values.size()];
      } else {
        model::create(t, p, c.what == op::write ? values[c.arg % values.size()] : "", w);
      }
      changes.push_back({change::changed, p, std::nullopt});
      ok();
      break;
    }
    case op::rm: {
      auto e = model::check(t, p, w, 'w');
      if (e == "EACCES") return err(e), o;
      if (e == "ENOENT") {
        auto par = parent_of(p);
        if (par && t.contains(*par)) return ok(), o;
        return err("ENOENT"), o;
      }
      if (p == "/") return err("EINVAL"), o;
      for (auto it = t.lower_bound(p); it != t.end() && under(it->first, p);) {
        changes.push_back({change::removed, it->first, it->second.perms, it->first == p});
        it = t.erase(it);
      }
      ok();
      break;
    }
    case op::set_perms: {
      auto e = model::check(t, p, w, 'w');
      if (!e.empty()) return err(e), o;
      node& n = t.at(p);
      if (!w.priv && n.perms[0].domid != w.domid) return err("EACCES"), o;
      perms_t np = parse_perms(perm_lists[c.arg % perm_lists.size()]);
      if (!w.priv && np[0].domid != n.perms[0].domid) return err("EPERM"), o;
      changes.push_back({change::changed, p, n.perms});
      n.perms = np;
      ok();
      break;
    }
    case op::watch: {
      std::string tok = tokens[c.arg % tokens.size()];
      for (auto& wt : m.watches)
        if (wt.conn == c.conn && wt.node == p && wt.token == tok) return err("EEXIST"), o;
      std::size_t prefix = sent[0] == '/' ? 0 : p.size() - sent.size();
      m.watches.push_back({c.conn, p, tok, prefix});
      o.events[c.conn].insert({sent, tok});
      ok();
      return o;
    }
    case op::unwatch: {
      std::string tok = tokens[c.arg % tokens.size()];
      auto it = std::find_if(m.watches.begin(), m.watches.end(),
                             [&](const watch_t& wt) { return wt.conn == c.conn && wt.node == p && wt.token == tok; });
      if (it == m.watches.end()) return err("ENOENT"), o;
      m.watches.erase(it);
      ok();
      return o;
    }
    case op::start:
    case op::end:
      break;  // handled by the driver: ids and conflicts
  }
  if (in_tx) {
    auto& log = txit->second.log;
    log.insert(log.end(), changes.begin(), changes.end());
  } else if (!changes.empty()) {
    ++m.gen;
    for (auto& ch : changes) m.fire(ch, o.events);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The driver

struct system_under_test {
  core_harness h;
  conn_id conns[3];
  std::uint32_t tx_id[3] = {0, 0, 0};

  static server_config cfg() {
    server_config c;
    c.write_rate.enabled = false;  // time stands still in this test
    return c;
  }
  system_under_test() : h(cfg()) {
    conns[0] = h.dom0();
    conns[1] = h.guest(5);
    conns[2] = h.guest(6);
  }

  outcome run(const cmd& c) {
    conn_id id = conns[c.conn];
    const std::string sent = paths[c.path];
    std::uint32_t tx = c.in_tx ? tx_id[c.conn] : 0;
    reply r;
    switch (c.what) {
      case op::write: r = h.write(id, sent, values[c.arg % values.size()], tx); break;
      case op::read: r = h.read(id, sent, tx); break;
      case op::mkdir: r = h.mkdir(id, sent, tx); break;
      case op::rm: r = h.rm(id, sent, tx); break;
      case op::directory: r = h.directory(id, sent, tx); break;
      case op::get_perms: r = h.get_perms(id, sent, tx); break;
      case op::set_perms: r = h.set_perms(id, sent, perm_lists[c.arg % perm_lists.size()], tx); break;
      case op::watch: r = h.watch(id, sent, tokens[c.arg % tokens.size()]); break;
      case op::unwatch: r = h.unwatch(id, sent, tokens[c.arg % tokens.size()]); break;
      case op::start: r = h.request(id, msg_type::transaction_start, std::string_view("\0", 1)); break;
      case op::end:
        r = h.request(id, msg_type::transaction_end, c.commit ? std::string_view("T\0", 2) : std::string_view("F\0", 2),
                      tx_id[c.conn]);
        break;
    }
    outcome o;
    o.reply = r.is_error() ? "E:" + r.error() : r.payload;
    for (int i = 0; i < 3; ++i) {
      h.drain(conns[i]);
      for (auto& e : h.events(conns[i])) o.events[i].insert({e.path, e.token});
    }
    return o;
  }
};

std::string show(const outcome& o) {
  std::ostringstream s;
  std::string r = o.reply;
  std::replace(r.begin(), r.end(), '\0', '|');
  s << "reply '" << r << "' events:";
  for (auto& [c, evs] : o.events)
    for (auto& [p, t] : evs) s << " [" << c << " " << p << " " << t << "]";
  return s.str();
}

// Walks the core's tree as dom0 into a model-shaped map.
tree dump(core_harness& h) {
  tree out;
  std::vector<std::string> todo{"/"};
  while (!todo.empty()) {
    std::string p = todo.back();
    todo.pop_back();
    node n;
    n.value = h.read(h.dom0(), p).payload;
    std::vector<std::string> entries = H::split(h.get_perms(h.dom0(), p).payload);
    n.perms = parse_perms(entries);
    out[p] = n;
    for (auto& k : H::split(h.directory(h.dom0(), p).payload))
      if (!k.empty()) todo.push_back(p == "/" ? "/" + k : p + "/" + k);
  }
  return out;
}

bool same_tree(const tree& a, const tree& b) {
  if (a.size() != b.size()) return false;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib)
    if (ia->first != ib->first || ia->second.value != ib->second.value || !(ia->second.perms == ib->second.perms))
      return false;
  return true;
}

RC_GTEST_PROP(CoreModel, CommandSequencesMatchTheReferenceModel, ()) {
  const auto cmds = *rc::gen::container<std::vector<cmd>>(rc::gen::arbitrary<cmd>());
  system_under_test sut;
  model m;
  RC_ASSERT(same_tree(dump(sut.h), m.t));
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    const cmd& c = cmds[i];
    outcome got = sut.run(c);
    outcome want;
    if (c.what == op::start) {
      if (m.tx.contains(c.conn)) {
        // A second transaction: allowed by the protocol; end it at once to keep one per connection.
        RC_ASSERT(got.reply.rfind("E:", 0) != 0);
        sut.h.request(sut.conns[c.conn], msg_type::transaction_end, std::string_view("F\0", 2),
                      static_cast<std::uint32_t>(std::stoul(got.reply.c_str())));
        continue;
      }
      RC_ASSERT(got.reply.rfind("E:", 0) != 0);
      sut.tx_id[c.conn] = static_cast<std::uint32_t>(std::stoul(got.reply.c_str()));
      m.tx[c.conn] = {m.t, m.gen, {}};
      RC_ASSERT(got.events.empty());
      continue;
    }
    if (c.what == op::end) {
      auto it = m.tx.find(c.conn);
      if (it == m.tx.end()) {
        RC_ASSERT(got.reply == "E:ENOENT");
        continue;
      }
      model::tx_state st = std::move(it->second);
      m.tx.erase(it);
      sut.tx_id[c.conn] = 0;
      if (!c.commit) {
        RC_ASSERT(got.reply == std::string("OK\0", 3));
        RC_ASSERT(got.events.empty());
        continue;
      }
      if (st.start_gen == m.gen) RC_ASSERT(got.reply == std::string("OK\0", 3));  // nothing else happened
      if (got.reply == "E:EAGAIN") {
        RC_ASSERT(got.events.empty());
        continue;
      }
      RC_ASSERT(got.reply == std::string("OK\0", 3));
      // Apply what the transaction changed relative to its snapshot: the nodes it named, and the
      // ancestors it created on the way. An ancestor that exists is not the transaction's to
      // change: copying the snapshot's version would undo a concurrent change to it (say its perms).
      std::set<std::string> changed, ancestors;
      for (auto& ch : st.log) {
        changed.insert(ch.path);
        std::string up = ch.path;
        while (auto par = parent_of(up)) {
          ancestors.insert(*par);
          up = *par;
        }
      }
      for (auto& path : changed) {
        auto in_view = st.view.find(path);
        if (in_view == st.view.end()) {
          m.t.erase(path);
        } else {
          m.t[path] = in_view->second;
        }
      }
      for (auto& path : ancestors) {
        if (changed.contains(path) || m.t.contains(path)) continue;
        if (auto in_view = st.view.find(path); in_view != st.view.end()) m.t[path] = in_view->second;
      }
      for (auto it2 = m.t.begin(); it2 != m.t.end();) {  // descendants of removed nodes
        auto par = parent_of(it2->first);
        if (par && !m.t.contains(*par)) {
          it2 = m.t.erase(it2);
        } else {
          ++it2;
        }
      }
      if (!st.log.empty()) ++m.gen;
      for (auto& ch : st.log) m.fire(ch, want.events);
      RC_ASSERT(got.events == want.events);
      continue;
    }
    want = model_step(m, c);
    if (got.reply != want.reply || got.events != want.events) {
      std::ostringstream s;
      for (std::size_t j = 0; j <= i; ++j) s << "  " << cmds[j] << "\n";
      RC_FAIL("step " + std::to_string(i) + " " + [&] {
        std::ostringstream x;
        x << c;
        return x.str();
      }() + "\n  core:  " + show(got) + "\n  model: " + show(want) + "\nsequence:\n" + s.str());
    }
  }
  // End every open transaction (abort) and compare the whole tree.
  for (int i = 0; i < 3; ++i)
    if (m.tx.contains(i)) sut.h.end(sut.conns[i], sut.tx_id[i], false);
  RC_ASSERT(same_tree(dump(sut.h), m.t));
  RC_ASSERT(static_cast<bool>(sut.h.core().check()));
}

}  // namespace
}  // namespace xenwire::xenstore::testing
