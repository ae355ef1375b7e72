// xenwire-xenstore: Xenstore from the command line, over xenwire's client library.
// Results go to stdout, errors (naming the path and the Xenstore error) to stderr.
// Exit codes: 0 success, 1 the operation failed (or `exists` found nothing), 2 usage error.
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "ls_printer.hpp"
#include "text.hpp"
#include "xenwire/xenstore/args.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/client/helpers.hpp"

namespace xs = xenwire::xenstore;
using namespace std::chrono_literals;

namespace {

constexpr const char* prog = "xenwire-xenstore";
constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2;

std::atomic<bool> interrupted{false};
extern "C" void on_signal(int) { interrupted.store(true); }

struct globals {
  std::string socket;  // empty: $XENSTORED_PATH & co., then the xenbus device
  bool json = false;
  unsigned timeout_ms = 30'000;
};

int failed(const std::string& what, const xs::client_error& e) {
  std::fprintf(stderr, "%s: %s: %s\n", prog, what.c_str(), xs::tools::describe(e).c_str());
  return exit_failed;
}

int usage_error(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", prog, what.c_str());
  return exit_usage;
}

std::optional<xs::client> connect(const globals& g, int& rc) {
  const xs::client_options opts{.timeout = std::chrono::milliseconds(g.timeout_ms), .watch_queue_limit = 1024};
  const std::string where = g.socket.empty() ? xs::default_socket_path() : g.socket;
  auto conn = g.socket.empty() ? xs::connect_default() : xs::connect_unix_socket(g.socket);
  if (!conn) {
    rc = failed("cannot connect to " + where, conn.error());
    return std::nullopt;
  }
  auto c = xs::client::open(std::move(*conn), opts);
  if (!c) {
    rc = failed("cannot open a client on " + where, c.error());
    return std::nullopt;
  }
  return std::move(*c);
}

// "b0", "r5", ...: typed with perms.hpp's parser.
std::optional<xs::node_perms> parse_perm_args(const std::vector<std::string>& args, std::string& bad) {
  xs::node_perms perms;
  for (const auto& a : args) {
    auto e = xs::parse_perm_entry(a);
    if (!e) {
      bad = a;
      return std::nullopt;
    }
    perms.push_back(*e);
  }
  return perms;
}

std::string perms_text(const xs::node_perms& perms, bool json) {
  std::string s = json ? "[" : "";
  for (std::size_t i = 0; i < perms.size(); ++i) {
    if (i) s += json ? "," : " ";
    if (json) {
      s += "{\"domid\":" + std::to_string(perms[i].domid) + ",\"perm\":\"" + xs::perm_letter(perms[i].access) + "\"}";
    } else {
      s += xs::perm_letter(perms[i].access);
      s += std::to_string(perms[i].domid);
    }
  }
  return json ? s + "]" : s;
}

int terminal_width() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 2) return ws.ws_col - 2;
  return 80;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Read and change Xenstore through xenwire's client library.", prog};
  app.require_subcommand(1);
  globals g;
  app.add_option("--socket", g.socket, "Daemon socket (default: $XENSTORED_PATH, $XENSTORED_RUNDIR/socket, "
                                       "/var/run/xenstored/socket, then /dev/xen/xenbus)");
  app.add_flag("--json", g.json, "Machine-readable output");
  app.add_option("--timeout", g.timeout_ms, "Milliseconds to wait for each reply (default 30000)");

  std::vector<std::string> paths;
  std::vector<std::string> pairs;
  std::string path;
  std::vector<std::string> perm_args;
  bool full = false, show_perms = false, prefix = false, recurse = false;
  std::optional<std::uint32_t> depth;
  std::optional<unsigned> count;
  unsigned domid = 0, port = 0;
  std::uint64_t gfn = 0;
  std::optional<unsigned> quota_domain;
  std::string quota_name;
  std::optional<std::uint32_t> quota_value;

  auto* read = app.add_subcommand("read", "Print the values of nodes (escaped as xenstore-read does)");
  read->add_option("path", paths, "Nodes to read")->required();
  read->add_flag("-p,--prefix", prefix, "Prefix each value with its path");
  auto* write = app.add_subcommand("write", "Write values: PATH VALUE [PATH VALUE ...]");
  write->add_option("pairs", pairs, "Paths and values, alternating")->required();
  auto* ls = app.add_subcommand("ls", "Print a subtree as Debian's xenstore-ls does");
  ls->add_option("path", path, "Root of the listing (default /)");
  ls->add_flag("-f,--full", full, "Whole paths, values not cut to the terminal's width");
  ls->add_flag("-p,--perms", show_perms, "Show permissions");
  auto* list = app.add_subcommand("list", "Print the children of a node, one per line");
  list->add_option("path", paths, "Nodes to list")->required();
  list->add_flag("-p,--prefix", prefix, "Prefix each child with its parent's path");
  auto* rm = app.add_subcommand("rm", "Remove nodes and everything below them");
  rm->add_option("path", paths, "Nodes to remove")->required();
  auto* mkdir = app.add_subcommand("mkdir", "Create nodes with empty values (and their parents)");
  mkdir->add_option("path", paths, "Nodes to create")->required();
  auto* exists = app.add_subcommand("exists", "Exit 0 if every node exists, else 1");
  exists->add_option("path", paths, "Nodes to look for")->required();
  auto* chmod = app.add_subcommand("chmod", "Set a node's permissions: PATH PERM... (first entry: owner)");
  chmod->add_option("path", path, "Node")->required();
  chmod->add_option("perms", perm_args, "Entries <n|r|w|b><domid>, e.g. n0 r5")->required();
  chmod->add_flag("-r,--recurse", recurse, "Apply to every node below too");
  auto* getperms = app.add_subcommand("getperms", "Print a node's permissions");
  getperms->add_option("path", path, "Node")->required();
  auto* watch = app.add_subcommand("watch", "Print the path of every change below a node until interrupted");
  watch->add_option("path", path, "Node (or @introduceDomain / @releaseDomain)")->required();
  watch->add_option("-n,--count", count, "Stop after this many events (the first one included)");
  watch->add_option("--depth", depth, "Only changes at most this many levels below the node");
  auto* introduce = app.add_subcommand("introduce", "Tell the daemon about a domain's ring: DOMID GFN PORT");
  introduce->add_option("domid", domid)->required()->check(CLI::Range(0, 0x7fef));
  introduce->add_option("gfn", gfn)->required();
  introduce->add_option("port", port)->required();
  auto* release = app.add_subcommand("release", "Tell the daemon a domain is gone");
  release->add_option("domid", domid)->required()->check(CLI::Range(0, 0x7fef));
  auto* domain_path = app.add_subcommand("get-domain-path", "Print a domain's home path");
  domain_path->add_option("domid", domid)->required()->check(CLI::Range(0, 0xffff));
  auto* quota = app.add_subcommand("quota", "List quota names, or get / set one: [NAME [VALUE]]");
  quota->add_option("name", quota_name, "Quota (see the list without arguments)");
  quota->add_option("value", quota_value, "New value (0 disables the check)");
  quota->add_option("--domain", quota_domain, "A domain's quota instead of the global one")->check(CLI::Range(0, 0xffff));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);  // prints the message and a hint to stderr
    return exit_usage;
  }
  if (write->parsed() && pairs.size() % 2 != 0) return usage_error("write: expected PATH VALUE pairs");
  if (quota->parsed() && quota_value && quota_name.empty()) return usage_error("quota: a value needs a name");

  int rc = exit_ok;
  auto c = connect(g, rc);
  if (!c) return rc;
  std::FILE* out = stdout;

  if (read->parsed()) {
    std::string json = "{";
    for (const auto& p : paths) {
      auto v = c->read(p);
      if (!v) return failed("read " + p, v.error());
      if (g.json) {
        json += (json.size() > 1 ? "," : "") + xs::tools::json_string(p) + ":" + xs::tools::json_string(*v);
      } else {
        std::fprintf(out, "%s%s\n", prefix ? (p + ": ").c_str() : "", xs::tools::sanitise_value(*v).c_str());
      }
    }
    if (g.json) std::fprintf(out, "%s}\n", json.c_str());
  } else if (write->parsed()) {
    for (std::size_t i = 0; i < pairs.size(); i += 2) {
      if (auto r = c->write(pairs[i], pairs[i + 1]); !r) return failed("write " + pairs[i], r.error());
    }
  } else if (ls->parsed()) {
    const xs::tools::ls_options opt{.full_paths = full, .perms = show_perms, .json = g.json, .width = terminal_width()};
    const std::string root = path.empty() ? "/" : path;
    if (auto r = xs::tools::print_tree(*c, root, opt, out); !r) return failed("ls " + root, r.error());
  } else if (list->parsed()) {
    std::string json = "{";
    for (const auto& p : paths) {
      auto kids = c->directory(p);
      if (!kids) return failed("list " + p, kids.error());
      if (g.json) {
        json += std::string(json.size() > 1 ? "," : "") + xs::tools::json_string(p) + ":[";
        for (std::size_t i = 0; i < kids->size(); ++i) json += (i ? "," : "") + xs::tools::json_string((*kids)[i]);
        json += "]";
      } else {
        for (const auto& k : *kids) std::fprintf(out, "%s%s\n", prefix ? (p + "/").c_str() : "", k.c_str());
      }
    }
    if (g.json) std::fprintf(out, "%s}\n", json.c_str());
  } else if (rm->parsed()) {
    for (const auto& p : paths)
      if (auto r = c->rm(p); !r) return failed("rm " + p, r.error());
  } else if (mkdir->parsed()) {
    for (const auto& p : paths)
      if (auto r = c->mkdir(p); !r) return failed("mkdir " + p, r.error());
  } else if (exists->parsed()) {
    bool all = true;
    for (const auto& p : paths) {
      auto r = c->exists(p);
      if (!r) return failed("exists " + p, r.error());
      all = all && *r;
    }
    if (g.json) std::fprintf(out, "{\"exists\":%s}\n", all ? "true" : "false");
    return all ? exit_ok : exit_failed;
  } else if (chmod->parsed()) {
    std::string bad;
    auto perms = parse_perm_args(perm_args, bad);
    if (!perms) return usage_error("chmod: invalid permission '" + bad + "' (expected n, r, w or b and a domid, e.g. r5)");
    std::vector<std::string> todo{path};
    while (!todo.empty()) {  // breadth-first with our own queue: no recursion on store-shaped data
      const std::string p = todo.back();
      todo.pop_back();
      if (auto r = c->set_perms(p, *perms); !r) return failed("chmod " + p, r.error());
      if (!recurse) break;
      auto kids = c->directory(p);
      if (!kids) return failed("chmod " + p, kids.error());
      for (const auto& k : *kids) todo.push_back(p + (p == "/" ? "" : "/") + k);
    }
  } else if (getperms->parsed()) {
    auto perms = c->get_perms(path);
    if (!perms) return failed("getperms " + path, perms.error());
    std::fprintf(out, "%s\n", perms_text(*perms, g.json).c_str());
  } else if (watch->parsed()) {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    auto w = c->add_watch(path, {.depth = depth, .queue_limit = 1024, .token = {}});
    if (!w) return failed("watch " + path, w.error());
    unsigned seen = 0;
    while (!interrupted.load() && (!count || seen < *count)) {
      auto e = w->next(200ms);
      if (!e) {
        if (e.error().is(xenwire::errc::timed_out)) continue;
        return failed("watch " + path, e.error());
      }
      if (e->overflow()) {
        std::fprintf(stderr, "%s: watch %s: %llu events dropped (queue full)\n", prog, path.c_str(),
                     static_cast<unsigned long long>(e->dropped));
        if (g.json) std::fprintf(out, "{\"dropped\":%llu}\n", static_cast<unsigned long long>(e->dropped));
      } else if (g.json) {
        std::fprintf(out, "{\"path\":%s}\n", xs::tools::json_string(e->path).c_str());
        ++seen;
      } else {
        std::fprintf(out, "%s\n", e->path.c_str());
        ++seen;
      }
      std::fflush(out);
    }
    (void)w->unwatch();
  } else if (introduce->parsed()) {
    if (auto r = c->introduce(static_cast<xenwire::domid_t>(domid), gfn, port); !r)
      return failed("introduce domain " + std::to_string(domid), r.error());
  } else if (release->parsed()) {
    if (auto r = c->release(static_cast<xenwire::domid_t>(domid)); !r)
      return failed("release domain " + std::to_string(domid), r.error());
  } else if (domain_path->parsed()) {
    auto p = c->get_domain_path(static_cast<xenwire::domid_t>(domid));
    if (!p) return failed("get-domain-path " + std::to_string(domid), p.error());
    std::fprintf(out, g.json ? "{\"path\":%s}\n" : "%s\n", g.json ? xs::tools::json_string(*p).c_str() : p->c_str());
  } else if (quota->parsed()) {
    std::optional<xenwire::domid_t> dom;
    if (quota_domain) dom = static_cast<xenwire::domid_t>(*quota_domain);
    const std::string who = dom ? " of domain " + std::to_string(*dom) : "";
    if (quota_name.empty()) {
      auto names = c->quota_names();
      if (!names) return failed("quota", names.error());
      std::string json = "[";
      for (const auto& n : *names) {
        if (g.json) {
          json += (json.size() > 1 ? "," : "") + xs::tools::json_string(n);
        } else {
          std::fprintf(out, "%s\n", n.c_str());
        }
      }
      if (g.json) std::fprintf(out, "%s]\n", json.c_str());
    } else if (quota_value) {
      if (auto r = c->set_quota(quota_name, *quota_value, dom); !r) return failed("quota " + quota_name + who, r.error());
    } else {
      auto v = c->get_quota(quota_name, dom);
      if (!v) return failed("quota " + quota_name + who, v.error());
      if (g.json) {
        std::fprintf(out, "{%s:%u}\n", xs::tools::json_string(quota_name).c_str(), *v);
      } else {
        std::fprintf(out, "%u\n", *v);
      }
    }
  }
  return std::fflush(out) == 0 ? exit_ok : exit_failed;
}
