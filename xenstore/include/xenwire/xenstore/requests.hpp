// Request payloads decoded per message type (docs/misc/xenstore.txt), with exact argument counts.
// Paths are returned as sent (relative or absolute, syntax unchecked): resolve them with path.hpp,
// which needs the caller's domain. Every string_view points into the payload it was parsed from.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "xenwire/base/ids.hpp"
#include "xenwire/xenstore/args.hpp"
#include "xenwire/xenstore/errors.hpp"
#include "xenwire/xenstore/perms.hpp"
#include "xenwire/xenstore/wire.hpp"

namespace xenwire::xenstore::req {

struct control { std::string_view command; std::string_view params; };  // params: raw bytes after "cmd\0"
struct directory { std::string_view path; };
struct read { std::string_view path; };
struct get_perms { std::string_view path; };
struct watch { std::string_view path; std::string_view token; std::optional<std::uint32_t> depth; };
struct unwatch { std::string_view path; std::string_view token; };
struct transaction_start {};
struct transaction_end { bool commit; };  // "T\0" commits, "F\0" aborts
struct introduce { domid_t domid; std::uint64_t gfn; evtchn_port_t evtchn; };
struct release { domid_t domid; };
struct get_domain_path { domid_t domid; };
struct write { std::string_view path; std::string_view value; };  // value: raw bytes, may hold NULs
struct mkdir { std::string_view path; };
struct rm { std::string_view path; };
struct set_perms { std::string_view path; node_perms perms; };
struct is_domain_introduced { domid_t domid; };
struct resume { domid_t domid; };
struct set_target { domid_t domid; domid_t target; };
struct reset_watches {};
struct directory_part { std::string_view path; std::uint32_t offset; };
struct get_feature { std::optional<domid_t> domid; };  // none: the caller's own features
struct set_feature { domid_t domid; std::uint32_t value; };
struct get_quota { std::optional<domid_t> domid; std::optional<std::string_view> quota; };  // no quota: list names
struct set_quota { std::optional<domid_t> domid; std::string_view quota; std::uint32_t value; };

}  // namespace xenwire::xenstore::req

namespace xenwire::xenstore {

using request = std::variant<req::control, req::directory, req::read, req::get_perms, req::watch, req::unwatch,
                             req::transaction_start, req::transaction_end, req::introduce, req::release,
                             req::get_domain_path, req::write, req::mkdir, req::rm, req::set_perms,
                             req::is_domain_introduced, req::resume, req::set_target, req::reset_watches,
                             req::directory_part, req::get_feature, req::set_feature, req::get_quota,
                             req::set_quota>;

// Decodes a request. ENOSYS for a type that is not a request (WATCH_EVENT, ERROR, 20, unknown);
// EINVAL for a malformed payload. Only set_perms allocates (its permission list).
xs_result<request> parse_request(std::uint32_t type, std::string_view payload);
inline xs_result<request> parse_request(const message_view& m) { return parse_request(m.hdr.type, m.payload); }

// Ops only privileged connections (dom0 / the control domain) may issue; others get EACCES.
constexpr bool is_privileged_op(msg_type t) noexcept {
  switch (t) {
    case msg_type::control: case msg_type::introduce: case msg_type::release:
    case msg_type::is_domain_introduced: case msg_type::resume: case msg_type::set_target:
    case msg_type::set_feature: case msg_type::get_quota: case msg_type::set_quota:
      return true;
    default:
      return false;
  }
}

}  // namespace xenwire::xenstore
