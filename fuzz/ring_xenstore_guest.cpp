// Fuzz: the guest's end of the Xenstore ring page, fed a hostile (or broken) server. The input is the
// initial page followed by a script of server scribbles and guest calls. Invariants: no out-of-bounds
// access, counts within bounds, a ring found corrupt stays corrupt (until a completed reconnect).
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

  auto guest = xenstore::guest_ring::attach(bytes);
  check(guest.has_value());
  std::vector<std::byte> buf(2 * xenstore::ring_size);
  // After ring_corrupt, asking again without any change to the page must fail the same way.
  auto sticky = [&](const std::error_code& e, bool reading) {
    if (e != errc::ring_corrupt || page->error != 0) return;
    auto again = reading ? guest->data_available() : guest->space();
    check(!again && again.error() == errc::ring_corrupt);
  };

  while (in.n > 0) {
    switch (in.u8() % 8) {
      case 0: {
        const std::size_t len = in.u8() * std::size_t{9};
        auto r = guest->read({buf.data(), len});
        if (r) check(r->bytes <= len && r->bytes <= xenstore::ring_size);
        if (!r) sticky(r.error(), true);
        break;
      }
      case 1: {
        const std::size_t len = in.u8() * std::size_t{9};
        auto w = guest->write({buf.data(), len});
        if (w) check(w->bytes <= len && w->bytes <= xenstore::ring_size);
        if (!w) sticky(w.error(), false);
        break;
      }
      case 2: page->rsp_prod = in.u32(); break;
      case 3: page->req_cons = in.u32(); break;
      case 4: page->error = in.u32() % 5; break;
      case 5: page->server_features = in.u32(); break;
      case 6: {
        // The server side of a reconnect, done by hand (possibly badly) by the fuzzer.
        if (guest->request_reconnect()) {
          page->req_cons = page->req_prod = in.u32();
          page->rsp_cons = page->rsp_prod = in.u32();
          page->connection = in.u8() % 2;
        }
        break;
      }
      default:
        page->connection = in.u8() % 3;
        break;
    }
  }
  return 0;
}
