// interop_vchan_peer: one end of a vchan on xenwire's endpoint, as a domain process of the
// cross-process host, interchangeable with tests/emu/vchan_peer.c (Debian's libxenvchan): the same
// command line, pattern, chunk sizes, ack byte, messages and exit status, so either program can be
// either end.
//
//   xenwire-host run --domid D -- interop_vchan_peer server|client PEER_DOMID XS_PATH BYTES [RING_BYTES]
//   [blocking|poll]
//
// The client sends BYTES of a deterministic pattern, the server checks them byte for byte and sends
// BYTES of another pattern back, which the client checks; the client then sends one ack byte so the
// server closes only after everything was read. RING_BYTES (default 16384) is the server's
// read_min and write_min, as vchan_peer.c passes it to libxenvchan_server_init (the same sizing:
// vchan::server_plan). "poll" runs the endpoint non-blocking and waits with poll() on its fd, then
// handle_events(); "blocking" uses blocking calls.
// Transport: sim::remote_transport::connect() ($XENWIRE_HOST, $XENWIRE_DOMID: a member of the domain
// `xenwire-host run` holds). Xenstore: $XENSTORED_PATH's socket when it is set, else the domain's own
// Xenstore ring (take_xenstore).
// Exit status: 0 all bytes matched, 1 failure (reason on stderr), 2 usage.
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>

#include "xenwire/sim/remote.hpp"
#include "xenwire/vchan/endpoint.hpp"
#include "xenwire/vchan/xenstore_rendezvous.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/client/connection.hpp"

namespace {

namespace vchan = xenwire::vchan;
namespace xs = xenwire::xenstore;
using namespace std::chrono_literals;

constexpr std::size_t chunk_max = 65536;
constexpr unsigned timeout_seconds = 120;
constexpr auto connect_timeout = 20s;  // vchan_peer.c: 400 attempts 50 ms apart

std::uint8_t pattern(std::uint64_t i, unsigned direction) {
  std::uint64_t x = i * 0x9E3779B97F4A7C15ull + direction * 0x632BE59BD9B4E019ull;
  x ^= x >> 29;
  return static_cast<std::uint8_t>(x ^ (i >> 8));
}

std::size_t next_chunk(std::uint32_t& lcg) {
  lcg = lcg * 1664525u + 1013904223u;
  return 1 + (lcg >> 8) % chunk_max;
}

struct peer {
  vchan::endpoint& ep;
  bool use_poll;

