// Where the simulated host's devices live in Xenstore, as libxl lays them out.
#pragma once

#include <string>

#include "xenwire/ring/transport.hpp"
#include "xenwire/xenstore/path.hpp"

namespace xenwire::simhost {

inline std::string frontend(domid_t d, unsigned vif) {
  return xenstore::domain_home(d) + "/device/vif/" + std::to_string(vif);
}
inline std::string backend_root(domid_t d) { return xenstore::domain_home(0) + "/backend/vif/" + std::to_string(d); }
inline std::string backend(domid_t d, unsigned vif) { return backend_root(d) + "/" + std::to_string(vif); }

// XenbusState values used in the device handshake.
inline constexpr const char* state_initialising = "1";
inline constexpr const char* state_connected = "4";

}  // namespace xenwire::simhost
