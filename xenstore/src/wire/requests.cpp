#include "xenwire/xenstore/requests.hpp"

namespace xenwire::xenstore {

namespace {

constexpr auto einval = xs_error::einval;

// Ops without arguments: the spec writes "|" (one empty string); C xenstored ignores the payload.
// Accept exactly "" or "\0" and nothing else.
bool is_no_arg(std::string_view payload) noexcept {
  return payload.empty() || payload == std::string_view("\0", 1);
}

template <class T>
xs_result<request> path_op(std::string_view payload) {
  auto a = single_arg(payload);
  if (!a) return xs_fail(a.error());
  return T{*a};
}

template <class T>
xs_result<request> domid_op(std::string_view payload) {
  auto a = single_arg(payload);
  if (!a) return xs_fail(a.error());
  auto d = parse_domid(*a);
  if (!d) return xs_fail(d.error());
  return T{*d};
}

xs_result<request> parse_control(std::string_view payload) {
  auto nul = payload.find('\0');
  if (nul == std::string_view::npos || nul == 0) return xs_fail(einval);  // a command is required
  return req::control{payload.substr(0, nul), payload.substr(nul + 1)};
}

xs_result<request> parse_watch(std::string_view payload) {
  const auto n = count_strings(payload);
  if (n == 2) {
    auto a = split_exact<2>(payload);
    return req::watch{(*a)[0], (*a)[1], std::nullopt};
  }
  if (n == 3) {  // depth: XENSTORE_SERVER_FEATURE_WATCHDEPTH
    auto a = split_exact<3>(payload);
    auto depth = parse_u32((*a)[2]);
    if (!depth) return xs_fail(einval);
    return req::watch{(*a)[0], (*a)[1], *depth};
  }
  return xs_fail(einval);
}

xs_result<request> parse_unwatch(std::string_view payload) {
  auto a = split_exact<2>(payload);
  if (!a) return xs_fail(a.error());
  return req::unwatch{(*a)[0], (*a)[1]};
}

xs_result<request> parse_transaction_end(std::string_view payload) {
  auto a = single_arg(payload);
  if (!a) return xs_fail(a.error());
  if (*a == "T") return req::transaction_end{true};
  if (*a == "F") return req::transaction_end{false};
  return xs_fail(einval);
}

xs_result<request> parse_introduce(std::string_view payload) {
  auto a = split_exact<3>(payload);
  if (!a) return xs_fail(a.error());
  auto domid = parse_domid((*a)[0]);
  auto gfn = parse_u64((*a)[1]);
  auto port = parse_u32((*a)[2]);
  if (!domid || !gfn || !port) return xs_fail(einval);
  return req::introduce{*domid, *gfn, *port};
}

xs_result<request> parse_write(std::string_view payload) {
  // "path\0value": the value is raw bytes, not NUL-terminated, and may itself hold NULs.
  auto nul = payload.find('\0');
  if (nul == std::string_view::npos) return xs_fail(einval);
  return req::write{payload.substr(0, nul), payload.substr(nul + 1)};
}

xs_result<request> parse_set_perms(std::string_view payload) {
  auto nul = payload.find('\0');
  if (nul == std::string_view::npos) return xs_fail(einval);
  auto perms = parse_perms(payload.substr(nul + 1));  // one or more entries, strictly
  if (!perms) return xs_fail(perms.error());
  return req::set_perms{payload.substr(0, nul), std::move(*perms)};
}

xs_result<request> parse_set_target(std::string_view payload) {
  auto a = split_exact<2>(payload);
  if (!a) return xs_fail(a.error());
  auto domid = parse_domid((*a)[0]);
  auto target = parse_domid((*a)[1]);
  if (!domid || !target) return xs_fail(einval);
  return req::set_target{*domid, *target};
}

xs_result<request> parse_directory_part(std::string_view payload) {
  auto a = split_exact<2>(payload);
  if (!a) return xs_fail(a.error());
  auto off = parse_u32((*a)[1]);
  if (!off) return xs_fail(einval);
  return req::directory_part{(*a)[0], *off};
}

xs_result<request> parse_get_feature(std::string_view payload) {
  if (payload.empty()) return req::get_feature{std::nullopt};
  auto a = single_arg(payload);
  if (!a) return xs_fail(a.error());
  auto d = parse_domid(*a);
  if (!d) return xs_fail(einval);
  return req::get_feature{*d};
}

xs_result<request> parse_set_feature(std::string_view payload) {
  auto a = split_exact<2>(payload);
  if (!a) return xs_fail(a.error());
  auto d = parse_domid((*a)[0]);
  auto v = parse_u32((*a)[1]);
  if (!d || !v) return xs_fail(einval);
  return req::set_feature{*d, *v};
}

bool valid_quota_name(std::string_view q) noexcept { return !q.empty(); }

xs_result<request> parse_get_quota(std::string_view payload) {
  const auto n = count_strings(payload);
  if (n == 0) return req::get_quota{std::nullopt, std::nullopt};
  if (n == 1) {
    auto a = split_exact<1>(payload);
    if (!valid_quota_name((*a)[0])) return xs_fail(einval);
    return req::get_quota{std::nullopt, (*a)[0]};
  }
  if (n == 2) {
    auto a = split_exact<2>(payload);
    auto d = parse_domid((*a)[0]);
    if (!d || !valid_quota_name((*a)[1])) return xs_fail(einval);
    return req::get_quota{*d, (*a)[1]};
  }
  return xs_fail(einval);
}

xs_result<request> parse_set_quota(std::string_view payload) {
  const auto n = count_strings(payload);
  if (n == 2) {
    auto a = split_exact<2>(payload);
    auto v = parse_u32((*a)[1]);
    if (!v || !valid_quota_name((*a)[0])) return xs_fail(einval);
    return req::set_quota{std::nullopt, (*a)[0], *v};
  }
  if (n == 3) {
    auto a = split_exact<3>(payload);
    auto d = parse_domid((*a)[0]);
    auto v = parse_u32((*a)[2]);
    if (!d || !v || !valid_quota_name((*a)[1])) return xs_fail(einval);
    return req::set_quota{*d, (*a)[1], *v};
  }
  return xs_fail(einval);
}

}  // namespace

xs_result<request> parse_request(std::uint32_t type, std::string_view payload) {
  const auto t = to_msg_type(type);
  if (!t) return xs_fail(xs_error::enosys);
  switch (*t) {
    case msg_type::control: return parse_control(payload);
    case msg_type::directory: return path_op<req::directory>(payload);
    case msg_type::read: return path_op<req::read>(payload);
    case msg_type::get_perms: return path_op<req::get_perms>(payload);
    case msg_type::watch: return parse_watch(payload);
    case msg_type::unwatch: return parse_unwatch(payload);
    case msg_type::transaction_start:
      if (!is_no_arg(payload)) return xs_fail(einval);
      return req::transaction_start{};
    case msg_type::transaction_end: return parse_transaction_end(payload);
    case msg_type::introduce: return parse_introduce(payload);
    case msg_type::release: return domid_op<req::release>(payload);
    case msg_type::get_domain_path: return domid_op<req::get_domain_path>(payload);
    case msg_type::write: return parse_write(payload);
    case msg_type::mkdir: return path_op<req::mkdir>(payload);
    case msg_type::rm: return path_op<req::rm>(payload);
    case msg_type::set_perms: return parse_set_perms(payload);
    case msg_type::is_domain_introduced: return domid_op<req::is_domain_introduced>(payload);
    case msg_type::resume: return domid_op<req::resume>(payload);
    case msg_type::set_target: return parse_set_target(payload);
    case msg_type::reset_watches:
      if (!is_no_arg(payload)) return xs_fail(einval);
      return req::reset_watches{};
    case msg_type::directory_part: return parse_directory_part(payload);
    case msg_type::get_feature: return parse_get_feature(payload);
    case msg_type::set_feature: return parse_set_feature(payload);
    case msg_type::get_quota: return parse_get_quota(payload);
    case msg_type::set_quota: return parse_set_quota(payload);
    case msg_type::watch_event:  // server-to-client only
    case msg_type::error:
    case msg_type::invalid:
      break;
  }
  return xs_fail(xs_error::enosys);
}

}  // namespace xenwire::xenstore
