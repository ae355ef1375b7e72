// One side of the vchan throughput bench on the cross-process host, with xenwire's vchan (or, with
// "spsc", a bare SPSC byte ring in the same granted memory: the ceiling for any protocol there).
// The client writes MIB MiB in CHUNK-byte writes; the server reads them and prints its rate (MiB/s),
// timed from the first byte to the last.
//
//   bench_host_vchan_peer server|client PEER_DOMID XS_PATH MIB CHUNK RING_BYTES [spsc]
//
// Runs as a domain process (xenwire-host run): the host from $XENWIRE_HOST, Xenstore from
// $XENSTORED_PATH (a guest socket), as libxenvchan's side does.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "xenwire/backend/backend.hpp"
#include "xenwire/vchan/endpoint.hpp"
#include "xenwire/vchan/xenstore_rendezvous.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace {

using namespace xenwire;
using clock_type = std::chrono::steady_clock;

template <class T>
T must(result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "bench_host_vchan_peer: %s: %s\n", what, r.error().message().c_str());
    std::exit(1);
  }
  return std::move(*r);
}
void must(result<void> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "bench_host_vchan_peer: %s: %s\n", what, r.error().message().c_str());
    std::exit(1);
  }
}
template <class T>
T must(xenstore::client_result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "bench_host_vchan_peer: %s: %s\n", what, r.error().message().c_str());
    std::exit(1);
  }
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

// The bare ring: page 0 holds the two indices on their own cache lines, then RING bytes of data.
struct alignas(64) index {
  std::atomic<std::uint64_t> v{0};
};
static_assert(sizeof(index) == 64 && std::atomic<std::uint64_t>::is_always_lock_free);

