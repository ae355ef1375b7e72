#include "xenwire/xenstore/replies.hpp"

#include <charconv>

namespace xenwire::xenstore {

namespace {
constexpr std::string_view ok_payload{"OK\0", 3};
}  // namespace

void write_ok(std::string& out, const header& request) {
  message_writer w(out, request.type, request.req_id, request.tx_id);
  w.raw(ok_payload);
}

void write_error(std::string& out, const header& request, xs_error e) {
  message_writer w(out, msg_type::error, request.req_id, request.tx_id);
  w.arg(name(e));
}

xs_result<void> write_raw_reply(std::string& out, const header& request, std::string_view bytes) {
  message_writer w(out, request.type, request.req_id, request.tx_id);
  w.raw(bytes);
  return w.finish();
}

xs_result<void> write_string_reply(std::string& out, const header& request, std::string_view s) {
  message_writer w(out, request.type, request.req_id, request.tx_id);
  w.arg(s);
  return w.finish();
}

xs_result<void> write_number_reply(std::string& out, const header& request, std::uint64_t n) {
  message_writer w(out, request.type, request.req_id, request.tx_id);
  w.arg(n);
  return w.finish();
}

xs_result<void> write_string_list_reply(std::string& out, const header& request,
                                        std::span<const std::string_view> items) {
  message_writer w(out, request.type, request.req_id, request.tx_id);
  for (auto item : items) w.arg(item);
  return w.finish();
}

xs_result<void> write_perms_reply(std::string& out, const header& request, perms_view perms) {
  message_writer w(out, request.type, request.req_id, request.tx_id);
  for (const auto& e : perms) {
    char entry[8] = {perm_letter(e.access)};
    auto [end, ec] = std::to_chars(entry + 1, entry + sizeof entry, e.domid);
    (void)ec;  // a u16 always fits
    w.arg(std::string_view(entry, static_cast<std::size_t>(end - entry)));
  }
  return w.finish();
}

xs_result<void> write_directory_part_reply(std::string& out, const header& request, std::uint64_t gencnt,
                                           std::string_view children, std::uint32_t offset) {
  if (!children.empty() && children.back() != '\0') return xs_fail(xs_error::einval);
  message_writer w(out, request.type, request.req_id, request.tx_id);
  w.arg(gencnt);
  if (offset >= children.size()) {
    w.arg(std::string_view{});  // past the end: only the terminating empty string
    return w.finish();
  }
  // Whole names from `offset` while they fit, keeping one byte for the final empty string.
  const std::string_view rest = children.substr(offset);
  const std::size_t room = xenstore::payload_max - w.payload_size() - 1;
  std::size_t len = 0;
  while (len < rest.size()) {
    const std::size_t name_len = rest.find('\0', len) - len + 1;
    if (len + name_len > room) break;
    len += name_len;
  }
  if (len == 0) {  // one name larger than a payload: the client could never make progress
    w.cancel();
    return xs_fail(xs_error::e2big);
  }
  w.raw(rest.substr(0, len));
  if (len == rest.size()) w.arg(std::string_view{});
  return w.finish();
}

xs_result<void> write_watch_event(std::string& out, std::string_view path, std::string_view token) {
  message_writer w(out, msg_type::watch_event, 0, 0);
  w.arg(path).arg(token);
  return w.finish();
}

xs_result<watch_event_view> parse_watch_event(std::string_view payload) noexcept {
  auto a = split_exact<2>(payload);
  if (!a) return xs_fail(a.error());
  return watch_event_view{(*a)[0], (*a)[1]};
}

xs_error parse_error_reply(std::string_view payload) noexcept {
  auto a = single_arg(payload);
  if (!a) return xs_error::einval;
  return parse_xs_error(*a).value_or(xs_error::einval);
}

bool is_ok_reply(std::string_view payload) noexcept { return payload == ok_payload; }

xs_result<std::uint32_t> parse_transaction_id(std::string_view payload) noexcept {
  auto a = single_arg(payload);
  if (!a) return xs_fail(a.error());
  return parse_u32(*a);
}

xs_result<bool> parse_bool_reply(std::string_view payload) noexcept {
  auto a = single_arg(payload);
  if (!a) return xs_fail(a.error());
  if (*a == "T") return true;
  if (*a == "F") return false;
  return xs_fail(xs_error::einval);
}

xs_result<directory_part_view> parse_directory_part_reply(std::string_view payload) noexcept {
  auto nul = payload.find('\0');
  if (nul == std::string_view::npos) return xs_fail(xs_error::einval);
  auto gen = parse_u64(payload.substr(0, nul));
  if (!gen) return xs_fail(gen.error());
  std::string_view rest = payload.substr(nul + 1);
  auto list = string_list::parse(rest);
  if (!list) return xs_fail(list.error());
  // The end of the list is marked by an extra empty string, i.e. a trailing "\0\0" (or just "\0").
  bool complete = false;
  if (!rest.empty() && (rest.size() == 1 || rest[rest.size() - 2] == '\0')) {
    complete = true;
    rest.remove_suffix(1);
  }
  if (!complete && rest.empty()) return xs_fail(xs_error::einval);  // no progress possible
  auto children = string_list::parse(rest);
  if (!children) return xs_fail(children.error());
  for (auto c : *children)
    if (c.empty()) return xs_fail(xs_error::einval);  // an empty name anywhere else is malformed
  return directory_part_view{*gen, *children, complete, static_cast<std::uint32_t>(rest.size())};
}

}  // namespace xenwire::xenstore
