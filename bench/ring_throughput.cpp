// Stream throughput through xenwire's rings between two threads, printed as a ratio to memcpy of the
// same chunk size measured in the same run (these machines are noisy: compare ratios, not GB/s).
//
// The data moves over pages shared through the simulator's grant table (xenwire::sim), exactly as
// two domains would see them. Two wake-up modes per ring:
//   poll:   a side that cannot progress yields and polls the ring again (no event channel);
//   evtchn: a side that cannot progress blocks on its sim event channel; peers signal only when the
//           ring code says `notify` (libxenvchan's notify bits, or Xenstore's signal-on-update).
//
// Usage: bench_ring_throughput [MiB per run = 64] [runs = 3]   (the median run is reported)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "xenwire/ring/vchan_placement.hpp"
#include "xenwire/ring/vchan_ring.hpp"
#include "xenwire/ring/xenstore_ring.hpp"
#include "xenwire/sim/host.hpp"

namespace {

using namespace xenwire;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

using bench::die;
using bench::median;
using bench::memcpy_rate;
using bench::must;

enum class mode { poll, evtchn };

// One side's wake-up: in evtchn mode a sim event-channel port; in poll mode nothing.
struct waker {
  event_channel* ch = nullptr;
  evtchn_port_t port = 0;
  mode m = mode::poll;
  void signal() const {
    if (m == mode::evtchn) must(ch->notify(port), "notify");
  }
  void idle() const {
    if (m == mode::poll) {
      std::this_thread::yield();
      return;
    }
    // A timeout is harmless (spurious wake-up); a lost notification would show as a collapse in rate.
    auto r = ch->wait(100ms);
    if (!r && r.error() != errc::timed_out) die("wait", r.error());
  }
};

using write_fn = std::function<result<transfer>(std::span<const std::byte>)>;
using read_fn = std::function<result<transfer>(std::span<std::byte>)>;

// Streams `total` bytes from a writer thread to a reader thread; returns bytes/s.
double stream_rate(std::size_t total, std::size_t chunk, const write_fn& write, const read_fn& read,
                   const waker& writer_side, const waker& reader_side) {
  std::atomic<bool> go{false};
  std::thread reader([&] {
    std::vector<std::byte> buf(chunk);
    // Pairs with the release store of `go` below: start together.
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    for (std::size_t got = 0; got < total;) {
      auto r = read(buf);
      if (!r) die("read", r.error());
      if (r->notify) reader_side.signal();
      got += r->bytes;
      if (r->bytes == 0) reader_side.idle();
    }
  });
  std::vector<std::byte> buf(chunk, std::byte{0xa5});
  const auto t0 = clock_type::now();
  go.store(true, std::memory_order_release);
  for (std::size_t sent = 0; sent < total;) {
    auto w = write({buf.data(), std::min(chunk, total - sent)});
    if (!w) die("write", w.error());
    if (w->notify) writer_side.signal();
    sent += w->bytes;
    if (w->bytes == 0) writer_side.idle();
  }
  reader.join();
  return static_cast<double>(total) / std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Two sim domains with an interdomain event channel between them.
struct two_domains {
  two_domains() {
    must(host.create_domain(0), "create dom0");
    must(host.create_domain(1), "create dom1");
    t0 = must(host.transport(0), "transport 0");
    t1 = must(host.transport(1), "transport 1");
    ev0 = must(t0->open_event_channel(), "evtchn 0");
    ev1 = must(t1->open_event_channel(), "evtchn 1");
    port0 = must(ev0->bind_unbound(1), "bind_unbound");
    port1 = must(ev1->bind_interdomain(0, port0), "bind_interdomain");
  }
  waker wake0(mode m) const { return {ev0.get(), port0, m}; }
  waker wake1(mode m) const { return {ev1.get(), port1, m}; }
  sim::host host;
  std::unique_ptr<sim::domain_transport> t0, t1;
  std::unique_ptr<event_channel> ev0, ev1;
  evtchn_port_t port0 = 0, port1 = 0;
};

// vchan: dom0 is the server (shares the control page and ring pages), dom1 the client (maps them).
double vchan_rate(std::size_t left_min, std::size_t right_min, bool client_writes, std::size_t total,
                  std::size_t chunk, mode m) {
  two_domains d;
  auto plan = must(vchan::server_plan(left_min, right_min), "plan");
  auto control = must(d.t0->grants().share(1, 1, access::read_write), "share control");
  std::unique_ptr<shared_pages> left_pages, right_pages;
  std::vector<grant_ref_t> refs;
  for (auto [place, pages] : {std::pair{&plan.left, &left_pages}, std::pair{&plan.right, &right_pages}}) {
    if (place->in_page()) continue;
    *pages = must(d.t0->grants().share(1, place->grant_count, access::read_write), "share ring");
    refs.insert(refs.end(), (*pages)->refs().begin(), (*pages)->refs().end());
  }
  must(vchan::init_control_page(control->bytes(), plan, refs), "init control page");
  auto ring_of = [&](std::span<std::byte> page, const vchan::ring_place& p, shared_pages* own) {
    return p.in_page() ? vchan::in_page_ring(page, p) : own->bytes().first(p.bytes());
  };
  auto server = must(vchan::stream::attach(vchan::role::server, control->bytes(),
                                           {ring_of(control->bytes(), plan.left, left_pages.get()),
                                            ring_of(control->bytes(), plan.right, right_pages.get())}),
                     "server attach");

  // The client side: map what the server granted, validating the page as a hostile one.
  auto ctl_map = must(d.t1->grants().map(0, control->refs(), access::read_write), "map control");
  auto peer_plan = must(vchan::read_plan(ctl_map->bytes()), "read plan");
  std::unique_ptr<mapped_pages> left_map, right_map;
  auto map_ring = [&](const vchan::ring_place& p, std::unique_ptr<mapped_pages>& out,
                      xenwire::access a) -> std::span<std::byte> {
    if (p.in_page()) return vchan::in_page_ring(ctl_map->bytes(), p);
    auto ring_refs = vchan::read_grants(ctl_map->bytes(), p);
    out = must(d.t1->grants().map(0, ring_refs, a), "map ring");
    return out->bytes().first(p.bytes());
  };
  // The client writes the left ring and reads the right one, read-only.
  const vchan::ring_data client_rings{map_ring(peer_plan.left, left_map, access::read_write),
                                      map_ring(peer_plan.right, right_map, access::read_only)};
  auto client = must(vchan::stream::attach(vchan::role::client, ctl_map->bytes(), client_rings), "client attach");
  client.set_live(vchan::live::connected);

  vchan::stream& w = client_writes ? client : server;
  vchan::stream& r = client_writes ? server : client;
  const waker ww = client_writes ? d.wake1(m) : d.wake0(m);
  const waker rw = client_writes ? d.wake0(m) : d.wake1(m);
  return stream_rate(
      total, chunk, [&](std::span<const std::byte> b) { return w.write(b); },
      [&](std::span<std::byte> b) { return r.read(b); }, ww, rw);
}

// Xenstore: dom1 is the guest (its page is ref 1), dom0 the server; guest → server requests.
double xenstore_rate(std::size_t total, std::size_t chunk, mode m) {
  two_domains d;
  auto page = must(d.t1->grants().share(0, 1, access::read_write), "share xenstore page");
  auto server_map = must(d.t0->grants().map(1, page->refs(), access::read_write), "map xenstore page");
  auto server = must(xenstore::server_ring::attach(server_map->bytes(), xenstore::feature::error), "server attach");
  auto guest = must(xenstore::guest_ring::attach(page->bytes()), "guest attach");
  return stream_rate(
      total, chunk, [&](std::span<const std::byte> b) { return guest.write(b); },
      [&](std::span<std::byte> b) { return server.read(b); }, d.wake1(m), d.wake0(m));
}

struct bench_case {
  std::string name;
  std::size_t ring, chunk;
  std::function<double(std::size_t total, mode m)> run;
};

}  // namespace

int main(int argc, char** argv) {
  xenwire::bench::program = "bench_ring_throughput";
  const std::size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 64;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::size_t total = mib << 20;

  const std::vector<bench_case> cases = {
      {"vchan 64 KiB granted ring", 65536, 4096,
       [](std::size_t t, mode m) { return vchan_rate(65536, 1024, true, t, 4096, m); }},
      {"vchan 1 KiB in-page ring (left)", 1024, 512,
       [](std::size_t t, mode m) { return vchan_rate(1024, 2048, true, t, 512, m); }},
      {"vchan 2 KiB in-page ring (right)", 2048, 1024,
       [](std::size_t t, mode m) { return vchan_rate(1024, 2048, false, t, 1024, m); }},
      {"xenstore 1 KiB ring (req)", 1024, 512, [](std::size_t t, mode m) { return xenstore_rate(t, 512, m); }},
  };

  std::printf("ring throughput, two threads, %zu MiB per run, median of %d runs; data over sim-granted pages\n",
              mib, runs);
  std::printf("%-34s %6s %6s  %11s %11s %7s  %11s %7s\n", "ring", "ring", "chunk", "memcpy MB/s", "poll MB/s",
              "ratio", "evtchn MB/s", "ratio");
  for (const auto& c : cases) {
    std::vector<double> base, poll, ev;
    for (int i = 0; i < runs; ++i) {
      base.push_back(memcpy_rate(total, c.chunk, c.ring));
      poll.push_back(c.run(total, mode::poll));
      ev.push_back(c.run(total / 4, mode::evtchn));  // blocking wake-ups are slow: a quarter of the bytes
    }
    const double b = median(base), p = median(poll), e = median(ev);
    std::printf("%-34s %6zu %6zu  %11.0f %11.0f %7.4f  %11.0f %7.4f\n", c.name.c_str(), c.ring, c.chunk, b / 1e6,
                p / 1e6, p / b, e / 1e6, e / b);
  }
  return 0;
}
