// The C++ half of libxenctrl's emulation: the host's domain list through remote_transport.
#include "domain_list.h"

#include <algorithm>
#include <cerrno>
#include <new>

#include "errno_map.hpp"
#include "process_transport.hpp"

using namespace xenwire;

namespace {
struct xc_connection {
  std::shared_ptr<sim::remote_transport> transport;
};
}  // namespace

extern "C" {

void* xenwire_emu_xc_connect(void) {
  try {
    auto t = emu::process_transport();
    if (!t) {
      emu::fail_errno(t.error());
      return nullptr;
    }
    return new xc_connection{std::move(*t)};
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return nullptr;
  }
}

void xenwire_emu_xc_disconnect(void* conn) { delete static_cast<xc_connection*>(conn); }

int xenwire_emu_xc_domains(void* conn, uint32_t first, unsigned int max, struct xenwire_emu_domain* out) {
  try {
    auto listed = static_cast<xc_connection*>(conn)->transport->domains();
    if (!listed) return emu::fail_errno(listed.error());
    auto& doms = *listed;
    std::sort(doms.begin(), doms.end(), [](const auto& a, const auto& b) { return a.domid < b.domid; });
    unsigned int n = 0;
    for (const auto& d : doms) {
      if (n == max) break;
      // A dead domain is gone from Xen's list; a dying one is listed with its flag.
      if (d.domid < first || d.state == sim::domain_state::dead) continue;
      out[n++] = xenwire_emu_domain{d.domid, d.state == sim::domain_state::dying ? 1 : 0};
    }
    return static_cast<int>(n);
  } catch (const std::bad_alloc&) {
    return emu::fail_errno(ENOMEM);
  }
}

}  // extern "C"
