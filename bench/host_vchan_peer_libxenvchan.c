/* One side of the vchan throughput bench on the cross-process host, with Debian's libxenvchan
 * (through the libxen emulation). The client writes MIB MiB in CHUNK-byte blocking writes; the
 * server reads them and prints its rate, timed from the first byte to the last.
 *
 *   bench_host_vchan_peer_libxenvchan server|client PEER_DOMID XS_PATH MIB CHUNK RING_BYTES
 *
 * Same command line and output as bench_host_vchan_peer (xenwire's side). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxenvchan.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s server|client PEER_DOMID XS_PATH MIB CHUNK RING_BYTES\n", argv[0]);
    return 2;
  }
  const int server = strcmp(argv[1], "server") == 0;
  const int peer = atoi(argv[2]);
  const size_t total = (size_t)strtoull(argv[4], NULL, 10) << 20;
  const size_t chunk = (size_t)strtoull(argv[5], NULL, 10);
  const size_t ring = (size_t)strtoull(argv[6], NULL, 10);
  char* buf = calloc(1, chunk);
  struct libxenvchan* c = server ? libxenvchan_server_init(NULL, peer, argv[3], ring, ring)
                                 : libxenvchan_client_init(NULL, peer, argv[3]);
  if (!c || !buf) {
    perror("libxenvchan init");
    return 1;
  }
  c->blocking = 1;
  size_t moved = 0;
  double t0 = 0;
  while (moved < total) {
    const size_t want = total - moved < chunk ? total - moved : chunk;
    const int n = server ? libxenvchan_read(c, buf, want) : libxenvchan_write(c, buf, want);
    if (n <= 0) {
      fprintf(stderr, "libxenvchan %s failed after %zu bytes\n", server ? "read" : "write", moved);
      return 1;
    }
    if (moved == 0) t0 = now();
    moved += (size_t)n;
  }
  if (server) {
    const double secs = now() - t0;
    printf("%.1f\n", (double)total / secs / (1 << 20));
    char ack = 1;
    libxenvchan_write(c, &ack, 1);  /* the client closes only after the server has everything */
  } else {
    char ack = 0;
    libxenvchan_read(c, &ack, 1);
  }
  libxenvchan_close(c);
  free(buf);
  return 0;
}
