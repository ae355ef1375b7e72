// Server limits: C xenstored's quota names and defaults (tools/xenstored/domain.c), settable
// globally (command line, SET_QUOTA "name\0value\0") and per domain (SET_QUOTA "domid\0name\0value\0").
// The one place that decides these facts. A value of 0 disables a check.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace xenwire::xenstore {

enum class quota : std::uint8_t {
  nodes,              // nodes owned per domain
  watches,            // watches per domain
  outstanding,        // requests whose replies are not yet consumed
  memory,             // bytes per domain: nodes, watches, transactions, queued output
  transactions,       // open transactions per domain
  transaction_nodes,  // nodes accessed per transaction
  node_permissions,   // permission entries per node
  path_max,           // path length after removing the domain's home prefix
  node_size,          // perms + child names + data of one node
};
inline constexpr std::size_t quota_count = 9;

struct quota_info {
  std::string_view name;
  std::string_view description;
  std::uint32_t hard;
  std::uint32_t soft;  // 0 = no soft quota (only memory has one)
};

inline constexpr std::array<quota_info, quota_count> quota_table = {{
    {"nodes", "Nodes per domain", 1000, 0},
    {"watches", "Watches per domain", 128, 0},
    {"outstanding", "Outstanding requests per domain", 20, 0},
    {"memory", "Total Xenstore memory per domain", 2 * 1024 * 1024 + 512 * 1024, 2 * 1024 * 1024},
    {"transactions", "Active transactions per domain", 10, 0},
    {"transaction-nodes", "Max. number of accessed nodes per transaction", 1024, 0},
    {"node-permissions", "Max. number of permissions per node", 5, 0},
    {"path-max", "Max. length of a node path", 2048, 0},
    {"node-size", "Max. size of a node", 2048, 0},
}};

constexpr const quota_info& info(quota q) noexcept { return quota_table[static_cast<std::size_t>(q)]; }

// "nodes" → quota::nodes; "soft-memory" → (quota::memory, soft=true).
struct quota_name {
  quota which;
  bool soft;
};
constexpr std::optional<quota_name> parse_quota_name(std::string_view s) noexcept {
  bool soft = false;
  if (s.starts_with("soft-")) {
    soft = true;
    s.remove_prefix(5);
  }
  for (std::size_t i = 0; i < quota_table.size(); ++i) {
    if (quota_table[i].name == s) {
      if (soft && quota_table[i].soft == 0) return std::nullopt;  // no soft variant
      return quota_name{static_cast<quota>(i), soft};
    }
  }
  return std::nullopt;
}

struct quota_values {
  std::array<std::uint32_t, quota_count> hard{};
  std::array<std::uint32_t, quota_count> soft{};
  static constexpr quota_values defaults() noexcept {
    quota_values v;
    for (std::size_t i = 0; i < quota_count; ++i) {
      v.hard[i] = quota_table[i].hard;
      v.soft[i] = quota_table[i].soft;
    }
    return v;
  }
  constexpr std::uint32_t get(quota q, bool is_soft = false) const noexcept {
    return (is_soft ? soft : hard)[static_cast<std::size_t>(q)];
  }
  constexpr void set(quota q, bool is_soft, std::uint32_t value) noexcept {
    (is_soft ? soft : hard)[static_cast<std::size_t>(q)] = value;
  }
};

// Write rate limiting (XSA-206), C xenstored's defaults: credits per domain refill at `rate`/s up
// to `domain_burst`; a global reserve of `global_burst` is shared.
struct rate_limit {
  std::uint32_t rate = 200;
  std::uint32_t domain_burst = 10;
  std::uint32_t global_burst = 1000;
  bool enabled = true;
};

struct server_config {
  quota_values quotas = quota_values::defaults();
  rate_limit write_rate{};
  // Unread watch events of unprivileged domains are dropped after this long (C: 20 s).
  std::chrono::milliseconds watch_event_timeout{20'000};
  // Domains with full rights besides dom0 (a control domain other than 0, if any).
  std::optional<std::uint16_t> control_domain{};
  // The server's feature word for rings (RECONNECTION | ERROR | WATCHDEPTH | DOMID_ANY).
  std::uint32_t ring_features = 1 | 2 | 4 | 8;
  // Log every request at log_level::trace (the daemon's --trace).
  bool trace = false;
};

}  // namespace xenwire::xenstore
