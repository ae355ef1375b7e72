#include "xenwire/xenstore/wire.hpp"

#include <array>

namespace xenwire::xenstore {

namespace {
// Indexed by raw type value; 20 (removed RESTRICT) is INVALID.
constexpr std::array<std::string_view, msg_type_count> type_names = {
    "CONTROL",     "DIRECTORY",   "READ",       "GET_PERMS",           "WATCH",  "UNWATCH",
    "TRANSACTION_START", "TRANSACTION_END", "INTRODUCE", "RELEASE", "GET_DOMAIN_PATH", "WRITE",
    "MKDIR",       "RM",          "SET_PERMS",  "WATCH_EVENT",         "ERROR",  "IS_DOMAIN_INTRODUCED",
    "RESUME",      "SET_TARGET",  "INVALID",    "RESET_WATCHES",       "DIRECTORY_PART", "GET_FEATURE",
    "SET_FEATURE", "GET_QUOTA",   "SET_QUOTA",
};
}  // namespace

std::string_view type_name(std::uint32_t raw) noexcept {
  return is_valid_type(raw) ? type_names[raw] : std::string_view("INVALID");
}

std::string_view name(msg_type t) noexcept { return type_name(static_cast<std::uint32_t>(t)); }

}  // namespace xenwire::xenstore
