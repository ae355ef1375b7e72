#include "xenwire/xenstore/daemon/daemon_options.hpp"

#include <unistd.h>

#include <cstdlib>
#include <CLI/CLI.hpp>

#include <charconv>
#include <filesystem>
#include <map>
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
  CLI::App app{"xenwire-xenstored: a Xenstore daemon serving Unix sockets (and domains' rings); like C xenstored it "
               "forks and detaches once serving unless -N/--no-fork is given",
               "xenwire-xenstored"};
  app.set_help_flag("-h,-H,--help", "Print this help message and exit");
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
  const std::map<std::string, daemon_settings::socket_io> io_names{{"auto", daemon_settings::socket_io::automatic},
                                                                 {"uring", daemon_settings::socket_io::uring},
                                                                 {"epoll", daemon_settings::socket_io::epoll}};
  app.add_option("--socket-io", opts.socket_io,
                 "How socket clients are served: uring (one io_uring_enter per batch of requests), epoll (a recv "
                 "and a send per request) or auto (default: uring where the kernel allows it)")
      ->transform(CLI::CheckedTransformer(io_names, CLI::ignore_case))
      ->type_name("auto|uring|epoll");
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
  auto* o_verbose = app.add_flag("-v,-V,--verbose")->description("More log output (-v/-V debug, -vv trace)");
  auto* o_level = app.add_option("--log-level", level, "trace, debug, info (default), warn, error or off");
  app.add_flag("--trace", opts.trace, "Log every message on every connection");

  // C xenstored 4.17's process options.
  bool no_fork = false;
  std::string pid_file, trace_file, internal_db;
  std::uint32_t event_port = 0, master_domid = 0, priv_domid = 0;
  bool no_recovery = false, keep_orphans = false;
  app.add_flag("-N,--no-fork", no_fork, "Stay in the foreground (default: fork and detach once serving, as C xenstored)");
  app.add_option("-F,--pid-file", pid_file, "Write the serving process's pid to FILE (removed again at exit)")
      ->type_name("FILE");
  app.add_option("-T,--trace-file", trace_file,
                 "Append a line per message to FILE, as C xenstored does; SIGHUP reopens it")
      ->type_name("FILE");
  app.add_flag("-P,--output-pid", opts.output_pid, "Print the serving process's pid on stdout once serving");
  app.add_flag("-D,--no-domain-init", opts.no_domain_init, "Do not serve the dom0 kernel's Xenstore ring");
  app.add_flag("-U,--live-update", opts.live_update, "Restore a live-update state ($XENSTORED_RUNDIR/state_dump; the previous daemon's fds)");
  std::string check_state;
  auto* o_check = app.add_option("--live-update-check", check_state,
                                 "Only check that FILE is a live-update state this daemon accepts (exit 0 or 1)")
                      ->type_name("FILE");
  app.add_flag("-R,--no-recovery", no_recovery, "Accepted for C xenstored compatibility (no effect: no database)");
  auto* o_idb = app.add_option("-I,--internal-db", internal_db,
                               "Accepted for C xenstored compatibility (the store is always in memory)")
                    ->expected(0, 1)
                    ->type_name("[on|off]");
  app.add_flag("-K,--keep-orphans", keep_orphans,
               "Accepted for C xenstored compatibility, not honoured: a released domain's nodes are deleted");
  auto* o_event = app.add_option("--event", event_port, "Accepted for C xenstored compatibility (stub domains only)");
  auto* o_master = app.add_option("--master-domid", master_domid, "Only 0 is supported (stub domains only)");
  auto* o_priv = app.add_option("--priv-domid", priv_domid, "Only 0 is supported (stub domains only)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return tl::unexpected(cli_exit{0, app.help()});
  } catch (const CLI::ParseError& e) {
    return tl::unexpected(cli_exit{2, std::string(e.what()) + "\nRun with --help for more information."});
  }
  auto bad = [](std::string text) { return tl::unexpected(cli_exit{2, std::move(text)}); };
  if (o_check->count() > 0) opts.live_update_check = check_state;

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

  opts.daemonize = !no_fork;
  // Absolute, so that the daemon still finds them after it changed directory to /.
  auto absolute_file = [](const std::string& name) { return std::filesystem::absolute(name).lexically_normal().string(); };
  if (!pid_file.empty()) opts.pid_file = absolute_file(pid_file);
  if (!trace_file.empty()) opts.trace_file = absolute_file(trace_file);
  if (no_recovery) opts.notices.emplace_back("-R/--no-recovery has no effect: the store lives in memory, there is no database to recover");
  if (o_idb->count() > 0) {
    if (!internal_db.empty() && internal_db != "on" && internal_db != "off")
      return bad("--internal-db: expected on or off, got '" + internal_db + "'");
    opts.notices.emplace_back(internal_db == "off"
                                  ? "-I/--internal-db off has no effect: there is no on-disk database, the store is always in memory"
                                  : "-I/--internal-db has no effect: the store is always in memory");
  }
  if (keep_orphans)
    opts.notices.emplace_back("-K/--keep-orphans has no effect: a released domain's nodes are always deleted (XSA-419)");
  if (o_event->count() > 0)
    opts.notices.emplace_back("--event has no effect: it names a stub domain's xenbus port; in dom0 the kernel's port is used");
  if (o_master->count() > 0) {
    if (master_domid != 0) return bad("--master-domid: only 0 is supported (other values are for a xenstore stub domain)");
    opts.notices.emplace_back("--master-domid 0 has no effect: domain 0 is the master domain");
  }
  if (o_priv->count() > 0) {
    if (priv_domid != 0) return bad("--priv-domid: only 0 is supported (other values are for a xenstore stub domain)");
    opts.notices.emplace_back("--priv-domid 0 has no effect: domain 0 is the privileged domain");
  }

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
