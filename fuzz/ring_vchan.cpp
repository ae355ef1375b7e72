// Fuzz: a libxenvchan control page written by a hostile peer, then a stream over it. The input is the
// control page (4096 bytes, zero-padded) and the role we play, then a script of peer scribbles and our
// calls. Invariants: a page we accept places rings inside the page, apart from each other and from the
// grant list; no access outside the page or the granted ring blocks (each its own exact heap block);
// counts within bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "xenwire/ring/vchan_placement.hpp"
#include "xenwire/ring/vchan_ring.hpp"

#include "fuzz_input.hpp"

namespace {

using xenwire::fuzzing::check;
using xenwire::fuzzing::input;

struct block {
  explicit block(std::size_t n) : mem(new (std::align_val_t{64}) std::byte[n]()), size(n) {}
  ~block() { ::operator delete[](mem, std::align_val_t{64}); }
  block(const block&) = delete;
  block& operator=(const block&) = delete;
  std::span<std::byte> bytes() { return {mem, size}; }
  std::byte* mem;
  std::size_t size;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace xenwire;
  using namespace xenwire::vchan;
  input in{data, size};
  block page(page_size);
  in.fill(page.mem, page_size);
  const role me = in.u8() % 2 ? role::client : role::server;

  auto plan = read_plan(page.bytes());
  if (!plan) return 0;
  const std::size_t grants_end = grants_offset + plan->grant_count() * sizeof(grant_ref_t);
  check(grants_end <= page_size);
  // Granted rings get their own exact blocks (the mapping a real endpoint would make).
  std::unique_ptr<block> granted[2];
  std::span<std::byte> ring[2];
  const ring_place* places[2] = {&plan->left, &plan->right};
  for (int i = 0; i < 2; ++i) {
    if (places[i]->in_page()) {
      ring[i] = in_page_ring(page.bytes(), *places[i]);
      check(!ring[i].empty() && places[i]->page_offset >= grants_end);
    } else {
      check(read_grants(page.bytes(), *places[i]).size() == places[i]->grant_count);
      granted[i] = std::make_unique<block>(places[i]->bytes());
      ring[i] = granted[i]->bytes();
    }
  }
  auto s = stream::attach(me, page.bytes(), ring_data{ring[0], ring[1]});
  check(s.has_value());
  const std::size_t read_size = s->reader().size(), write_size = s->writer().size();
  auto* ctl = static_cast<interface*>(static_cast<void*>(page.mem));
  std::vector<std::byte> buf(3 * 4096);

  while (in.n > 0) {
    switch (in.u8() % 10) {
      case 0: {
        const std::size_t len = in.u8() * std::size_t{37};
        auto r = s->read({buf.data(), len});
        if (r) check(r->bytes <= len && r->bytes <= read_size);
        break;
      }
      case 1: {
        const std::size_t len = in.u8() * std::size_t{37};
        auto w = s->write({buf.data(), len});
        if (w) check(w->bytes <= len && w->bytes <= write_size);
        break;
      }
      case 2: ctl->left.prod = in.u32(), ctl->right.cons = in.u32(); break;
      case 3: ctl->left.cons = in.u32(), ctl->right.prod = in.u32(); break;
      case 4: ctl->cli_notify = in.u8(), ctl->srv_notify = in.u8(); break;
      case 5: ctl->cli_live = in.u8(), ctl->srv_live = in.u8(); break;
      case 6: {
        auto a = s->data_ready(in.u8());
        auto b = s->buffer_space(in.u8());
        if (a) check(*a <= read_size);
        if (b) check(*b <= write_size);
        break;
      }
      case 7: {  // the quiet path (vchan::endpoint's)
        const std::size_t len = in.u8() * std::size_t{37};
        auto r = s->read_some({buf.data(), len});
        if (r) check(r->bytes <= len && r->bytes <= read_size);
        break;
      }
      case 8: {
        const std::size_t len = in.u8() * std::size_t{37};
        auto staged = s->stage({buf.data(), len});
        if (!staged) break;
        check(*staged <= len && *staged <= write_size);
        const std::size_t publish = in.u8() % 2 ? *staged : *staged / 2;
        check(s->commit(publish).bytes == publish);
        break;
      }
      default:
        (void)s->peer_open();
        (void)s->take_notify_request(in.u8() & 3);
        break;
    }
  }
  return 0;
}
