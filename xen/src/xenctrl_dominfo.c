/* The one place that needs libxenctrl 4.17's xc_dominfo_t (a C header with GNU anonymous unions
 * that C++ cannot include): one domain's dying/shutdown flags through a dlsym'ed
 * xc_domain_getinfo. */
#include <xenctrl.h>

#include "xenctrl_dominfo.h"

int xenwire_xc_domain_flags(xenwire_xc_getinfo_fn getinfo, void* xch, uint32_t domid, int* dying, int* shutdown) {
  xc_dominfo_t info;
  /* Lists domains from `domid` on: the first one listed is another domain when ours is gone. */
  const int n = getinfo(xch, domid, 1, &info);
  if (n < 0) return -1;
  if (n == 0 || info.domid != domid) return 0;
  *dying = info.dying != 0;
  *shutdown = info.shutdown != 0;
  return 1;
}
