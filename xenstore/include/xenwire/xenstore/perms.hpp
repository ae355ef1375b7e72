// Node permissions: the data type shared by the codec, the store and the server core.
// Wire form: NUL-separated entries "<c><domid>", c in n/r/w/b. Entry 0 names the owner, who always
// has full access; its flag is also the access of every domain not listed. An entry naming DOMID_ANY
// matches every domain (Xen 4.22, XENSTORE_SERVER_FEATURE_DOMID_ANY) unless it is marked ignored.
#pragma once

#include <cstdint>
#include <algorithm>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xenwire/base/ids.hpp"
#include "xenwire/xenstore/errors.hpp"

namespace xenwire::xenstore {

enum class perm : std::uint8_t { none = 0, read = 1, write = 2, both = 3 };

constexpr perm operator|(perm a, perm b) noexcept {
  return static_cast<perm>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr bool allows(perm have, perm want) noexcept {
  return (static_cast<std::uint8_t>(have) & static_cast<std::uint8_t>(want)) == static_cast<std::uint8_t>(want);
}

// DOMID_ANY (xen.h, 0x7FF5): as a permission entry's domid, every domain.
inline constexpr domid_t domid_any = 0x7FF5;

struct perm_entry {
  domid_t domid;
  perm access;
  // Kept and shown by GET_PERMS, but never matches (C xenstored's XS_PERM_IGNORE): a DOMID_ANY entry
  // written by a domain that has not the DOMID_ANY feature. Not part of the wire form.
  bool ignored = false;
  friend bool operator==(const perm_entry&, const perm_entry&) = default;
};

// Never empty for a stored node: entry 0 is the owner.
using node_perms = std::vector<perm_entry>;

// A permission list to read: a node_perms, or the entries a stored node keeps inline (no vector
// per node). Copying one out to change it is explicit, so no access check allocates by accident.
class perms_view {
 public:
  using value_type = perm_entry;
  using iterator = std::span<const perm_entry>::iterator;
  using const_iterator = iterator;

  perms_view() noexcept = default;
  perms_view(const node_perms& p) noexcept : s_(p) {}  // NOLINT: implicit on purpose
  explicit perms_view(std::span<const perm_entry> s) noexcept : s_(s) {}
  // For arguments: the list lives until the end of the call.
  perms_view(std::initializer_list<perm_entry> l) noexcept : s_(l.begin(), l.size()) {}  // NOLINT: implicit on purpose

  iterator begin() const noexcept { return s_.begin(); }
  iterator end() const noexcept { return s_.end(); }
  std::size_t size() const noexcept { return s_.size(); }
  bool empty() const noexcept { return s_.empty(); }
  const perm_entry& front() const noexcept { return s_.front(); }
  const perm_entry& operator[](std::size_t i) const noexcept { return s_[i]; }
  explicit operator node_perms() const { return node_perms(s_.begin(), s_.end()); }

  friend bool operator==(perms_view a, perms_view b) noexcept { return std::ranges::equal(a.s_, b.s_); }
  friend bool operator==(perms_view a, const node_perms& b) noexcept { return std::ranges::equal(a.s_, b); }

 private:
  std::span<const perm_entry> s_;
};

// --- wire form -----------------------------------------------------------------------------------

// 'n', 'r', 'w', 'b'.
constexpr char perm_letter(perm p) noexcept { return "nrwb"[static_cast<std::uint8_t>(p) & 3]; }
std::optional<perm> perm_from_letter(char c) noexcept;

// One entry "<c><domid>" (no NUL): a valid letter then a strict decimal domid <= 65535, else EINVAL.
xs_result<perm_entry> parse_perm_entry(std::string_view s) noexcept;
// "r0\0b5\0...": one or more NUL-terminated entries filling the payload, else EINVAL.
xs_result<node_perms> parse_perms(std::string_view bytes);
// Appends the wire form of `perms` ("r0\0b5\0").
void format_perms(perms_view perms, std::string& out);
std::string format_perms(perms_view perms);
// Length of format_perms' output, for size accounting without formatting.
std::size_t formatted_perms_size(perms_view perms) noexcept;

// --- access check ----------------------------------------------------------------------------------

// Who asks. `target` is the domain this caller was made the target-holder of by SET_TARGET
// (C xenstored's conn->target: e.g. a device model's stub domain acting for its guest).
struct accessor {
  domid_t domid;
  bool privileged = false;          // dom0 / the control domain: all rights everywhere
  std::optional<domid_t> target{};  // acts with the rights of this domain too
};

// The access `who` has to a node with `perms`, following C xenstored's perm_for_conn (4.22):
// privileged callers, the owner and the owner's target-holder get both (an owner of DOMID_ANY: every
// domain); otherwise the first listed entry (1..) that is not ignored and names the caller, its
// target or DOMID_ANY decides; otherwise entry 0's flag.
// An empty list (never stored) grants nothing to the unprivileged.
perm effective_perm(perms_view perms, const accessor& who) noexcept;
inline bool can_access(perms_view perms, const accessor& who, perm want) noexcept {
  return allows(effective_perm(perms, who), want);
}
// Owner rights (changing perms keeps the owner unless privileged; see the server): the privileged,
// the owner itself, and the owner's target-holder (everyone, for an owner entry of DOMID_ANY).
bool has_owner_rights(perms_view perms, const accessor& who) noexcept;

}  // namespace xenwire::xenstore
