/* vchan_peer: one end of a libxenvchan channel, built against Xen's own <libxenvchan.h> and linked
 * to Debian's libxenvchan.so, to check that the libxen emulation carries real libxenvchan.
 *
 *   vchan_peer server|client PEER_DOMID XS_PATH BYTES [RING_BYTES] [blocking|poll]
 *
 * The client sends BYTES of a deterministic pattern, the server checks them byte for byte and
 * sends BYTES of another pattern back, which the client checks; the client then sends one ack
 * byte so the server closes only after everything was read. Chunk sizes vary (a fixed LCG) to
 * hit partial reads and writes and ring wrap-around. RING_BYTES (default 16384: separately granted
 * ring pages) is the server's read_min/write_min. "poll" waits with poll() on
 * libxenvchan_fd_for_select + libxenvchan_wait instead of blocking calls.
 * Exit status: 0 all bytes matched, 1 failure (reason on stderr), 2 usage. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxenvchan.h>

enum { chunk_max = 65536, timeout_seconds = 120 };

static uint8_t pattern(uint64_t i, unsigned direction) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull + direction * 0x632BE59BD9B4E019ull;
  x ^= x >> 29;
  return (uint8_t)(x ^ (i >> 8));
}

static size_t next_chunk(uint32_t* lcg) {
  *lcg = *lcg * 1664525u + 1013904223u;
  return 1 + (*lcg >> 8) % chunk_max;
}

static int wait_ready(struct libxenvchan* ctrl, int use_poll) {
  if (!use_poll) return 0;
  struct pollfd p = {.fd = libxenvchan_fd_for_select(ctrl), .events = POLLIN};
  if (poll(&p, 1, -1) < 0 && errno != EINTR) return -1;
  return libxenvchan_wait(ctrl); /* takes the event (xenevtchn_pending) and unmasks it */
}

static int send_all(struct libxenvchan* ctrl, uint64_t bytes, unsigned direction, int use_poll) {
  static uint8_t buf[chunk_max];
  uint32_t lcg = direction;
  for (uint64_t done = 0; done < bytes;) {
    size_t n = next_chunk(&lcg);
    if (n > bytes - done) n = (size_t)(bytes - done);
    for (size_t i = 0; i < n; ++i) buf[i] = pattern(done + i, direction);
    size_t sent = 0;
    while (sent < n) {
      int w = libxenvchan_write(ctrl, buf + sent, n - sent);
      if (w < 0) {
        fprintf(stderr, "vchan_peer: write failed after %llu bytes (peer closed?)\n", (unsigned long long)(done + sent));
        return -1;
      }
      sent += (size_t)w;
      if (w == 0 && wait_ready(ctrl, use_poll) < 0) return -1;
    }
    done += n;
  }
  return 0;
}

static int receive_all(struct libxenvchan* ctrl, uint64_t bytes, unsigned direction, int use_poll) {
  static uint8_t buf[chunk_max];
  uint32_t lcg = direction ^ 0x5a5a;
  for (uint64_t done = 0; done < bytes;) {
    size_t want = next_chunk(&lcg);
    if (want > bytes - done) want = (size_t)(bytes - done);
    int r = libxenvchan_read(ctrl, buf, want);
    if (r < 0) {
      fprintf(stderr, "vchan_peer: read failed after %llu of %llu bytes (peer closed?)\n", (unsigned long long)done,
              (unsigned long long)bytes);
      return -1;
    }
    if (r == 0) {
      if (wait_ready(ctrl, use_poll) < 0) return -1;
      continue;
    }
    for (int i = 0; i < r; ++i) {
      if (buf[i] != pattern(done + (uint64_t)i, direction)) {
        fprintf(stderr, "vchan_peer: byte %llu is 0x%02x, expected 0x%02x\n", (unsigned long long)(done + (uint64_t)i),
                buf[i], pattern(done + (uint64_t)i, direction));
        return -1;
      }
    }
    done += (uint64_t)r;
  }
  return 0;
}

/* The server publishes its keys in Xenstore; until then libxenvchan_client_init fails. */
static struct libxenvchan* connect_client(int domid, const char* path) {
  for (int attempt = 0; attempt < 400; ++attempt) {
    struct libxenvchan* ctrl = libxenvchan_client_init(NULL, domid, path);
    if (ctrl != NULL) return ctrl;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "vchan_peer: no server at %s of domain %d (errno %d: %s)\n", path, domid, errno, strerror(errno));
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 5 || argc > 7 || (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "client") != 0)) {
    fprintf(stderr, "usage: %s server|client PEER_DOMID XS_PATH BYTES [RING_BYTES] [blocking|poll]\n", argv[0]);
    return 2;
  }
  const int server = strcmp(argv[1], "server") == 0;
  const int peer = atoi(argv[2]);
  const char* path = argv[3];
  const uint64_t bytes = strtoull(argv[4], NULL, 0);
  const size_t ring = argc > 5 ? (size_t)strtoull(argv[5], NULL, 0) : 16384;
  const int use_poll = argc > 6 && strcmp(argv[6], "poll") == 0;
  alarm(timeout_seconds); /* a hang is a failure, not a stuck test run */

  struct libxenvchan* ctrl =
      server ? libxenvchan_server_init(NULL, peer, path, ring, ring) : connect_client(peer, path);
  if (ctrl == NULL) {
    if (server) fprintf(stderr, "vchan_peer: server_init failed (errno %d: %s)\n", errno, strerror(errno));
    return 1;
  }
  ctrl->blocking = !use_poll;

  int rc = 0;
  if (server) {
    rc = receive_all(ctrl, bytes, 1, use_poll);
    if (rc == 0) rc = send_all(ctrl, bytes, 2, use_poll);
    if (rc == 0) rc = receive_all(ctrl, 1, 3, use_poll);
  } else {
    rc = send_all(ctrl, bytes, 1, use_poll);
    if (rc == 0) rc = receive_all(ctrl, bytes, 2, use_poll);
    if (rc == 0) rc = send_all(ctrl, 1, 3, use_poll);
  }
  libxenvchan_close(ctrl);
  if (rc == 0) printf("vchan_peer %s: %llu bytes each way, byte-exact\n", argv[1], (unsigned long long)bytes);
  return rc == 0 ? 0 : 1;
}
