#include "xenwire/xenstore/perms.hpp"

#include <charconv>

#include "xenwire/xenstore/args.hpp"

namespace xenwire::xenstore {

std::optional<perm> perm_from_letter(char c) noexcept {
  switch (c) {
    case 'n': return perm::none;
    case 'r': return perm::read;
    case 'w': return perm::write;
    case 'b': return perm::both;
    default: return std::nullopt;
  }
}

xs_result<perm_entry> parse_perm_entry(std::string_view s) noexcept {
  if (s.empty()) return xs_fail(xs_error::einval);
  auto p = perm_from_letter(s[0]);
  if (!p) return xs_fail(xs_error::einval);
  auto d = parse_domid(s.substr(1));
  if (!d) return xs_fail(d.error());
  return perm_entry{*d, *p};
}

xs_result<node_perms> parse_perms(std::string_view bytes) {
  auto list = string_list::parse(bytes);
  if (!list) return xs_fail(list.error());
  if (list->empty()) return xs_fail(xs_error::einval);  // the owner entry is mandatory
  node_perms out;
  out.reserve(list->size());
  for (auto s : *list) {
    auto e = parse_perm_entry(s);
    if (!e) return xs_fail(e.error());
    out.push_back(*e);
  }
  return out;
}

namespace {
std::size_t decimal_digits(domid_t d) noexcept {
  std::size_t n = 1;
  for (unsigned v = d; v >= 10; v /= 10) ++n;
  return n;
}
}  // namespace

std::size_t formatted_perms_size(perms_view perms) noexcept {
  std::size_t n = 0;
  for (const auto& e : perms) n += 1 + decimal_digits(e.domid) + 1;
  return n;
}

void format_perms(perms_view perms, std::string& out) {
  out.reserve(out.size() + formatted_perms_size(perms));
  for (const auto& e : perms) {
    char entry[8] = {perm_letter(e.access)};
    auto [end, ec] = std::to_chars(entry + 1, entry + sizeof entry, e.domid);
    (void)ec;  // a u16 always fits
    *end++ = '\0';
    out.append(entry, static_cast<std::size_t>(end - entry));
  }
}

std::string format_perms(perms_view perms) {
  std::string out;
  format_perms(perms, out);
  return out;
}

namespace {
bool acts_for(const accessor& who, domid_t d) noexcept { return d == who.domid || (who.target && d == *who.target); }
// C xenstored's perm_allows_conn: the caller, its target, or DOMID_ANY (an ignored entry matches nobody).
bool matches(const accessor& who, const perm_entry& e) noexcept {
  return !e.ignored && (acts_for(who, e.domid) || e.domid == domid_any);
}
}  // namespace

bool has_owner_rights(perms_view perms, const accessor& who) noexcept {
  if (who.privileged) return true;
  return !perms.empty() && matches(who, perms[0]);
}

perm effective_perm(perms_view perms, const accessor& who) noexcept {
  if (has_owner_rights(perms, who)) return perm::both;
  if (perms.empty()) return perm::none;
  for (std::size_t i = 1; i < perms.size(); ++i)
    if (matches(who, perms[i])) return perms[i].access;
  return perms[0].access;
}

}  // namespace xenwire::xenstore