void relax(unsigned& rounds) {
  if (++rounds > 4 && rounds % 2 == 0) {
    std::this_thread::yield();
  } else {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
}

// A node's value once it exists and we may read it (the server sets the permissions after creating
// the path); gives up after 30 s.
std::string wait_for_node(xenstore::client& xs, const std::string& node) {
  const auto until = clock_type::now() + std::chrono::seconds(30);
  while (clock_type::now() < until) {
    auto r = xs.try_read(node);
    if (r && *r) return **r;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::fprintf(stderr, "bench_host_vchan_peer: %s never appeared\n", node.c_str());
  std::exit(1);
}

int run_spsc(bool server, transport& t, xenstore::client& xs, domid_t peer, const std::string& path,
             std::size_t total, std::size_t chunk, std::size_t ring) {
  const std::size_t pages = 1 + ring / page_size;
  std::unique_ptr<shared_pages> shared;
  std::unique_ptr<mapped_pages> mapped;
  std::span<std::byte> mem;
  if (server) {
    shared = must(t.grants().share(peer, pages, access::read_write), "share the ring");
    // The peer reads what we write below (new nodes inherit these permissions).
    must(xs.mkdir(path), "mkdir the rendezvous");
    must(xs.set_perms(path, {{t.self(), xenstore::perm::none}, {peer, xenstore::perm::read}}), "set its permissions");
    std::string refs;
    for (grant_ref_t r : shared->refs()) refs += std::to_string(r) + " ";
    must(xs.write(path + "/spsc-refs", refs), "publish the refs");
    mem = shared->bytes();
  } else {
    std::string refs = wait_for_node(xs, path + "/spsc-refs");
    std::vector<grant_ref_t> list;
    for (std::size_t at = 0; at < refs.size();) {
      list.push_back(static_cast<grant_ref_t>(std::strtoul(refs.c_str() + at, nullptr, 10)));
      at = refs.find(' ', at) + 1;
      if (at == 0) break;
    }
    mapped = must(t.grants().map(peer, list, access::read_write), "map the ring");
    mem = mapped->bytes();
  }
  auto* prod = new (mem.data()) index;  // a fresh zeroed page: constructing is a no-op
  auto* cons = new (mem.data() + 64) index;
  std::byte* data = mem.data() + page_size;
  std::vector<std::byte> buf(chunk, std::byte{0x5a});
  std::size_t moved = 0;
  clock_type::time_point t0;
  unsigned rounds = 0;
  while (moved < total) {
    const std::size_t n = std::min(chunk, total - moved);
    if (server) {  // reader
      const std::uint64_t c = cons->v.load(std::memory_order_relaxed);
      // Pairs with the writer's release store of prod: the data before it is visible.
      while (prod->v.load(std::memory_order_acquire) - c < n) relax(rounds);
      for (std::size_t i = 0; i < n;) {
        const std::size_t at = (c + i) % ring, run = std::min(n - i, ring - at);
        std::memcpy(buf.data() + i, data + at, run);
        i += run;
      }
      // Pairs with the writer's acquire load of cons: our reads are done before it reuses the space.
      cons->v.store(c + n, std::memory_order_release);
      if (moved == 0) t0 = clock_type::now();
    } else {  // writer
      const std::uint64_t p = prod->v.load(std::memory_order_relaxed);
      while (p + n - cons->v.load(std::memory_order_acquire) > ring) relax(rounds);
      for (std::size_t i = 0; i < n;) {
        const std::size_t at = (p + i) % ring, run = std::min(n - i, ring - at);
        std::memcpy(data + at, buf.data() + i, run);
        i += run;
      }
      prod->v.store(p + n, std::memory_order_release);
    }
    moved += n;
  }
  if (server) {
    std::printf("%.1f\n", static_cast<double>(total) / std::chrono::duration<double>(clock_type::now() - t0).count() / (1 << 20));
    must(xs.write(path + "/spsc-done", "1"), "say done");
  } else {
    wait_for_node(xs, path + "/spsc-done");  // the server reads the last bytes from our mapping
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s server|client PEER_DOMID XS_PATH MIB CHUNK RING_BYTES [spsc]\n", argv[0]);
    return 2;
  }
  const bool server = std::strcmp(argv[1], "server") == 0;
  const auto peer = static_cast<domid_t>(std::atoi(argv[2]));
  const std::string path = argv[3];
  const std::size_t total = std::strtoull(argv[4], nullptr, 10) << 20;
  const std::size_t chunk = std::strtoull(argv[5], nullptr, 10);
  const std::size_t ring = std::strtoull(argv[6], nullptr, 10);
  const bool spsc = argc > 7 && std::strcmp(argv[7], "spsc") == 0;

  // $XENWIRE_BACKEND: sim (the host's own client) or xen (libxengnttab/libxenevtchn: the emulation).
  auto t = must(backend::open(must(backend::default_kind(), "XENWIRE_BACKEND")), "open the transport");
  auto xs = must(xenstore::client::open_default(), "connect to Xenstore");
  if (spsc) return run_spsc(server, *t, xs, peer, path, total, chunk, ring);

  vchan::xenstore_rendezvous rdv(xs);
  const vchan::io_options io{.mode = vchan::io_mode::blocking, .timeout = std::chrono::seconds(60), .spin = 2000};
  auto ep = server ? must(vchan::endpoint::serve(*t, rdv, {.client = peer, .path = path, .read_min = ring,
                                                           .write_min = ring, .persistent = false, .io = io}),
                          "serve")
                   : must(vchan::endpoint::connect(*t, rdv, {.server = peer, .path = path, .io = io}), "connect");
  std::vector<std::byte> buf(chunk, std::byte{0x5a});
  std::size_t moved = 0;
  clock_type::time_point t0;
  while (moved < total) {
    const std::size_t want = std::min(chunk, total - moved);
    auto n = server ? ep.read(std::span(buf.data(), want)) : ep.write(std::span<const std::byte>(buf.data(), want));
    if (!n || *n == 0) {
      std::fprintf(stderr, "bench_host_vchan_peer: %s failed after %zu bytes: %s\n", server ? "read" : "write", moved,
                   n ? "closed" : n.error().message().c_str());
      return 1;
    }
    if (moved == 0) t0 = clock_type::now();
    moved += *n;
  }
  std::byte ack{1};
  if (server) {
    std::printf("%.1f\n", static_cast<double>(total) / std::chrono::duration<double>(clock_type::now() - t0).count() / (1 << 20));
    must(ep.send(std::span<const std::byte>(&ack, 1)), "ack");
  } else {
    must(ep.recv(std::span(&ack, 1)), "ack");
  }
  return 0;
}
