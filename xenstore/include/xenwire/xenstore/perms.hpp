// Node permissions: the data type shared by the codec, the store and the server core.
// Wire form: NUL-separated entries "<c><domid>", c in n/r/w/b. Entry 0 names the owner, who always
// has full access; its flag is also the access of every domain not listed.
#pragma once

#include <cstdint>
#include <vector>

#include "xenwire/ring/transport.hpp"  // domid_t

namespace xenwire::xenstore {

enum class perm : std::uint8_t { none = 0, read = 1, write = 2, both = 3 };

constexpr perm operator|(perm a, perm b) noexcept {
  return static_cast<perm>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr bool allows(perm have, perm want) noexcept {
  return (static_cast<std::uint8_t>(have) & static_cast<std::uint8_t>(want)) == static_cast<std::uint8_t>(want);
}

struct perm_entry {
  domid_t domid;
  perm access;
  friend bool operator==(const perm_entry&, const perm_entry&) = default;
};

// Never empty for a stored node: entry 0 is the owner.
using node_perms = std::vector<perm_entry>;

}  // namespace xenwire::xenstore
