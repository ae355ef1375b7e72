// Fuzz: the Xenstore server's end of the ring page, fed a hostile guest. The input is the initial page
// (2080 bytes, zero-padded) followed by a script of guest scribbles and server calls. Invariants:
// no out-of-bounds access (the page is its own exact heap block), counts within bounds, and a
// stopped server stays stopped (and says so in the page) until a reconnect.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "xenwire/ring/xenstore_ring.hpp"

#include "fuzz_input.hpp"

namespace {

using xenwire::fuzzing::check;
using xenwire::fuzzing::input;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace xenwire;
  input in{data, size};
  auto page = fuzzing::page_from<xenstore::domain_interface>(in);
  std::span<std::byte> bytes = fuzzing::bytes_of(*page);

  auto server = xenstore::server_ring::attach(bytes, xenstore::feature::reconnection | xenstore::feature::error);
  check(server.has_value());
  check((page->server_features & (xenstore::feature::reconnection | xenstore::feature::error)) != 0);
  std::vector<std::byte> buf(2 * xenstore::ring_size);

  while (in.n > 0) {
    const xenstore::ring_error before = server->stopped();
    switch (in.u8() % 9) {
      case 0: {
        const std::size_t len = in.u8() * std::size_t{9};
        auto r = server->read({buf.data(), len});
        if (r) check(r->bytes <= len && r->bytes <= xenstore::ring_size && r->notify == (r->bytes > 0));
        break;
      }
      case 1: {
        const std::size_t len = in.u8() * std::size_t{9};
        auto w = server->write({buf.data(), len});
        if (w) check(w->bytes <= len && w->bytes <= xenstore::ring_size);
        break;
      }
      case 2: page->req_prod = in.u32(); break;
      case 3: page->rsp_cons = in.u32(); break;
      case 4: page->connection = in.u32(); break;
      case 5: page->req_cons = in.u32(), page->rsp_prod = in.u32(); break;  // scribbles on server-owned indices
      case 6:
        if (server->handle_reconnect()) {
          check(page->connection == 0 && page->error == 0 && server->stopped() == xenstore::ring_error::none);
          check(page->req_prod == 0 && page->rsp_prod == 0);
        }
        continue;
      case 7: server->stop(xenstore::ring_error::proto); break;
      default: {
        auto a = server->data_available();
        auto s = server->space();
        if (a) check(*a <= xenstore::ring_size);
        if (s) check(*s <= xenstore::ring_size);
        break;
      }
    }
    if (before != xenstore::ring_error::none) check(server->stopped() == before);  // sticky
    if (server->stopped() != xenstore::ring_error::none) {
      check(!server->read({buf.data(), 1}).has_value());
    }
  }
  return 0;
}
