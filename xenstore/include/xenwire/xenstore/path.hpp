// Xenstore paths: syntax, resolution of what a connection sent into a canonical absolute path,
// length limits and quota, the special watch paths, and tree relations.
//
// Syntax (docs/misc/xenstore.txt): characters [A-Za-z0-9-/_@], no "//", no trailing '/' except
// the root "/", not empty. Absolute paths <= xenstore::abs_path_max; relative paths <= xenstore::rel_path_max,
// resolved under "/local/domain/<domid>/".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xenwire/base/ids.hpp"
#include "xenwire/ring/xenstore_layout.hpp"
#include "xenwire/xenstore/errors.hpp"

namespace xenwire::xenstore {

inline constexpr std::string_view introduce_domain_path = "@introduceDomain";
inline constexpr std::string_view release_domain_path = "@releaseDomain";
inline constexpr std::string_view domain_path_prefix = "/local/domain/";

constexpr bool is_path_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '/' ||
         c == '_' || c == '@';
}

// Character set, no "//", no trailing '/' (except "/"), not empty. Says nothing about lengths or
// whether the path is absolute.
bool is_valid_path_syntax(std::string_view p) noexcept;
// An absolute node path: starts with '/', valid syntax, length <= abs_path_max.
bool is_valid_absolute_path(std::string_view p) noexcept;

// The special watch paths. `@releaseDomain/<domid>` (upstream) fires for one domain only.
enum class special_kind : std::uint8_t { introduce_domain, release_domain, release_one_domain };
struct special_path {
  special_kind kind;
  std::optional<domid_t> domid;  // set for release_one_domain
  friend bool operator==(const special_path&, const special_path&) = default;
};
// Recognises exactly those three forms (strict decimal domid); nullopt for anything else.
std::optional<special_path> parse_special_path(std::string_view p) noexcept;

// "/local/domain/<domid>", without trailing slash.
std::string domain_home(domid_t domid);

// How a connection's path argument is resolved.
struct resolve_options {
  domid_t home_domid = 0;          // relative paths resolve under this domain's home
  bool allow_special = false;      // WATCH/UNWATCH: accept the special '@' paths
  std::uint32_t path_quota = 0;    // per-domain path-length quota (C xenstored default 2048); 0 = none
};
struct resolved_path {
  std::string path;                      // canonical absolute path, or the special path as sent
  bool relative = false;                 // sent relative: watch events go back relative
  std::optional<special_path> special;   // set for '@' paths
};
// Resolves and validates: syntax, relative length <= rel_path_max (before prefixing), absolute
// length <= abs_path_max (after prefixing: XSA-323), then the quota on the length that remains
// once a "/local/domain/<domid>/" prefix is removed. All failures are EINVAL.
xs_result<resolved_path> resolve_path(std::string_view sent, const resolve_options& opt);

// The path length the per-domain quota counts: `abs` without a leading "/local/domain/<domid>/"
// (any domid, as C xenstored), or all of it. "/local/domain/5" itself has no such prefix.
std::size_t quota_path_length(std::string_view abs) noexcept;

// Tree relations on canonical absolute paths (no allocation; views into the argument).
// Parent of "/a/b" is "/a", of "/a" is "/"; "/" has none.
std::optional<std::string_view> parent(std::string_view abs) noexcept;
// Last component: "b" for "/a/b", "" for "/".
std::string_view base_name(std::string_view abs) noexcept;
// True if `p` is `ancestor` or lies below it ("/" is everyone's ancestor; "/a" is not one of "/ab").
bool is_ancestor_or_self(std::string_view ancestor, std::string_view p) noexcept;
// Number of components below the root: 0 for "/", 2 for "/a/b".
std::size_t depth(std::string_view abs) noexcept;

// The form a relative watch of `domid` sees: `abs` without "/local/domain/<domid>/";
// nullopt if `abs` is not strictly below that home.
std::optional<std::string_view> to_relative(std::string_view abs, domid_t domid) noexcept;

}  // namespace xenwire::xenstore
