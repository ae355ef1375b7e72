/* xc_domain_getinfo (libxenctrl.so.4.17) for one domain, from C++ without <xenctrl.h>. */
#ifndef XENWIRE_XEN_XENCTRL_DOMINFO_H
#define XENWIRE_XEN_XENCTRL_DOMINFO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* xc_domain_getinfo as dlsym finds it, its xc_interface* and xc_dominfo_t* left opaque. */
typedef int (*xenwire_xc_getinfo_fn)(void* xch, uint32_t first_domid, unsigned int max_doms, void* info);

/* getinfo: xc_domain_getinfo; xch: an xc_interface*. 1: found, *dying and *shutdown set; 0: no
 * such domain; -1: the call failed (errno). */
int xenwire_xc_domain_flags(xenwire_xc_getinfo_fn getinfo, void* xch, uint32_t domid, int* dying, int* shutdown);

#ifdef __cplusplus
}
#endif

#endif
