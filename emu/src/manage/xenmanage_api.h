/* libxenmanage's API as C xenstored 4.22 calls it (Xen's tools/include/xenmanage.h with the
 * `caps` argument of 4.22). libxen-dev 4.17 has no such header, so it is declared here. */
#ifndef XENWIRE_EMU_XENMANAGE_API_H
#define XENWIRE_EMU_XENMANAGE_API_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xentoollog_logger;
typedef struct xenmanage_handle xenmanage_handle;

#define XENMANAGE_GETDOMSTATE_STATE_EXIST 0x0001u
#define XENMANAGE_GETDOMSTATE_STATE_SHUTDOWN 0x0002u
#define XENMANAGE_GETDOMSTATE_STATE_DYING 0x0004u
#define XENMANAGE_GETDOMSTATE_STATE_DEAD 0x0008u

#define XENMANAGE_GETDOMSTATE_CAP_CONTROL 0x0001u
#define XENMANAGE_GETDOMSTATE_CAP_HARDWARE 0x0002u
#define XENMANAGE_GETDOMSTATE_CAP_XENSTORE 0x0004u

#define XENWIRE_EMU_EXPORT __attribute__((visibility("default")))

XENWIRE_EMU_EXPORT xenmanage_handle* xenmanage_open(struct xentoollog_logger* logger, unsigned int open_flags);
XENWIRE_EMU_EXPORT int xenmanage_close(xenmanage_handle* hdl);
/* 0 and the domain's state, or -1 with errno (ESRCH: no such domain). NULL outputs are skipped. */
XENWIRE_EMU_EXPORT int xenmanage_get_domain_info(xenmanage_handle* hdl, unsigned int domid, unsigned int* state,
                                                 unsigned int* caps, uint64_t* unique_id);
/* 0 and a domain whose state changed since this handle last reported it, or -1 with errno ENOENT
 * when none did. */
XENWIRE_EMU_EXPORT int xenmanage_poll_changed_domain(xenmanage_handle* hdl, unsigned int* domid, unsigned int* state,
                                                     unsigned int* caps, uint64_t* unique_id);

#ifdef __cplusplus
}
#endif

#endif
