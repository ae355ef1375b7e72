/* libxenctrl's emulation: the three calls C xenstored 4.17 and vchan-socket-proxy import. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC visibility push(default)
#include <xenctrl.h>
#pragma GCC visibility pop

#include "domain_list.h"

struct xc_interface_core {
  void* conn;
};

/* xc_interface_open → this process's connection to the host (NULL with errno if unreachable). */
xc_interface* xc_interface_open(xentoollog_logger* logger, xentoollog_logger* dombuild_logger, unsigned open_flags) {
  (void)logger; /* we never log */
  (void)dombuild_logger;
  (void)open_flags;
  xc_interface* xch = malloc(sizeof(*xch));
  if (xch == NULL) return NULL;
  xch->conn = xenwire_emu_xc_connect();
  if (xch->conn == NULL) {
    int saved = errno;
    free(xch);
    errno = saved;
    return NULL;
  }
  return xch;
}

/* xc_interface_close → releases the handle (and the connection with the last user). */
int xc_interface_close(xc_interface* xch) {
  if (xch == NULL) return 0;
  xenwire_emu_xc_disconnect(xch->conn);
  free(xch);
  return 0;
}

/* xc_domain_getinfo → the host's domain list: up to max_doms domains with domid >= first_domid in
 * domid order; -1 with errno ESRCH when there is none (XEN_DOMCTL_getdomaininfo's answer). */
int xc_domain_getinfo(xc_interface* xch, uint32_t first_domid, unsigned int max_doms, xc_dominfo_t* info) {
  if (max_doms == 0) return 0;
  if (xch == NULL || info == NULL) {
    errno = EINVAL;
    return -1;
  }
  memset(info, 0, max_doms * sizeof(*info));
  struct xenwire_emu_domain* doms = calloc(max_doms, sizeof(*doms));
  if (doms == NULL) return -1;
  int n = xenwire_emu_xc_domains(xch->conn, first_domid, max_doms, doms);
  if (n < 0) {
    int saved = errno;
    free(doms);
    errno = saved;
    return -1;
  }
  for (int i = 0; i < n; ++i) {
    info[i].domid = doms[i].domid;
    info[i].dying = doms[i].dying ? 1 : 0;
    info[i].blocked = doms[i].dying ? 0 : 1; /* a simulated domain's vcpu is never "running" */
    info[i].nr_online_vcpus = 1;
    info[i].max_vcpu_id = 0;
    info[i].cpupool = 0;
  }
  free(doms);
  if (n == 0) {
    errno = ESRCH;
    return -1;
  }
  return n;
}
