#include "xenwire/xenstore/daemon/daemon_options.hpp"

#include <unistd.h>

#include <cstdlib>
#include <CLI/CLI.hpp>

#include <charconv>
#include <set>
#include <string_view>

#include "xenwire/xenstore/daemon/socket_path.hpp"

namespace xenwire::xenstore {
namespace {

constexpr domid_t domid_first_reserved = 0x7FF0;  // DOMID_FIRST_RESERVED

template <class T>
std::optional<T> parse_number(std::string_view s) {
  T value{};
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc() || p != end || s.empty()) return std::nullopt;
  return value;
}

std::string quota_names(bool soft) {
  std::string names;
  for (const auto& q : quota_table) {
    if (soft && q.soft == 0) continue;
    if (!names.empty()) names += ", ";
    names += q.name;
  }
  return names;
}

// "name=value" for -Q/-q. Soft quotas may be named with or without "soft-".
std::optional<std::string> apply_quota(server_config& config, std::string_view spec, bool soft) {
  const auto eq = spec.find('=');
  if (eq == std::string_view::npos) return "expected NAME=VALUE, got '" + std::string(spec) + "'";
  std::string name(spec.substr(0, eq));
  if (soft && !name.starts_with("soft-")) name.insert(0, "soft-");
  const auto which = parse_quota_name(name);
  if (!which || which->soft != soft)
    return "unknown " + std::string(soft ? "soft " : "") + "quota '" + std::string(spec.substr(0, eq)) +
           "' (known: " + quota_names(soft) + ")";
  const auto value = parse_number<std::uint32_t>(spec.substr(eq + 1));
  if (!value) return "quota " + name + ": '" + std::string(spec.substr(eq + 1)) + "' is not a number";
  config.quotas.set(which->which, which->soft, *value);
  return std::nullopt;
}

std::optional<log_level> parse_level(std::string_view s, bool& ok) {
  ok = true;
  if (s == "trace") return log_level::trace;
  if (s == "debug") return log_level::debug;
  if (s == "info") return log_level::info;
  if (s == "warn" || s == "warning") return log_level::warn;
  if (s == "error") return log_level::error;
  if (s == "off") return std::nullopt;
  ok = false;
  return std::nullopt;
}

}  // namespace

std::optional<guest_socket_spec> parse_guest_socket(std::string_view spec, std::string& why) {
  const auto eq = spec.find('=');
  if (eq == std::string_view::npos) {
    why = "expected DOMID=PATH, got '" + std::string(spec) + "'";
    return std::nullopt;
  }
  const auto domid = parse_number<std::uint32_t>(spec.substr(0, eq));
  if (!domid || *domid == 0 || *domid >= domid_first_reserved) {
    why = "'" + std::string(spec.substr(0, eq)) + "' is not an unprivileged domain id (1.." +
          std::to_string(domid_first_reserved - 1) + ")";
    return std::nullopt;
  }
  const auto path = spec.substr(eq + 1);
  if (!fits_sun_path(path)) {
    why = "'" + std::string(path) + "' is not a usable socket path (empty or too long)";
    return std::nullopt;
  }
  return guest_socket_spec{static_cast<domid_t>(*domid), std::string(path)};
}