  // Non-blocking only: sleeps until the fd says the peer signalled, then takes the events.
  bool wait_ready() {
    pollfd p{.fd = ep.fd(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) return false;
    auto st = ep.handle_events();
    if (!st) {
      std::fprintf(stderr, "vchan_peer: %s\n", st.error().message().c_str());
      return false;
    }
    return true;
  }

  bool send_all(std::uint64_t bytes, unsigned direction) {
    static std::array<std::byte, chunk_max> buf;
    std::uint32_t lcg = direction;
    for (std::uint64_t done = 0; done < bytes;) {
      std::size_t n = next_chunk(lcg);
      if (n > bytes - done) n = static_cast<std::size_t>(bytes - done);
      for (std::size_t i = 0; i < n; ++i) buf[i] = std::byte{pattern(done + i, direction)};
      std::size_t sent = 0;
      while (sent < n) {
        auto w = ep.write(std::span<const std::byte>(buf).subspan(sent, n - sent));
        if (!w && !(use_poll && w.error() == xenwire::errc::would_block)) {
          std::fprintf(stderr, "vchan_peer: write failed after %llu bytes (peer closed?): %s\n",
                       static_cast<unsigned long long>(done + sent), w.error().message().c_str());
          return false;
        }
        const std::size_t moved = w ? *w : 0;
        sent += moved;
        if (moved == 0 && use_poll && !wait_ready()) return false;
      }
      done += n;
    }
    return true;
  }

  bool receive_all(std::uint64_t bytes, unsigned direction) {
    static std::array<std::byte, chunk_max> buf;
    std::uint32_t lcg = direction ^ 0x5a5a;
    for (std::uint64_t done = 0; done < bytes;) {
      std::size_t want = next_chunk(lcg);
      if (want > bytes - done) want = static_cast<std::size_t>(bytes - done);
      auto r = ep.read(std::span(buf).first(want));
      if (!r && !(use_poll && r.error() == xenwire::errc::would_block)) {
        std::fprintf(stderr, "vchan_peer: read failed after %llu of %llu bytes (peer closed?): %s\n",
                     static_cast<unsigned long long>(done), static_cast<unsigned long long>(bytes),
                     r.error().message().c_str());
        return false;
      }
      const std::size_t got = r ? *r : 0;
      if (got == 0) {
        if (use_poll && !wait_ready()) return false;
        continue;
      }
      for (std::size_t i = 0; i < got; ++i) {
        const auto b = std::to_integer<std::uint8_t>(buf[i]);
        if (b != pattern(done + i, direction)) {
          std::fprintf(stderr, "vchan_peer: byte %llu is 0x%02x, expected 0x%02x\n",
                       static_cast<unsigned long long>(done + i), b, pattern(done + i, direction));
          return false;
        }
      }
      done += got;
    }
    return true;
  }
};

// The domain's Xenstore: the guest socket when XENSTORED_PATH names one, else its own ring.
std::optional<xs::client> open_xenstore(xenwire::sim::remote_transport& t) {
  const xs::client_options opts{.timeout = 10s};
  if (const char* p = std::getenv("XENSTORED_PATH"); p != nullptr && *p != '\0') {
    auto c = xs::client::open_default(opts);
    if (!c) {
      std::fprintf(stderr, "vchan_peer: cannot open Xenstore at %s: %s\n", p, c.error().message().c_str());
      return std::nullopt;
    }
    return std::move(*c);
  }
  auto ep = t.take_xenstore();
  if (!ep) {
    std::fprintf(stderr, "vchan_peer: no Xenstore ring for this domain: %s\n", ep.error().message().c_str());
    return std::nullopt;
  }
  auto conn = xs::connect_ring(std::move(ep->page), std::move(ep->events), ep->port);
  if (!conn) {
    std::fprintf(stderr, "vchan_peer: Xenstore ring: %s\n", conn.error().message().c_str());
    return std::nullopt;
  }
  auto c = xs::client::open(std::move(*conn), opts);
  if (!c) {
    std::fprintf(stderr, "vchan_peer: Xenstore ring: %s\n", c.error().message().c_str());
    return std::nullopt;
  }
  return std::move(*c);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 7 || (std::strcmp(argv[1], "server") != 0 && std::strcmp(argv[1], "client") != 0)) {
    std::fprintf(stderr, "usage: %s server|client PEER_DOMID XS_PATH BYTES [RING_BYTES] [blocking|poll]\n", argv[0]);
    return 2;
  }
  const bool server = std::strcmp(argv[1], "server") == 0;
  const auto peer_domid = static_cast<xenwire::domid_t>(std::atoi(argv[2]));
  const std::string path = argv[3];
  const std::uint64_t bytes = std::strtoull(argv[4], nullptr, 0);
  const std::size_t ring = argc > 5 ? static_cast<std::size_t>(std::strtoull(argv[5], nullptr, 0)) : 16384;
  const bool use_poll = argc > 6 && std::strcmp(argv[6], "poll") == 0;
  ::alarm(timeout_seconds);  // a hang is a failure, not a stuck test run

  auto t = xenwire::sim::remote_transport::connect();
  if (!t) {
    std::fprintf(stderr, "vchan_peer: cannot join the host: %s\n", t.error().message().c_str());
    return 1;
  }
  auto store = open_xenstore(**t);
  if (!store) return 1;
  vchan::xenstore_rendezvous rdv(*store);

  const vchan::io_options io{.mode = use_poll ? vchan::io_mode::non_blocking : vchan::io_mode::blocking};
  std::optional<vchan::endpoint> ep;
  if (server) {
    auto s = vchan::endpoint::serve(
        **t, rdv, {.client = peer_domid, .path = path, .read_min = ring, .write_min = ring, .io = io});
    if (!s) {
      std::fprintf(stderr, "vchan_peer: server_init failed: %s\n", s.error().message().c_str());
      return 1;
    }
    ep.emplace(std::move(*s));
  } else {
    auto c = vchan::connect_wait(**t, rdv, {.server = peer_domid, .path = path, .io = io}, connect_timeout);
    if (!c) {
      std::fprintf(stderr, "vchan_peer: no server at %s of domain %d: %s\n", path.c_str(), peer_domid,
                   c.error().message().c_str());
      return 1;
    }
    ep.emplace(std::move(*c));
  }

  peer p{*ep, use_poll};
  bool ok = true;
  if (server) {
    ok = p.receive_all(bytes, 1) && p.send_all(bytes, 2) && p.receive_all(1, 3);
  } else {
    ok = p.send_all(bytes, 1) && p.receive_all(bytes, 2) && p.send_all(1, 3);
  }
  ep->close();
  if (ok) {
    std::printf("vchan_peer %s: %llu bytes each way, byte-exact\n", argv[1], static_cast<unsigned long long>(bytes));
  }
  return ok ? 0 : 1;
}
