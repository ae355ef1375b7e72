#include "options.hpp"

#include <getopt.h>
#include <sys/un.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace xenwire::vchan_proxy {

namespace {

// As vchan-socket-proxy's strtoll(…, 0): a whole-string number in any C base is an fd.
std::optional<int> parse_fd(const std::string& s) {
  if (s.empty() || s[0] == '-' || s[0] == '+') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 0);
  if (*end != '\0' || errno != 0 || v > INT_MAX) return std::nullopt;
  return static_cast<int>(v);
}

std::optional<domid_t> parse_domid(const std::string& s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v >= 0x7FF0) return std::nullopt;  // DOMID_FIRST_RESERVED
  return static_cast<domid_t>(v);
}

parse_outcome bad(std::string message) { return parse_outcome{std::nullopt, std::move(message), false}; }

}  // namespace

std::string usage(const char* argv0) {
  std::string u = "usage:\n\t";
  u += argv0;
  u += " [options] domainid nodepath [socket-path|file-no|-]\n"
       "\n"
       "options:\n"
       "\t-m, --mode=client|server - vchan connection mode (client by default)\n"
       "\t-s, --state-path=path    - Xenstore path to write \"running\" to once ready\n"
       "\t-v, --verbose            - verbose logging\n"
       "\t--backend=xen|sim        - transport (default $XENWIRE_BACKEND, else xen where /dev/xen/evtchn\n"
       "\t                           exists, else sim)\n"
       "\n"
       "client: client of a vchan connection; the last argument is\n"
       "\tsocket-path: listen on this UNIX socket and connect to the vchan for each accepted\n"
       "\t             connection, one after another, until terminated\n"
       "\tfile-no:     an open socket in listen mode; otherwise as socket-path\n"
       "\t-:           connect at once and pass data from stdin / to stdout; exit when the vchan\n"
       "\t             closes or stdin ends\n"
       "\n"
       "server: server of a vchan connection; the last argument is\n"
       "\tsocket-path: connect to this UNIX socket when a vchan client connects; an absolute path\n"
       "\t             serves subsequent vchan clients one after another, until terminated\n"
       "\tfile-no:     pass data to/from this fd; exit when the vchan closes\n"
       "\t-:           pass data to/from stdin/stdout; exit when the vchan closes\n";
  return u;
}

parse_outcome parse_options(int argc, char** argv) {
  enum : int { opt_backend = 1000, opt_help };
  static const option long_options[] = {
      {"mode", required_argument, nullptr, 'm'},    {"verbose", no_argument, nullptr, 'v'},
      {"state-path", required_argument, nullptr, 's'}, {"backend", required_argument, nullptr, opt_backend},
      {"help", no_argument, nullptr, opt_help},     {nullptr, 0, nullptr, 0},
  };
  options o;
  std::optional<std::string> backend_name;
  ::optind = 1;
  ::opterr = 0;
  int c = 0;
  while ((c = ::getopt_long(argc, argv, "+m:vs:h", long_options, nullptr)) != -1) {
    switch (c) {
      case 'm':
        if (std::strcmp(::optarg, "server") == 0) {
          o.role = mode::server;
        } else if (std::strcmp(::optarg, "client") == 0) {
          o.role = mode::client;
        } else {
          return bad(std::string("invalid argument for --mode: ") + ::optarg);
        }
        break;
      case 'v': o.verbose = true; break;
      case 's': o.state_path = ::optarg; break;
      case opt_backend: backend_name = ::optarg; break;
      case 'h':
      case opt_help: return parse_outcome{std::nullopt, {}, true};
      default:
        return bad(::optopt != 0 ? std::string("bad option -") + static_cast<char>(::optopt)
                                       : std::string("bad option ") + argv[::optind - 1]);
    }
  }
  if (argc - ::optind != 3) return bad("expected 3 arguments: domainid nodepath socket-path|file-no|-");

  if (backend_name) {
    auto k = backend::parse(*backend_name);
    if (!k) return bad("unknown backend '" + *backend_name + "' (xen or sim)");
    o.backend = *k;
  } else {
    auto k = backend::default_kind();
    if (!k) return bad("$XENWIRE_BACKEND names no backend (xen or sim)");
    o.backend = *k;
  }

  const std::string dom = argv[::optind];
  auto d = parse_domid(dom);
  if (!d) return bad("bad domain id '" + dom + "' (a decimal below 32752)");
  o.domid = *d;
  o.vchan_path = argv[::optind + 1];
  if (o.vchan_path.empty() || o.vchan_path[0] != '/') {
    return bad("bad nodepath '" + o.vchan_path + "' (an absolute Xenstore path)");
  }
  o.local_text = argv[::optind + 2];
  if (o.local_text == "-") {
    o.local = use_stdio{};
  } else if (auto fd = parse_fd(o.local_text)) {
    o.local = use_fd{*fd};
  } else {
    if (o.local_text.size() >= sizeof(sockaddr_un::sun_path)) {
      return bad("UNIX socket path \"" + o.local_text + "\" too long (" + std::to_string(o.local_text.size()) +
                       " >= " + std::to_string(sizeof(sockaddr_un::sun_path)) + ")");
    }
    o.local = use_path{o.local_text};
  }
  return parse_outcome{std::move(o), {}, false};
}

}  // namespace xenwire::vchan_proxy
