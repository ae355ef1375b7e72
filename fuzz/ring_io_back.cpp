// Fuzz: the back end of an io/ring.h ring fed a hostile front end. The input is the initial 64-byte
// header and a start index, then a script of front-end scribbles (any req_prod, req_event, slot bytes)
// and back-end calls. Invariants: no access outside the one-page region, never more unanswered
// requests than slots, and a ring found corrupt stays corrupt.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "xenwire/ring/io_ring.hpp"

#include "fuzz_input.hpp"

namespace {

using xenwire::fuzzing::check;
using xenwire::fuzzing::input;

struct req_t {
  std::uint64_t id;
  std::uint8_t op, flags;
  std::uint16_t len;
};
struct rsp_t {
  std::uint64_t id;
  std::int32_t status;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace xenwire;
  using namespace xenwire::io_ring;
  input in{data, size};
  constexpr std::size_t region_size = 4096;
  auto* mem = new (std::align_val_t{4096}) std::byte[region_size]();
  in.fill(mem, sizeof(shared_header));
  auto* h = static_cast<shared_header*>(static_cast<void*>(mem));
  auto back = back_ring<req_t, rsp_t>::attach({mem, region_size}, in.u32());
  check(back.has_value());
  const ring_idx slots = back->size();

  while (in.n > 0) {
    const bool was_corrupt = static_cast<bool>(back->error());
    switch (in.u8() % 7) {
      case 0: h->req_prod = in.u32(); break;
      case 1: h->req_prod = back->rsp_prod_pvt() + in.u8(); break;  // near the honest range
      case 2: {
        const std::size_t at = sizeof(shared_header) + in.u8() * std::size_t{16} % (region_size - 64);
        in.fill(mem + at, std::min<std::size_t>(16, region_size - at));
        break;
      }
      case 3: {
        for (unsigned i = in.u8() % 8; i > 0; --i) {
          auto q = back->take_request();
          if (!q || !*q) break;
          check(back->req_cons() - back->rsp_prod_pvt() <= slots);
        }
        break;
      }
      case 4:
        if (!back->error() && back->req_cons() != back->rsp_prod_pvt()) {
          check(back->queue_response(rsp_t{in.u32(), 0}).has_value());
        }
        break;
      case 5:
        h->rsp_event = in.u32();
        (void)back->push_responses_and_check_notify();
        break;
      default: (void)back->final_check_for_requests(); break;
    }
    if (was_corrupt) check(!back->take_request().has_value());
  }
  ::operator delete[](mem, std::align_val_t{4096});
  return 0;
}
