/* The bridge between xenctrl_api.c (C: <xenctrl.h> does not compile as C++) and the host
 * connection (C++). Internal to libxenctrl.so; hidden by the version script. */
#ifndef XENWIRE_EMU_DOMAIN_LIST_H
#define XENWIRE_EMU_DOMAIN_LIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xenwire_emu_domain {
  uint32_t domid;
  int dying; /* being destroyed; still listed while other domains map its pages */
};

/* A connection to the host (this process's, shared), or NULL with errno set. */
void* xenwire_emu_xc_connect(void);
void xenwire_emu_xc_disconnect(void* conn);

/* Up to `max` live or dying domains with domid >= first, sorted by domid, into `out`.
 * Returns how many, or -1 with errno set (EPERM outside dom0, as Xen's XSM check). */
int xenwire_emu_xc_domains(void* conn, uint32_t first, unsigned int max, struct xenwire_emu_domain* out);

#ifdef __cplusplus
}
#endif

#endif
