// Domain states from whichever library this Xen host has. Found at run time, not linked: their
// sonames follow Xen's version (libxenctrl.so.4.17, libxenmanage.so.1 from 4.21), and a binary
// linked to one would not load on the others.
#pragma once

#include <memory>

#include "xenwire/base/error.hpp"
#include "xenwire/base/ids.hpp"
#include "xenwire/ring/transport.hpp"

namespace xenwire::xen {

class domain_state_source {
 public:
  virtual ~domain_state_source() = default;
  virtual result<domain_life> life(domid_t domid) = 0;
  virtual const char* library() const noexcept = 0;
};

// libxenmanage.so.1 (xenmanage_get_domain_info), else libxenctrl.so.4.17 (xc_domain_getinfo).
// errc::not_supported when neither loads or opens.
result<std::unique_ptr<domain_state_source>> open_domain_state_source();

}  // namespace xenwire::xen
