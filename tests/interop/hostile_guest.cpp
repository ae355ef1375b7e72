// A guest that corrupts its own Xenstore ring, run as a domain of the cross-process host against a
// dom0 xenstored (ours on either backend, or Xen's C xenstored on the emulation):
//   1. one valid request, answered (the ring works);
//   2. req_prod pushed 4000 bytes past req_cons (more than the 1 KiB ring holds) and the port
//      signalled: the daemon must stop serving the ring and say why, never read past it;
//   3. one more valid request, which must not be answered.
// Prints one line per step; the caller compares them with what each daemon is expected to do.
//   xenwire-host run --domid 6 -- interop_hostile_guest
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "xenwire/ring/xenstore_layout.hpp"
#include "xenwire/sim/remote.hpp"

namespace xs = xenwire::xenstore;
using namespace std::chrono_literals;

namespace {

std::uint32_t load(std::uint32_t& field) {
  return std::atomic_ref<std::uint32_t>(field).load(std::memory_order_acquire);  // pairs with the daemon's stores
}
void store(std::uint32_t& field, std::uint32_t v) {
  std::atomic_ref<std::uint32_t>(field).store(v, std::memory_order_release);  // publishes the bytes before it
}

// Writes one READ request of `path` at the producer index (the ring is empty between requests here).
void put_read(xs::domain_interface& page, const std::string& path) {
  const std::uint32_t header[4] = {2 /* XS_READ */, 0, 0, static_cast<std::uint32_t>(path.size() + 1)};
  std::string frame(sizeof header, '\0');
  std::memcpy(frame.data(), header, sizeof header);
  frame += path;
  frame += '\0';
  std::uint32_t prod = load(page.req_prod);
  for (char c : frame) page.req[prod++ % xs::ring_size] = c;
  store(page.req_prod, prod);
}

// Waits for the daemon to move rsp_prod; true if it did within `limit`.
bool answered(xs::domain_interface& page, std::uint32_t rsp_before, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (load(page.rsp_prod) != rsp_before) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

}  // namespace

int main() {
  auto t = xenwire::sim::remote_transport::connect();
  if (!t) return std::fprintf(stderr, "hostile_guest: cannot join the host: %s\n", t.error().message().c_str()), 1;
  auto ep = (*t)->take_xenstore();
  if (!ep) return std::fprintf(stderr, "hostile_guest: no Xenstore page: %s\n", ep.error().message().c_str()), 1;
  auto& page = *static_cast<xs::domain_interface*>(static_cast<void*>(ep->page->bytes().data()));

  std::uint32_t rsp = load(page.rsp_prod);
  put_read(page, "domid");
  static_cast<void>(ep->events->notify(ep->port));
  std::printf("valid request answered: %s\n", answered(page, rsp, 5s) ? "yes" : "no");
  // Consume the reply so that the response ring is empty again.
  store(page.rsp_cons, load(page.rsp_prod));

  store(page.req_prod, load(page.req_cons) + 4000);
  static_cast<void>(ep->events->notify(ep->port));
  std::this_thread::sleep_for(500ms);
  const std::uint32_t error = load(page.error);
  std::printf("error field after corrupt indices: %s\n", error == 2 ? "RINGIDX" : std::to_string(error).c_str());

  rsp = load(page.rsp_prod);
  store(page.req_cons, load(page.req_prod));  // as if the corrupt bytes were gone: a fresh request
  put_read(page, "domid");
  static_cast<void>(ep->events->notify(ep->port));
  std::printf("request after corruption answered: %s\n", answered(page, rsp, 1s) ? "yes" : "no");
  return 0;
}
