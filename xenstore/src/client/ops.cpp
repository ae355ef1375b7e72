#include "xenwire/xenstore/client/ops.hpp"

#include "xenwire/xenstore/args.hpp"
#include "xenwire/xenstore/replies.hpp"

namespace xenwire::xenstore::ops {
namespace {
client_error malformed() noexcept { return make_error_code(errc::protocol_error); }
}  // namespace

client_result<void> parse_ok(std::string_view payload) {
  // C xenstored answers "OK\0"; accept a bare "OK" as older servers did.
  if (is_ok_reply(payload) || payload == "OK") return {};
  return client_fail(malformed());
}

client_result<std::string> parse_string(std::string_view payload) {
  auto s = parse_string_reply(payload);
  if (!s) return client_fail(malformed());
  return std::string(*s);
}

client_result<std::uint32_t> parse_u32_reply(std::string_view payload) {
  auto s = parse_string_reply(payload);
  if (!s) return client_fail(malformed());
  auto n = parse_u32(*s);
  if (!n) return client_fail(malformed());
  return *n;
}

client_result<std::vector<std::string>> parse_names(std::string_view payload) {
  auto list = parse_directory_reply(payload);
  if (!list) return client_fail(malformed());
  return std::vector<std::string>(list->begin(), list->end());
}

client_result<directory_chunk> directory_part::parse(std::string_view p) {
  auto v = parse_directory_part_reply(p);
  if (!v) return client_fail(malformed());
  directory_chunk c;
  c.generation = v->gencnt;
  c.children.assign(v->children.begin(), v->children.end());
  c.complete = v->complete;
  c.next_offset = v->next_offset_delta;
  return c;
}

client_result<node_perms> get_perms::parse(std::string_view p) {
  auto perms = parse_perms(p);
  if (!perms) return client_fail(malformed());
  return std::move(*perms);
}

void set_perms::args(message_writer& w) const {
  w.arg(path);
  std::string wire;
  format_perms(perms, wire);
  w.raw(wire);
}

client_result<bool> is_domain_introduced::parse(std::string_view p) {
  auto b = parse_bool_reply(p);
  if (!b) return client_fail(malformed());
  return *b;
}

client_result<std::vector<std::string>> quota_names::parse(std::string_view p) {
  auto s = parse_string(p);
  if (!s) return client_fail(s.error());
  std::vector<std::string> names;
  std::string_view rest = *s;
  while (!rest.empty()) {
    const auto sp = rest.find(' ');
    if (sp != 0) names.emplace_back(rest.substr(0, sp));
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  return names;
}

client_result<std::string> control::parse(std::string_view p) {
  // Text replies are NUL-terminated; "OK\0" is the plain success.
  if (!p.empty() && p.back() == '\0') p.remove_suffix(1);
  return std::string(p);
}

}  // namespace xenwire::xenstore::ops
