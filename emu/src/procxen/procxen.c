/* libxenwire-procxen.so: dom0's /proc/xen on the simulated host, for an unmodified Xen daemon.
 *
 * Preloaded (LD_PRELOAD) into dom0's xenstored by xenwire-host. Linux's xenfs gives dom0 two files
 * that C xenstored needs at start-up: /proc/xen/xsd_kva (mmap it: dom0's own Xenstore ring page,
 * which dom0's kernel xenbus driver allocated) and /proc/xen/xsd_port (read it: the event-channel
 * port the kernel bound unbound for dom0, which xenstored binds with bind_interdomain). The host
 * process plays dom0's kernel and puts both, as regular files, in $XENWIRE_PROC_XEN; this library
 * sends every open of /proc/xen or a path under it there. Everything else passes through.
 *
 * It also is the host's syslog: syslog() lines go to stderr (the host's log) as
 * "IDENT[PID]: message", since the simulated host has no /dev/log of its own.
 *
 * Only the interposed libc functions are exported (procxen.map); nothing else leaves the library.
 */
#undef _FORTIFY_SOURCE
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <syslog.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static const char proc_xen[] = "/proc/xen";

/* The path to use instead of `path`: `buf` holding $XENWIRE_PROC_XEN/rest for /proc/xen[/rest],
 * else `path` itself. NULL with ENAMETOOLONG when the result does not fit. */
static const char *redirect(const char *path, char *buf, size_t size) {
  const char *dir = getenv("XENWIRE_PROC_XEN");
  if (path == NULL || dir == NULL || *dir == '\0') return path;
  const size_t n = sizeof proc_xen - 1;
  if (strncmp(path, proc_xen, n) != 0 || (path[n] != '\0' && path[n] != '/')) return path;
  if ((size_t)snprintf(buf, size, "%s%s", dir, path + n) >= size) {
    errno = ENAMETOOLONG;
    return NULL;
  }
  return buf;
}

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

/* open(2) and friends take a mode only with O_CREAT or O_TMPFILE. */
#define MODE_ARG(flags, mode)                                  \
  do {                                                         \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                   \
      va_list ap;                                              \
      va_start(ap, flags);                                     \
      mode = (mode_t)va_arg(ap, int);                          \
      va_end(ap);                                              \
    }                                                          \
  } while (0)

#define OPEN_LIKE(name)                                                    \
  EXPORT int name(const char *path, int flags, ...) {                     \
    static int (*real)(const char *, int, ...);                           \
    mode_t mode = 0;                                                       \
    char buf[4096];                                                        \
    MODE_ARG(flags, mode);                                                 \
    if (real == NULL) real = (int (*)(const char *, int, ...))next(#name); \
    const char *p = redirect(path, buf, sizeof buf);                      \
    if (p == NULL) return -1;                                              \
    return real(p, flags, mode);                                           \
  }
OPEN_LIKE(open)
OPEN_LIKE(open64)

#define OPENAT_LIKE(name)                                                       \
  EXPORT int name(int dirfd, const char *path, int flags, ...) {               \
    static int (*real)(int, const char *, int, ...);                           \
    mode_t mode = 0;                                                            \
    char buf[4096];                                                             \
    MODE_ARG(flags, mode);                                                      \
    if (real == NULL) real = (int (*)(int, const char *, int, ...))next(#name); \
    const char *p = redirect(path, buf, sizeof buf);                           \
    if (p == NULL) return -1;                                                   \
    return real(dirfd, p, flags, mode);                                         \
  }
OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)

/* _FORTIFY_SOURCE's entry points (no mode: they are only used without O_CREAT). */
#define OPEN_CHK(name)                                                 \
  EXPORT int name(const char *path, int flags) {                      \
    static int (*real)(const char *, int);                            \
    char buf[4096];                                                    \
    if (real == NULL) real = (int (*)(const char *, int))next(#name); \
    const char *p = redirect(path, buf, sizeof buf);                  \
    if (p == NULL) return -1;                                          \
    return real(p, flags);                                             \
  }
OPEN_CHK(__open_2)
OPEN_CHK(__open64_2)

#define FOPEN_LIKE(name)                                                                \
  EXPORT FILE *name(const char *path, const char *mode) {                              \
    static FILE *(*real)(const char *, const char *);                                  \
    char buf[4096];                                                                     \
    if (real == NULL) real = (FILE * (*)(const char *, const char *)) next(#name);     \
    const char *p = redirect(path, buf, sizeof buf);                                   \
    if (p == NULL) return NULL;                                                         \
    return real(p, mode);                                                               \
  }
FOPEN_LIKE(fopen)
FOPEN_LIKE(fopen64)

/* ---- syslog: the host's log ---- */

static const char *log_ident;

EXPORT void openlog(const char *ident, int option, int facility) {
  (void)option;
  (void)facility;
  log_ident = ident;
}

EXPORT void closelog(void) { log_ident = NULL; }

EXPORT void vsyslog(int priority, const char *format, va_list ap) {
  (void)priority;
  const int saved = errno; /* for %m */
  char line[2048];
  const char *ident = log_ident != NULL ? log_ident : program_invocation_short_name;
  int n = snprintf(line, sizeof line, "%s[%ld]: ", ident, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof line) return;
  errno = saved;
  int m = vsnprintf(line + n, sizeof line - (size_t)n, format, ap);
  if (m < 0) return;
  size_t len = (size_t)n + (size_t)m;
  if (len > sizeof line - 2) len = sizeof line - 2;
  while (len > (size_t)n && line[len - 1] == '\n') --len;
  line[len++] = '\n';
  ssize_t w;
  do {
    w = write(STDERR_FILENO, line, len);
  } while (w < 0 && errno == EINTR);
  errno = saved;
}

EXPORT void syslog(int priority, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  vsyslog(priority, format, ap);
  va_end(ap);
}

EXPORT void __vsyslog_chk(int priority, int flag, const char *format, va_list ap) {
  (void)flag;
  vsyslog(priority, format, ap);
}

EXPORT void __syslog_chk(int priority, int flag, const char *format, ...) {
  (void)flag;
  va_list ap;
  va_start(ap, format);
  vsyslog(priority, format, ap);
  va_end(ap);
}
