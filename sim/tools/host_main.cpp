// xenwire-host: starts, inspects and stops a cross-process simulated Xen host, and runs programs
// as its domains (with the libxen emulation in front, so Xen's own binaries run unchanged).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "host_commands.hpp"

namespace {

constexpr const char* usage = R"(usage: xenwire-host [--host NAME] COMMAND ...

A simulated Xen host across processes: one host process owns the grant tables and event channels,
every process that joins is one process of one domain, and dom0's xenstored serves them all.

commands:
  start [--foreground] [--xenstored PROGRAM [ARGS...]]
        start the host and dom0's xenstored (default xenwire-xenstored; another PROGRAM, e.g. Xen's
        C xenstored with -N, runs on the libxen emulation and sees dom0's /proc/xen: xsd_kva,
        xsd_port); prints the host's socket
  stop  destroy every domain, stop xenstored and the host; prints the leak report (exit 1 if any)
  ls    every domain with its grants and ports
  run --domid N [--] CMD [ARGS...]
        run CMD as a process of domain N with XENWIRE_HOST, XENWIRE_DOMID, XENSTORED_PATH (dom0)
        and the libxen emulation set up; exits as CMD. A domain that does not exist is created
        for CMD and dies with it; an existing one (dom0, a built guest) lives on
  build --domid N
        build guest N as a toolstack does: Xenstore page at grant ref 1, an unbound port for dom0,
        /local/domain/N with name and domid, INTRODUCE to the host's xenstored
  destroy N
        destroy domain N (a crash: xenstored and its peers see it die)

options:
  --host NAME   which host (default: default); its files live in $XENWIRE_RUN_DIR/NAME
  -h, --help    this text

exit status: 0 done, 1 failed, 2 bad usage
)";

int bad_usage(const std::string& why) {
  std::fprintf(stderr, "xenwire-host: %s\n(see xenwire-host --help)\n", why.c_str());
  return 2;
}

bool parse_domid(std::string_view s, xenwire::domid_t& out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v >= xenwire::domid_first_reserved) return false;
  out = static_cast<xenwire::domid_t>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = xenwire::simhost_cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string name = "default";
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    if (args[i] == "-h" || args[i] == "--help") {
      std::fputs(usage, stdout);
      return 0;
    }
    if (args[i] == "--host") {
      if (i + 1 >= args.size()) return bad_usage("--host needs a NAME");
      name = args[++i];
    } else if (args[i].rfind("--host=", 0) == 0) {
      name = args[i].substr(7);
    } else {
      break;
    }
  }
  if (i >= args.size()) return bad_usage("no command");
  auto paths = xenwire::sim::paths_for(name);
  if (!paths) return bad_usage("bad host name '" + name + "' (1 to 32 of A-Z a-z 0-9 _ . -)");
  const std::string command = args[i++];
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  for (const auto& a : rest) {
    if (a == "-h" || a == "--help") {
      if (command == "run" || command == "start") break;  // may belong to the program
      std::fputs(usage, stdout);
      return 0;
    }
  }

  auto want_domid = [&](xenwire::domid_t& d) -> bool {
    if (rest.size() >= 2 && rest[0] == "--domid" && parse_domid(rest[1], d)) {
      rest.erase(rest.begin(), rest.begin() + 2);
      return true;
    }
    if (!rest.empty() && rest[0].rfind("--domid=", 0) == 0 && parse_domid(rest[0].substr(8), d)) {
      rest.erase(rest.begin());
      return true;
    }
    return false;
  };

  if (command == "start") {
    bool foreground = false;
    std::vector<std::string> xenstored;
    for (std::size_t k = 0; k < rest.size(); ++k) {
      if (rest[k] == "--foreground") {
        foreground = true;
      } else if (rest[k] == "--xenstored") {
        if (k + 1 >= rest.size()) return bad_usage("--xenstored needs a PROGRAM");
        xenstored.assign(rest.begin() + static_cast<std::ptrdiff_t>(k + 1), rest.end());
        break;
      } else {
        return bad_usage("start: unknown argument '" + rest[k] + "'");
      }
    }
    return cli::start(*paths, foreground, std::move(xenstored));
  }
  if (command == "stop" || command == "ls") {
    if (!rest.empty()) return bad_usage(command + " takes no arguments");
    return command == "stop" ? cli::stop(*paths) : cli::list(*paths);
  }
  if (command == "run") {
    xenwire::domid_t d = 0;
    if (!want_domid(d)) return bad_usage("run needs --domid N (0 to 32751)");
    if (!rest.empty() && rest[0] == "--") rest.erase(rest.begin());
    if (rest.empty()) return bad_usage("run needs a command");
    return cli::run(*paths, d, rest);
  }
  if (command == "build") {
    xenwire::domid_t d = 0;
    if (!want_domid(d) || d == 0 || !rest.empty()) return bad_usage("build needs --domid N (1 to 32751)");
    return cli::build(*paths, d);
  }
  if (command == "destroy") {
    xenwire::domid_t d = 0;
    if (rest.size() != 1 || !parse_domid(rest[0], d) || d == 0) return bad_usage("destroy needs a domid (1 to 32751)");
    return cli::destroy(*paths, d);
  }
  return bad_usage("unknown command '" + command + "'");
}
