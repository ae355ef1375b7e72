// Fuzz: a vchan endpoint (server or client) facing a hostile peer that scribbles on the shared
// control page and rings between the endpoint's calls. The input picks our role and ring sizes (and,
// facing a hostile server, the page it offers: orders, live bytes, grant list), then a script of
// peer scribbles and endpoint calls. Invariants: no access outside shared memory (ASan), calls never
// move more than asked, a failed endpoint reports the same error from every call, and once both
// sides are gone the simulated host is clean.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "fuzz_input.hpp"
#include "xenwire/ring/vchan_layout.hpp"
#include "xenwire/sim/host.hpp"
#include "xenwire/vchan/endpoint.hpp"
#include "xenwire/vchan/memory_rendezvous.hpp"

namespace {

using namespace xenwire;
using xenwire::fuzzing::check;
using xenwire::fuzzing::input;

constexpr domid_t srv_dom = 1, cli_dom = 2;
constexpr std::size_t sizes[] = {0, 1000, 1024, 2048, 3000, 4096, 8192, 65536};

struct peer_view {
  std::unique_ptr<event_channel> events;
  evtchn_port_t port = 0;
  std::unique_ptr<shared_pages> shared;  // facing a client endpoint: the page we offer
  std::unique_ptr<mapped_pages> mapped;  // facing a server endpoint: the page we map
  std::vector<std::unique_ptr<shared_pages>> rings;
  std::span<std::byte> page() { return shared ? shared->bytes() : mapped ? mapped->bytes() : std::span<std::byte>{}; }
};

void scribble(input& in, peer_view& p) {
  auto page = p.page();
  if (page.empty()) return;
  // Mostly the 24-byte header, sometimes the grant list or an in-page ring.
  const std::size_t at = in.u8() % 4 ? in.u8() % 24 : (std::size_t{in.u8()} << 4 | in.u8()) % page_size;
  const std::uint8_t v = in.u8();
  std::memcpy(page.data() + at, &v, 1);
}

void run_script(input& in, vchan::endpoint& ep, peer_view& peer) {
  std::vector<std::byte> buf(70000);
  for (int steps = 0; in.n > 0 && steps < 200; ++steps) {
    const std::uint8_t op = in.u8();
    const std::size_t n = (std::size_t{in.u8()} << 8 | in.u8()) % buf.size();
    std::span<std::byte> b(buf.data(), n);
    std::error_code err;
    switch (op % 9) {
      case 0: case 1: scribble(in, peer); break;
      case 2: {
        auto r = ep.read(b);
        if (r) check(*r <= n); else err = r.error();
        break;
      }
      case 3: {
        auto r = ep.write(b);
        if (r) check(*r <= n); else err = r.error();
        break;
      }
      case 4: if (auto r = ep.recv(b); !r) err = r.error(); break;
      case 5: if (auto r = ep.send(b); !r) err = r.error(); break;
      case 6: if (auto r = ep.handle_events(); !r) err = r.error(); break;
      case 7: {
        auto r = ep.data_ready();
        if (r) check(*r <= ep.read_ring_size()); else err = r.error();
        auto s = ep.buffer_space();
        if (s) check(*s <= ep.write_ring_size());
        break;
      }
      case 8:
        if (peer.events && in.u8() % 8 == 0) (void)peer.events->unbind(peer.port);
        break;
    }
    // A failed endpoint is failed for good, with one error.
    if (ep.state() == vchan::status::failed) {
      check(static_cast<bool>(ep.error()));
      auto again = ep.read(b);
      check(!again && again.error() == ep.error());
    }
    (void)err;
  }
}

const vchan::io_options nb{.mode = vchan::io_mode::non_blocking};

// Our server against a raw client.
void fuzz_server(input& in, sim::host& host, sim::domain_transport& st, sim::domain_transport& ct) {
  vchan::memory_rendezvous rdv;
  const auto path = vchan::default_path(srv_dom, cli_dom, "fuzz");
  auto ep = vchan::endpoint::serve(st, rdv, {.client = cli_dom, .path = path, .read_min = sizes[in.u8() % 8],
                                             .write_min = sizes[in.u8() % 8], .persistent = in.u8() % 4 == 0, .io = nb});
  check(ep.has_value());
  peer_view peer;
  const auto k = ep->published();
  peer.events = ct.open_event_channel().value();
  if (auto p = peer.events->bind_interdomain(srv_dom, k.port)) peer.port = *p;
  if (auto m = ct.grants().map(srv_dom, std::span(&k.ring_ref, 1), access::read_write)) peer.mapped = std::move(*m);
  check(peer.mapped != nullptr);
  peer.page()[offsetof(vchan::interface, cli_live)] = std::byte{1};
  run_script(in, *ep, peer);
  ep->close();
  (void)host;
}

// Our client against a raw server whose page the input writes.
void fuzz_client(input& in, sim::host& host, sim::domain_transport& st, sim::domain_transport& ct) {
  vchan::memory_rendezvous rdv;
  const auto path = vchan::default_path(srv_dom, cli_dom, "fuzz");
  peer_view peer;
  peer.events = st.open_event_channel().value();
  peer.port = peer.events->bind_unbound(cli_dom).value();
  peer.shared = st.grants().share(cli_dom, 1, access::read_write).value();
  const std::size_t ring_pages = in.u8() % 5;
  std::vector<grant_ref_t> refs;
  for (std::size_t i = 0; i < ring_pages; ++i) {
    auto r = st.grants().share(cli_dom, 1, access::read_write).value();
    refs.push_back(r->refs()[0]);
    peer.rings.push_back(std::move(r));
  }
  auto page = peer.page();
  in.fill(page.data(), vchan::grants_offset);  // indices, orders, live and notify bytes
  // Grant list: mostly real ring refs (in an order the input picks), sometimes anything.
  for (std::size_t i = 0; i < 8; ++i) {
    const std::uint8_t pick = in.u8();
    const grant_ref_t ref = pick < 0xf0 && !refs.empty() ? refs[pick % refs.size()] : in.u32();
    std::memcpy(page.data() + vchan::grants_offset + i * 4, &ref, 4);
  }
  (void)rdv.publish(path, srv_dom, cli_dom, {peer.shared->refs()[0], peer.port});
  auto ep = vchan::endpoint::connect(ct, rdv, {.server = srv_dom, .path = path, .io = nb});
  if (ep) {
    run_script(in, *ep, peer);
    ep->close();
  }
  (void)host;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in{data, size};
  sim::host host;
  check(host.create_domain(srv_dom).has_value());
  check(host.create_domain(cli_dom).has_value());
  {
    auto st = host.transport(srv_dom).value();
    auto ct = host.transport(cli_dom).value();
    if (in.u8() % 2 == 0) {
      fuzz_server(in, host, *st, *ct);
    } else {
      fuzz_client(in, host, *st, *ct);
    }
  }
  // Everything our endpoint held is released by its close; the raw peer's by its destructors.
  check(static_cast<bool>(host.check_clean()));
  return 0;
}
