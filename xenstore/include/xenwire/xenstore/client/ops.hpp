// One struct per Xenstore request: how its arguments are written and how its reply is read.
// client::call(op) sends one blocking; client::call_async(op) returns a future or calls back.
// Ops own their arguments (std::string), so an async call never points into the caller's memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xenwire/ring/transport.hpp"
#include "xenwire/xenstore/client/error.hpp"
#include "xenwire/xenstore/perms.hpp"
#include "xenwire/xenstore/wire.hpp"

namespace xenwire::xenstore {

using tx_id = std::uint32_t;
inline constexpr tx_id no_transaction = 0;

// A DIRECTORY_PART chunk.
struct directory_chunk {
  std::uint64_t generation = 0;
  std::vector<std::string> children;
  bool complete = false;         // the list's end was included
  std::uint32_t next_offset = 0;  // offset for the next request
};

namespace ops {

// Reply readers shared by the ops.
client_result<void> parse_ok(std::string_view payload);
client_result<std::string> parse_string(std::string_view payload);
client_result<std::uint32_t> parse_u32_reply(std::string_view payload);
client_result<std::vector<std::string>> parse_names(std::string_view payload);

struct read {
  static constexpr msg_type type = msg_type::read;
  using value_type = std::string;
  std::string path;
  void args(message_writer& w) const { w.arg(path); }
  static client_result<std::string> parse(std::string_view p) { return std::string(p); }
};
struct write {
  static constexpr msg_type type = msg_type::write;
  using value_type = void;
  std::string path, value;
  void args(message_writer& w) const { w.arg(path).raw(value); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
struct mkdir {
  static constexpr msg_type type = msg_type::mkdir;
  using value_type = void;
  std::string path;
  void args(message_writer& w) const { w.arg(path); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
struct rm {
  static constexpr msg_type type = msg_type::rm;
  using value_type = void;
  std::string path;
  void args(message_writer& w) const { w.arg(path); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
// Plain DIRECTORY: E2BIG for a list over 4096 bytes (client::directory falls back to parts).
struct directory {
  static constexpr msg_type type = msg_type::directory;
  using value_type = std::vector<std::string>;
  std::string path;
  void args(message_writer& w) const { w.arg(path); }
  static client_result<value_type> parse(std::string_view p) { return parse_names(p); }
};
struct directory_part {
  static constexpr msg_type type = msg_type::directory_part;
  using value_type = directory_chunk;
  std::string path;
  std::uint32_t offset = 0;
  void args(message_writer& w) const { w.arg(path).arg(offset); }
  // next_offset is relative to the reply alone; client code adds the request's offset.
  static client_result<directory_chunk> parse(std::string_view p);
};
struct get_perms {
  static constexpr msg_type type = msg_type::get_perms;
  using value_type = node_perms;
  std::string path;
  void args(message_writer& w) const { w.arg(path); }
  static client_result<node_perms> parse(std::string_view p);
};
struct set_perms {
  static constexpr msg_type type = msg_type::set_perms;
  using value_type = void;
  std::string path;
  node_perms perms;
  void args(message_writer& w) const;
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
struct watch {
  static constexpr msg_type type = msg_type::watch;
  using value_type = void;
  std::string path, token;
  std::optional<std::uint32_t> depth;
  void args(message_writer& w) const {
    w.arg(path).arg(token);
    if (depth) w.arg(*depth);
  }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
struct unwatch {
  static constexpr msg_type type = msg_type::unwatch;
  using value_type = void;
  std::string path, token;
  void args(message_writer& w) const { w.arg(path).arg(token); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
struct transaction_start {
  static constexpr msg_type type = msg_type::transaction_start;
  using value_type = tx_id;
  void args(message_writer& w) const { w.arg(""); }
  static client_result<tx_id> parse(std::string_view p) { return parse_u32_reply(p); }
};
// Sent with the transaction's id as the message's tx_id (client::call(op, tx)).
struct transaction_end {
  static constexpr msg_type type = msg_type::transaction_end;
  using value_type = void;
  bool commit = true;
  void args(message_writer& w) const { w.arg(commit ? "T" : "F"); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
struct introduce {
  static constexpr msg_type type = msg_type::introduce;
  using value_type = void;
  domid_t domid = 0;
  std::uint64_t gfn = 0;
  evtchn_port_t port = 0;
  void args(message_writer& w) const { w.arg(domid).arg(gfn).arg(port); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
struct release {
  static constexpr msg_type type = msg_type::release;
  using value_type = void;
  domid_t domid = 0;
  void args(message_writer& w) const { w.arg(domid); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
struct resume {
  static constexpr msg_type type = msg_type::resume;
  using value_type = void;
  domid_t domid = 0;
  void args(message_writer& w) const { w.arg(domid); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
struct is_domain_introduced {
  static constexpr msg_type type = msg_type::is_domain_introduced;
  using value_type = bool;
  domid_t domid = 0;
  void args(message_writer& w) const { w.arg(domid); }
  static client_result<bool> parse(std::string_view p);
};
struct get_domain_path {
  static constexpr msg_type type = msg_type::get_domain_path;
  using value_type = std::string;
  domid_t domid = 0;
  void args(message_writer& w) const { w.arg(domid); }
  static client_result<std::string> parse(std::string_view p) { return parse_string(p); }
};
struct set_target {
  static constexpr msg_type type = msg_type::set_target;
  using value_type = void;
  domid_t domid = 0, target = 0;
  void args(message_writer& w) const { w.arg(domid).arg(target); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
struct reset_watches {
  static constexpr msg_type type = msg_type::reset_watches;
  using value_type = void;
  void args(message_writer& w) const { w.arg(""); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
// Without a domid: the caller's own ring features.
struct get_feature {
  static constexpr msg_type type = msg_type::get_feature;
  using value_type = std::uint32_t;
  std::optional<domid_t> domid;
  void args(message_writer& w) const {
    if (domid) w.arg(*domid);
  }
  static client_result<std::uint32_t> parse(std::string_view p) { return parse_u32_reply(p); }
};
struct set_feature {
  static constexpr msg_type type = msg_type::set_feature;
  using value_type = void;
  domid_t domid = 0;
  std::uint32_t value = 0;
  void args(message_writer& w) const { w.arg(domid).arg(value); }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
// The names of the quotas in force (space-separated on the wire).
struct quota_names {
  static constexpr msg_type type = msg_type::get_quota;
  using value_type = std::vector<std::string>;
  void args(message_writer&) const {}
  static client_result<value_type> parse(std::string_view p);
};
// Without a domid: the global value.
struct get_quota {
  static constexpr msg_type type = msg_type::get_quota;
  using value_type = std::uint32_t;
  std::optional<domid_t> domid;
  std::string name;
  void args(message_writer& w) const {
    if (domid) w.arg(*domid);
    w.arg(name);
  }
  static client_result<std::uint32_t> parse(std::string_view p) { return parse_u32_reply(p); }
};
struct set_quota {
  static constexpr msg_type type = msg_type::set_quota;
  using value_type = void;
  std::optional<domid_t> domid;
  std::string name;
  std::uint32_t value = 0;
  void args(message_writer& w) const {
    if (domid) w.arg(*domid);
    w.arg(name).arg(value);
  }
  static client_result<void> parse(std::string_view p) { return parse_ok(p); }
};
// CONTROL "cmd\0arg\0...": the reply as text ("OK" for a plain success).
struct control {
  static constexpr msg_type type = msg_type::control;
  using value_type = std::string;
  std::string command;
  std::vector<std::string> params;
  void args(message_writer& w) const {
    w.arg(command);
    for (const auto& p : params) w.arg(p);
  }
  static client_result<std::string> parse(std::string_view p);
};

}  // namespace ops
}  // namespace xenwire::xenstore
