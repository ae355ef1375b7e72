#include "xenwire/xenstore/path.hpp"

#include <algorithm>
#include <charconv>

#include "xenwire/xenstore/args.hpp"

namespace xenwire::xenstore {

bool is_valid_path_syntax(std::string_view p) noexcept {
  if (p.empty()) return false;
  if (p.size() > 1 && p.back() == '/') return false;
  if (p.find("//") != std::string_view::npos) return false;
  return std::all_of(p.begin(), p.end(), is_path_char);
}

bool is_valid_absolute_path(std::string_view p) noexcept {
  return !p.empty() && p.front() == '/' && p.size() <= xenstore::abs_path_max && is_valid_path_syntax(p);
}

std::optional<special_path> parse_special_path(std::string_view p) noexcept {
  if (p == introduce_domain_path) return special_path{special_kind::introduce_domain, std::nullopt};
  if (p == release_domain_path) return special_path{special_kind::release_domain, std::nullopt};
  if (p.size() > release_domain_path.size() && p.starts_with(release_domain_path) &&
      p[release_domain_path.size()] == '/') {
    auto d = parse_domid(p.substr(release_domain_path.size() + 1));
    if (d) return special_path{special_kind::release_one_domain, *d};
  }
  return std::nullopt;
}

std::string domain_home(domid_t domid) {
  char digits[8];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, domid);
  (void)ec;  // a u16 always fits
  std::string out;
  out.reserve(domain_path_prefix.size() + 5);
  out.append(domain_path_prefix).append(digits, static_cast<std::size_t>(end - digits));
  return out;
}

namespace {
// Length of a leading "/local/domain/<domid>/" in `abs` (a strict decimal domid), else 0.
std::size_t home_prefix_length(std::string_view abs) noexcept {
  if (!abs.starts_with(domain_path_prefix)) return 0;
  const std::string_view rest = abs.substr(domain_path_prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return 0;  // "/local/domain/5" itself, or "/local/domain/"
  if (!parse_domid(rest.substr(0, slash))) return 0;
  return domain_path_prefix.size() + slash + 1;
}
}  // namespace

std::size_t quota_path_length(std::string_view abs) noexcept { return abs.size() - home_prefix_length(abs); }

xs_result<resolved_path> resolve_path(std::string_view sent, const resolve_options& opt) {
  constexpr auto einval = xs_error::einval;
  if (sent.empty()) return xs_fail(einval);
  if (sent.front() == '@') {
    if (!opt.allow_special) return xs_fail(einval);
    auto special = parse_special_path(sent);
    if (!special) return xs_fail(einval);
    return resolved_path{std::string(sent), false, special};
  }
  // Reject before building anything: lengths are checked on the sent form first, so a hostile
  // size never reaches an allocation or a narrower integer (XSA-420).
  const bool relative = sent.front() != '/';
  if (sent.size() > (relative ? xenstore::rel_path_max : xenstore::abs_path_max)) return xs_fail(einval);
  if (!is_valid_path_syntax(sent)) return xs_fail(einval);
  resolved_path out{{}, relative, std::nullopt};
  if (relative) {
    out.path = domain_home(opt.home_domid);
    out.path.reserve(out.path.size() + 1 + sent.size());
    out.path.append(1, '/').append(sent);
  } else {
    out.path.assign(sent);
  }
  // After prefixing (XSA-323): the absolute limit, then the quota on what is left of the home prefix.
  if (out.path.size() > xenstore::abs_path_max) return xs_fail(einval);
  if (opt.path_quota != 0 && quota_path_length(out.path) > opt.path_quota) return xs_fail(einval);
  return out;
}

std::optional<std::string_view> parent(std::string_view abs) noexcept {
  if (abs.size() <= 1) return std::nullopt;  // "/" (or empty): no parent
  const auto slash = abs.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  if (slash == 0) return abs.substr(0, 1);
  return abs.substr(0, slash);
}

std::string_view base_name(std::string_view abs) noexcept {
  const auto slash = abs.rfind('/');
  return slash == std::string_view::npos ? abs : abs.substr(slash + 1);
}

bool is_ancestor_or_self(std::string_view ancestor, std::string_view p) noexcept {
  if (ancestor == "/") return p.starts_with('/');
  if (!p.starts_with(ancestor)) return false;
  return p.size() == ancestor.size() || p[ancestor.size()] == '/';
}

std::size_t depth(std::string_view abs) noexcept {
  if (abs.size() <= 1) return 0;
  return static_cast<std::size_t>(std::count(abs.begin(), abs.end(), '/'));
}

std::optional<std::string_view> to_relative(std::string_view abs, domid_t domid) noexcept {
  if (!abs.starts_with(domain_path_prefix)) return std::nullopt;
  std::string_view rest = abs.substr(domain_path_prefix.size());
  char digits[8];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, domid);
  (void)ec;
  const std::string_view d(digits, static_cast<std::size_t>(end - digits));
  if (!rest.starts_with(d)) return std::nullopt;
  rest.remove_prefix(d.size());
  if (rest.size() < 2 || rest.front() != '/') return std::nullopt;  // need "/<something>"
  return rest.substr(1);
}

}  // namespace xenwire::xenstore