tl::expected<daemon_options, cli_exit> parse_daemon_options(int argc, const char* const* argv) {
  daemon_options opts;
  CLI::App app{"xenwire-xenstored: a Xenstore daemon serving Unix sockets (and domains' rings), in the foreground",
               "xenwire-xenstored"};
  std::string socket;
  std::vector<std::string> guests, hard, soft, timeouts;
  std::uint32_t nodes = 0, watches = 0, transactions = 0, perms = 0, path_max = 0, node_size = 0;
  std::uint32_t watch_timeout = 0;
  std::string level;
  bool no_rate_limit = false;

  app.add_option("--socket", socket, "Listening socket (default: $XENSTORED_PATH, $XENSTORED_RUNDIR/socket, "
                                     "/var/run/xenstored/socket)");
  app.add_option("--guest-socket", guests, "D=PATH: clients of PATH act as unprivileged domain D (repeatable)")
      ->type_name("D=PATH");
  if (const char* env = std::getenv("XENWIRE_BACKEND"); env != nullptr && *env != '\0') {
    opts.backend = env;
  } else if (::access("/dev/xen/evtchn", F_OK) == 0) {
    opts.backend = "xen";
  }
  app.add_option("--backend", opts.backend,
                 "Where guests' rings come from: none (sockets only), xen (libxengnttab/libxenevtchn) or sim (the "
                 "simulated host at $XENWIRE_HOST); default $XENWIRE_BACKEND, else xen where /dev/xen/evtchn "
                 "exists, else none")
      ->check(CLI::IsMember({"none", "xen", "sim"}));
  app.add_flag("--read-only", opts.read_only, "Clients of --socket get read-only connections");
  app.add_option("-Q,--quota", hard, "NAME=VALUE: a hard quota (" + quota_names(false) + "); 0 disables it")
      ->type_name("NAME=VALUE");
  app.add_option("-q,--quota-soft", soft, "NAME=VALUE: a soft quota (" + quota_names(true) + ")")
      ->type_name("NAME=VALUE");
  auto* o_nodes = app.add_option("-E,--entry-nb", nodes, "Same as -Q nodes=N");
  auto* o_watches = app.add_option("-W,--watch-nb", watches, "Same as -Q watches=N");
  auto* o_tx = app.add_option("-t,--transaction", transactions, "Same as -Q transactions=N");
  auto* o_perms = app.add_option("-A,--perm-nb", perms, "Same as -Q node-permissions=N");
  auto* o_path = app.add_option("-M,--path-max", path_max, "Same as -Q path-max=N");
  auto* o_size = app.add_option("-S,--entry-size", node_size, "Same as -Q node-size=N");
  auto* o_wet = app.add_option("--watch-event-timeout", watch_timeout,
                               "Seconds an unread watch event of an unprivileged domain is kept (default 20)");
  app.add_option("-w,--timeout", timeouts, "watch-event=SECONDS (C xenstored's spelling)")->type_name("WHAT=SECONDS");
  app.add_flag("--no-rate-limit", no_rate_limit, "Disable the per-domain write rate limit (XSA-206)");
  auto* o_verbose = app.add_flag("-v,--verbose")->description("More log output (-v debug, -vv trace)");
  auto* o_level = app.add_option("--log-level", level, "trace, debug, info (default), warn, error or off");
  app.add_flag("--trace", opts.trace, "Log every message on every connection");
  app.add_flag("-N,--no-fork")->description("Accepted for C xenstored compatibility: this daemon never forks");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return tl::unexpected(cli_exit{0, app.help()});
  } catch (const CLI::ParseError& e) {
    return tl::unexpected(cli_exit{2, std::string(e.what()) + "\nRun with --help for more information."});
  }
  auto bad = [](std::string text) { return tl::unexpected(cli_exit{2, std::move(text)}); };

  if (!socket.empty()) {
    if (!fits_sun_path(socket)) return bad("--socket: '" + socket + "' is too long for a Unix socket path");
    opts.socket_path = socket;
  }
  std::set<std::string> paths;
  std::set<domid_t> domids;
  if (opts.socket_path) paths.insert(*opts.socket_path);
  for (const auto& g : guests) {
    std::string why;
    auto spec = parse_guest_socket(g, why);
    if (!spec) return bad("--guest-socket: " + why);
    if (!paths.insert(spec->path).second) return bad("--guest-socket: path '" + spec->path + "' is used twice");
    if (!domids.insert(spec->domid).second)
      return bad("--guest-socket: domain " + std::to_string(spec->domid) + " has two sockets");
    opts.guest_sockets.push_back(std::move(*spec));
  }

  const std::pair<CLI::Option*, std::pair<quota, std::uint32_t>> aliases[] = {
      {o_nodes, {quota::nodes, nodes}},           {o_watches, {quota::watches, watches}},
      {o_tx, {quota::transactions, transactions}}, {o_perms, {quota::node_permissions, perms}},
      {o_path, {quota::path_max, path_max}},      {o_size, {quota::node_size, node_size}},
  };
  for (const auto& [opt, q] : aliases)
    if (opt->count() > 0) opts.config.quotas.set(q.first, false, q.second);
  for (const auto& spec : hard)
    if (auto err = apply_quota(opts.config, spec, false)) return bad("--quota: " + *err);
  for (const auto& spec : soft)
    if (auto err = apply_quota(opts.config, spec, true)) return bad("--quota-soft: " + *err);

  if (o_wet->count() > 0) opts.config.watch_event_timeout = std::chrono::seconds(watch_timeout);
  for (const auto& t : timeouts) {
    constexpr std::string_view key = "watch-event=";
    const auto secs = t.starts_with(key) ? parse_number<std::uint32_t>(std::string_view(t).substr(key.size()))
                                         : std::nullopt;
    if (!secs) return bad("--timeout: expected watch-event=SECONDS, got '" + t + "'");
    opts.config.watch_event_timeout = std::chrono::seconds(*secs);
  }
  if (no_rate_limit) opts.config.write_rate.enabled = false;

  const auto verbosity = o_verbose->count();
  if (verbosity == 1) opts.log_threshold = log_level::debug;
  if (verbosity >= 2) opts.log_threshold = log_level::trace;
  if (o_level->count() > 0) {
    bool ok = false;
    opts.log_threshold = parse_level(level, ok);
    if (!ok) return bad("--log-level: '" + level + "' is not one of trace, debug, info, warn, error, off");
  }
  return opts;
}

}  // namespace xenwire::xenstore
