// CONTROL (alias DEBUG): C xenstored's control commands. live-update is the adapter's (an effect).
#include <algorithm>
#include <cstdio>

#include "core_state.hpp"
#include "xenwire/xenstore/args.hpp"
#include "xenwire/xenstore/replies.hpp"

namespace xenwire::xenstore::detail {

namespace {

struct control_cmd {
  std::string_view name;
  std::string_view args;
};
constexpr control_cmd control_cmds[] = {
    {"check", ""},
    {"help", ""},
    // xenstore-control's parameters, as C lists them.
    {"live-update", "[-c <cmdline>] [-F] [-t <timeout>] <file>\n    Default timeout is 60 seconds."},
    {"log", "[on|off]"},
    {"memreport", ""},
    {"print", "<string>"},
    {"quota", "[set <name> <val>|<domid>]"},
    {"quota-soft", "[set <name> <val>]"},
};

std::string quota_listing(const quota_values& v, bool soft) {
  std::string s = "Quota settings:\n";
  char line[160];
  for (std::size_t i = 0; i < quota_count; ++i) {
    const quota_info& q = quota_table[i];
    if (soft && q.soft == 0) continue;
    std::snprintf(line, sizeof line, "%-17.*s: %8u %.*s\n", static_cast<int>(q.name.size()), q.name.data(),
                  soft ? v.soft[i] : v.hard[i], static_cast<int>(q.description.size()), q.description.data());
    s += line;
  }
  return s;
}

// atoi(), as C reads -t: leading digits, else 0.
std::uint32_t leading_number(std::string_view s) {
  std::uint64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') break;
    v = std::min<std::uint64_t>(v * 10 + static_cast<unsigned>(ch - '0'), 0xFFFFFFFFU);
  }
  return static_cast<std::uint32_t>(v);
}

}  // namespace

handled core_impl::op_control(connection& c, const header& h, const req::control& r, time_point now) {
  auto params = string_list::parse(r.params);
  if (!params) return xs_fail(xs_error::einval);
  std::vector<std::string_view> args(params->begin(), params->end());
  auto text_reply = [&](const std::string& text) {
    return reply_with(c, h, now, [&](std::string& out) { return write_string_reply(out, h, text); });
  };

  if (r.command == "help") {
    std::string text = "Available commands:\n";
    for (const auto& cmd : control_cmds) {
      text.append(cmd.name).append(" ").append(cmd.args).append("\n");
    }
    return text_reply(text);
  }
  if (r.command == "live-update") return op_live_update(c, h, args);
  if (r.command == "check") {
    if (auto ok = check(); !ok) {
      logf(log_level::error, "CONTROL check: store inconsistent: ", ok.error().message());
      return xs_fail(xs_error::eio);
    }
    reply_ok(c, h, now);
    return {};
  }
  if (r.command == "log") {
    if (args.size() != 1) return xs_fail(xs_error::einval);
    if (args[0] == "on") {
      config.trace = true;
    } else if (args[0] == "off") {
      config.trace = false;
    } else {
      return xs_fail(xs_error::einval);
    }
    reply_ok(c, h, now);
    return {};
  }
  if (r.command == "print") {
    if (args.size() != 1) return xs_fail(xs_error::einval);
    logf(log_level::info, "control: ", args[0]);
    reply_ok(c, h, now);
    return {};
  }
  if (r.command == "memreport") {
    if (!args.empty()) return xs_fail(xs_error::einval);
    std::string text = "domain  nodes  node-bytes  other-bytes  watches  transactions  outstanding\n";
    char line[160];
    std::snprintf(line, sizeof line, "total %zu nodes, %zu connections, %zu watches\n", db.node_count(), conns.size(),
                  watches.total());
    text += line;
    for (const auto& [domid, d] : domains) {
      std::snprintf(line, sizeof line, "%6u %6zu %11zu %12zu %8zu %13zu %12zu\n", domid, db.usage(domid).nodes,
                    db.usage(domid).memory, d.other_memory, d.watches, d.transactions, d.outstanding);
      text += line;
    }
    return text_reply(text);
  }
  if (r.command == "quota" || r.command == "quota-soft") {
    bool soft = r.command == "quota-soft";
    if (args.empty()) return text_reply(quota_listing(config.quotas, soft));
    if (args[0] == "set") {
      if (args.size() != 3) return xs_fail(xs_error::einval);
      auto q = parse_quota_name(args[1]);
      auto v = parse_u32(args[2]);
      if (!q || q->soft || !v || *v == 0) return xs_fail(xs_error::einval);
      if (soft && info(q->which).soft == 0) return xs_fail(xs_error::einval);
      config.quotas.set(q->which, soft, *v);
      reply_ok(c, h, now);
      return {};
    }
    if (soft || args.size() != 1) return xs_fail(xs_error::einval);
    auto domid = parse_domid(args[0]);
    if (!domid) return xs_fail(xs_error::einval);
    const domain_state* d = find_domain(*domid);
    if (!d) return xs_fail(xs_error::enoent);
    std::string text = "Domain " + std::to_string(*domid) + ":\n";
    char line[160];
    auto row = [&](std::string_view name, std::size_t used, std::uint32_t limit) {
      std::snprintf(line, sizeof line, "%-17.*s: %8zu (max %u)\n", static_cast<int>(name.size()), name.data(), used,
                    limit);
      text += line;
    };
    row("nodes", db.usage(*domid).nodes, d->quotas.get(quota::nodes));
    row("watches", d->watches, d->quotas.get(quota::watches));
    row("transactions", d->transactions, d->quotas.get(quota::transactions));
    row("outstanding", d->outstanding, d->quotas.get(quota::outstanding));
    row("memory", db.usage(*domid).memory + d->other_memory, d->quotas.get(quota::memory));
    return text_reply(text);
  }
  return xs_fail(xs_error::einval);
}

