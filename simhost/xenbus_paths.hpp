// Where the simulated host's devices live in Xenstore, as libxl lays them out.
#pragma once

#include <string>

#include "xenwire/ring/transport.hpp"

namespace xenwire::sim_host {

inline std::string home(domid_t d) { return "/local/domain/" + std::to_string(d); }
inline std::string frontend(domid_t d, unsigned vif) { return home(d) + "/device/vif/" + std::to_string(vif); }
inline std::string backend_root(domid_t d) { return "/local/domain/0/backend/vif/" + std::to_string(d); }
inline std::string backend(domid_t d, unsigned vif) { return backend_root(d) + "/" + std::to_string(vif); }

// XenbusState values used in the device handshake.
inline constexpr const char* state_initialising = "1";
inline constexpr const char* state_connected = "4";

}  // namespace xenwire::sim_host
