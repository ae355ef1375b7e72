// vchan throughput and latency between two threads over the simulator (xenwire::sim), through the
// full endpoint (xenwire::vchan: blocking mode, spin then sleep on the event channel). Throughput is
// printed as a ratio to memcpy of the same chunks measured in the same run; latency as the median
// round trip of a 64-byte packet ping-pong.
//
// Usage: bench_vchan_throughput [--pin=spread|one|none] [MiB per run = 512] [runs = 5] [spin = 2000]
//                               [ring KiB] [chunk]
// (the last two, when given, run only that ring/chunk case and skip the latency lines)
// --pin: spread (default) puts writer and reader on two different CPUs, as two domains on their own
// vCPUs; one puts both on one CPU; none leaves placement to the scheduler. Say which when quoting.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "xenwire/sim/host.hpp"
#include "xenwire/vchan/endpoint.hpp"
#include "xenwire/vchan/memory_rendezvous.hpp"

namespace {

using namespace xenwire;
using clock_type = std::chrono::steady_clock;

using bench::die;
using bench::median;
using bench::memcpy_rate;
using bench::must;
using bench::spsc_rate;

struct pair_of_endpoints {
  pair_of_endpoints(std::size_t read_min, std::size_t write_min, unsigned spin) {
    must(host.create_domain(0), "create dom0");
    must(host.create_domain(1), "create dom1");
    t0 = must(host.transport(0), "transport 0");
    t1 = must(host.transport(1), "transport 1");
    const vchan::io_options io{.mode = vchan::io_mode::blocking, .spin = spin};
    const auto path = vchan::default_path(0, 1, "bench");
    srv.emplace(must(vchan::endpoint::serve(*t0, rdv, {.client = 1, .path = path, .read_min = read_min,
                                                        .write_min = write_min, .io = io}),
                     "serve"));
    cli.emplace(must(vchan::endpoint::connect(*t1, rdv, {.server = 0, .path = path, .io = io}), "connect"));
  }
  sim::host host;
  std::unique_ptr<sim::domain_transport> t0, t1;
  vchan::memory_rendezvous rdv;
  std::optional<vchan::endpoint> srv, cli;
};

// Client → server stream of `total` bytes in `chunk`-byte writes and reads; bytes/s.
double stream_rate(vchan::endpoint& writer, vchan::endpoint& reader, std::size_t total, std::size_t chunk) {
  std::atomic<bool> go{false};
  std::thread t([&] {
    bench::pin_side(1);
    std::vector<std::byte> buf(chunk);
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();  // pairs with the release below
    for (std::size_t got = 0; got < total;) got += must(reader.read(buf), "read");
  });
  std::vector<std::byte> buf(chunk, std::byte{0xa5});
  const auto t0 = clock_type::now();
  go.store(true, std::memory_order_release);
  for (std::size_t sent = 0; sent < total;) sent += must(writer.write({buf.data(), std::min(chunk, total - sent)}), "write");
  t.join();
  return static_cast<double>(total) / std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Median round trip of a 64-byte packet, in microseconds.
double round_trip_us(vchan::endpoint& a, vchan::endpoint& b, int count) {
  std::thread t([&] {
    bench::pin_side(1);
    std::array<std::byte, 64> p{};
    for (int i = 0; i < count; ++i) {
      must(b.recv(p), "echo recv");
      must(b.send(p), "echo send");
    }
  });
  std::vector<double> us;
  std::array<std::byte, 64> p{};
  for (int i = 0; i < count; ++i) {
    const auto t0 = clock_type::now();
    must(a.send(p), "send");
    must(a.recv(p), "recv");
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
  }
  t.join();
  return median(us);
}

}  // namespace

int main(int argc, char** argv) {
  xenwire::bench::program = "bench_vchan_throughput";
  bench::where = bench::placement::spread;
  std::vector<const char*> pos;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--", 2) != 0) {
      pos.push_back(argv[i]);
    } else if (!bench::parse_pin(argv[i], bench::where)) {
      std::fprintf(stderr, "%s: unknown option %s (expected --pin=spread|one|none)\n", bench::program, argv[i]);
      return 2;
    }
  }
  auto arg = [&](std::size_t i, unsigned long fallback) {
    return pos.size() > i ? std::strtoul(pos[i], nullptr, 10) : fallback;
  };
  const std::size_t mib = arg(0, 512);
  const int runs = static_cast<int>(arg(1, 5));
  const unsigned spin = static_cast<unsigned>(arg(2, 2000));
  const std::size_t total = mib << 20;
  const std::size_t only_ring = arg(3, 0) << 10;
  const std::size_t only_chunk = arg(4, 0);
  bench::pin_side(0);

  struct ring_case {
    const char* name;
    std::size_t read_min, write_min;  // the client writes the left ring (read_min)
  };
  const ring_case rings[] = {
      {"1 KiB in-page", 1024, 2048},
      {"2 KiB in-page", 2048, 1024},
      {"64 KiB", 65536, 65536},
      {"1 MiB", 1u << 20, 1u << 20},
  };
  const std::size_t chunks[] = {64, 256, 1024, 4096, 16384, 65536};

  std::printf("vchan stream client -> server, %zu MiB per run, median of %d, spin %u, threads on %s\n", mib, runs,
              spin, bench::name(bench::where));
  std::printf("ratio: vchan / memcpy of the same chunks; of-spsc: vchan / a bare two-thread ring\n");
  std::printf("%-14s %7s %12s %12s %10s %8s %8s\n", "ring", "chunk", "vchan MB/s", "memcpy MB/s", "spsc MB/s",
              "ratio", "of-spsc");
  for (const auto& rc : rings) {
    if (only_ring != 0 && rc.read_min != only_ring) continue;
    pair_of_endpoints p(rc.read_min, rc.write_min, spin);
    const std::size_t ring = p.cli->write_ring_size();
    for (std::size_t chunk : chunks) {
      if (only_chunk != 0 && chunk != only_chunk) continue;
      // Small rings move small chunks slowly: fewer bytes keep the run short.
      const std::size_t bytes = ring < 4096 ? total / 16 : total;
      std::vector<double> ratios, of_spsc, rates, copies, bare;
      for (int r = 0; r < runs; ++r) {
        const double m = memcpy_rate(bytes, chunk, ring);
        const double b = spsc_rate(bytes, chunk, ring);
        const double v = stream_rate(*p.cli, *p.srv, bytes, chunk);
        rates.push_back(v);
        copies.push_back(m);
        bare.push_back(b);
        ratios.push_back(v / m);
        of_spsc.push_back(v / b);
      }
      std::printf("%-14s %7zu %12.0f %12.0f %10.0f %8.4f %8.3f\n", rc.name, chunk, median(rates) / 1e6,
                  median(copies) / 1e6, median(bare) / 1e6, median(ratios), median(of_spsc));
    }
  }
  if (only_ring != 0) return 0;
  for (unsigned s : {spin, 0u}) {
    pair_of_endpoints p(1024, 2048, s);
    std::printf("round trip, 64-byte packets, spin %u: %.2f us (median of 20000)\n", s,
                round_trip_us(*p.cli, *p.srv, 20000));
  }
  return 0;
}
