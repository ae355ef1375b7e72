/* xc_domain_getinfo (libxenctrl.so.4.17) for one domain, from C++ without <xenctrl.h>. */
#ifndef XENWIRE_XEN_XENCTRL_DOMINFO_H
#define XENWIRE_XEN_XENCTRL_DOMINFO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* getinfo: xc_domain_getinfo's address; xch: an xc_interface*. 1: found, *dying and *shutdown
 * set; 0: no such domain; -1: the call failed (errno). */
int xenwire_xc_domain_flags(void* getinfo, void* xch, uint32_t domid, int* dying, int* shutdown);

#ifdef __cplusplus
}
#endif

#endif
