// A guest caught mid-frame by a live update, on both halves of its ring:
//   1. it writes data/big (100 bytes), then sends 20 READs of it and reads no reply: the 1 KiB
//      response ring fills and the rest waits in the daemon (unsent output);
//   2. it sends the first half of a WRITE: the daemon takes the bytes off the ring and holds a
//      partial frame (unprocessed input);
//   3. it says "ready" and waits for FLAG_FILE (the caller creates it after the live update), sends
//      the WRITE's second half, then reads every reply: 20 times the value, in order, then "OK".
// Prints what it found; exit 0 only if every reply is right.
//   xenwire-host run --domid 7 -- interop_half_frame_guest FLAG_FILE
#include <sys/stat.h>

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

constexpr std::uint32_t xs_read = 2, xs_write = 11;

std::uint32_t load(std::uint32_t& field) {
  return std::atomic_ref<std::uint32_t>(field).load(std::memory_order_acquire);  // pairs with the daemon's stores
}
void store(std::uint32_t& field, std::uint32_t v) {
  std::atomic_ref<std::uint32_t>(field).store(v, std::memory_order_release);  // publishes the bytes before it
}

struct ring {
  xs::domain_interface& page;
  xenwire::event_channel& events;
  xenwire::evtchn_port_t port;

  // Copies `bytes` in as room appears (the daemon drains the request ring as it reads).
  bool put(std::string_view bytes) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!bytes.empty()) {
      const std::uint32_t prod = load(page.req_prod);
      const std::uint32_t room = xs::ring_size - (prod - load(page.req_cons));
      if (room == 0) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(1ms);
        continue;
      }
      const std::size_t n = std::min<std::size_t>(room, bytes.size());
      for (std::size_t i = 0; i < n; ++i) page.req[(prod + i) % xs::ring_size] = bytes[i];
      store(page.req_prod, prod + static_cast<std::uint32_t>(n));
      bytes.remove_prefix(n);
      static_cast<void>(events.notify(port));
    }
    return true;
  }
  // Takes `n` response bytes, waiting for them.
  bool take(char* out, std::size_t n) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (n > 0) {
      const std::uint32_t cons = load(page.rsp_cons);
      const std::uint32_t avail = load(page.rsp_prod) - cons;
      if (avail == 0) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(1ms);
        continue;
      }
      const std::size_t k = std::min<std::size_t>(avail, n);
      for (std::size_t i = 0; i < k; ++i) *out++ = page.rsp[(cons + i) % xs::ring_size];
      store(page.rsp_cons, cons + static_cast<std::uint32_t>(k));
      n -= k;
      static_cast<void>(events.notify(port));  // room for the daemon's next reply
    }
    return true;
  }
  bool reply(std::uint32_t& type, std::uint32_t& req_id, std::string& payload) {
    std::uint32_t h[4];
    if (!take(reinterpret_cast<char*>(h), sizeof h)) return false;
    type = h[0];
    req_id = h[1];
    payload.assign(h[3], '\0');
    return take(payload.data(), payload.size());
  }
};

std::string frame(std::uint32_t type, std::uint32_t req_id, std::string_view payload) {
  const std::uint32_t h[4] = {type, req_id, 0, static_cast<std::uint32_t>(payload.size())};
  std::string f(reinterpret_cast<const char*>(h), sizeof h);
  return f.append(payload);
}

int failed(const std::string& why) {
  std::printf("half-frame guest: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return failed("usage: interop_half_frame_guest FLAG_FILE");
  auto t = xenwire::sim::remote_transport::connect();
  if (!t) return failed("cannot join the host: " + t.error().message());
  auto ep = (*t)->take_xenstore();
  if (!ep) return failed("no Xenstore page: " + ep.error().message());
  ring r{*static_cast<xs::domain_interface*>(static_cast<void*>(ep->page->bytes().data())), *ep->events, ep->port};

  const std::string big(100, 'b');
  std::uint32_t type = 0, id = 0;
  std::string payload;
  if (!r.put(frame(xs_write, 1, "data/big" + std::string(1, '\0') + big)) || !r.reply(type, id, payload) ||
      type != xs_write)
    return failed("write data/big: no answer, or type " + std::to_string(type) + " \"" + payload + "\"");
  constexpr std::uint32_t reads = 20;
  for (std::uint32_t i = 0; i < reads; ++i)
    if (!r.put(frame(xs_read, 100 + i, "data/big" + std::string(1, '\0')))) return failed("request ring stuck");
  const std::string write = frame(xs_write, 200, "data/half" + std::string(1, '\0') + "after-update");
  if (!r.put(std::string_view(write).substr(0, 20))) return failed("request ring stuck");
  // The daemon has read the half frame once the request ring is empty.
  for (int i = 0; i < 5000 && load(r.page.req_cons) != load(r.page.req_prod); ++i) std::this_thread::sleep_for(1ms);
  if (load(r.page.req_cons) != load(r.page.req_prod)) return failed("the daemon did not read the half frame");
  std::printf("ready\n");
  std::fflush(stdout);

  struct stat st{};
  for (int i = 0; i < 3000 && ::stat(argv[1], &st) != 0; ++i) std::this_thread::sleep_for(10ms);
  if (::stat(argv[1], &st) != 0) return failed("no flag file");
  if (!r.put(std::string_view(write).substr(20))) return failed("request ring stuck");
  for (std::uint32_t i = 0; i < reads; ++i) {
    if (!r.reply(type, id, payload)) return failed("reply " + std::to_string(i) + " missing");
    if (type != xs_read || id != 100 + i || payload != big)
      return failed("reply " + std::to_string(i) + ": type " + std::to_string(type) + " id " + std::to_string(id));
  }
  if (!r.reply(type, id, payload)) return failed("the WRITE completed after the update: no answer");
  if (type != xs_write || id != 200 || payload != std::string("OK") + '\0')
    return failed("the WRITE completed after the update: type " + std::to_string(type) + " \"" + payload + "\"");
  std::printf("20 replies held back and a half-sent WRITE crossed the update\n");
  return 0;
}