handled core_impl::op_live_update(connection& c, const header& h, const std::vector<std::string_view>& args) {
  using cmd = effect::live_update::command;
  effect::live_update e{next_live_update, c.id, cmd::abort, {}, 0, false};
  const std::size_t n = args.size();
  if (n == 0) return xs_fail(xs_error::einval);
  if (args[0] == "-a" && n == 1) {
    e.cmd = cmd::abort;
  } else if ((args[0] == "-c" || args[0] == "-f") && n == 2) {
    e.cmd = args[0] == "-c" ? cmd::cmdline : cmd::binary;
    e.value = args[1];
  } else if (args[0] == "-s") {
    e.cmd = cmd::start;
    for (std::size_t i = 1; i < n; ++i) {
      if (args[i] == "-F") {
        e.force = true;
      } else if (args[i] == "-t" && i + 1 < n) {
        e.timeout = leading_number(args[++i]);
      } else {
        return xs_fail(xs_error::einval);
      }
    }
  } else {
    return xs_fail(xs_error::einval);  // C's stubdom-only -b/-d too
  }
  ++next_live_update;
  live_updates.push_back({e.token, c.id, h});
  c.awaiting_live_update = true;
  effects.emplace_back(std::move(e));
  return {};
}

result<void> core_impl::complete_live_update(live_update_token token, std::string_view text, time_point now) {
  auto it = std::find_if(live_updates.begin(), live_updates.end(),
                         [token](const pending_live_update& p) { return p.token == token; });
  if (it == live_updates.end()) return fail(errc::invalid_argument);
  const pending_live_update p = *it;
  live_updates.erase(it);
  connection* c = find(p.requester);
  if (!c) return fail(errc::invalid_argument);
  c->awaiting_live_update = false;
  (void)reply_with(*c, p.h, now, [&](std::string& out) { return write_string_reply(out, p.h, text); });
  mark_ready(*c);  // it may be read again even if the reply could not be encoded
  return {};
}

}  // namespace xenwire::xenstore::detail
