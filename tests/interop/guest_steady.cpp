// A guest that keeps using Xenstore over its ring while dom0's xenstored is replaced under it (live
// update): it writes, reads back, commits transactions and counts its watch's events until dom0
// writes its home's "stop" node, then prints what it did. Exit 0 only if every answer was right
// and every write fired exactly one event; any error, a wrong value or a lost or duplicated event
// is printed and exits 1.
//   xenwire-host run --domid 5 -- interop_guest_steady
#include <chrono>
#include <cstdio>
#include <string>

#include "xenwire/sim/remote.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/client/connection.hpp"

namespace xs = xenwire::xenstore;
using namespace std::chrono_literals;

namespace {

int failed(const char* what, const std::string& why) {
  std::printf("steady: %s: %s\n", what, why.c_str());
  return 1;
}

}  // namespace

int main() {
  auto t = xenwire::sim::remote_transport::connect();
  if (!t) return failed("joining the host", t.error().message());
  auto ep = (*t)->take_xenstore();
  if (!ep) return failed("taking the Xenstore page", ep.error().message());
  auto conn = xs::connect_ring(std::move(ep->page), std::move(ep->events), ep->port);
  if (!conn) return failed("ring", conn.error().message());
  // Long enough for any live update's blackout: a request in flight then is answered after it.
  auto opened = xs::client::open(std::move(*conn), {.timeout = 60s});
  if (!opened) return failed("client", opened.error().message());
  xs::client& c = *opened;

  auto w = c.add_watch("data", {.depth = std::nullopt, .queue_limit = 0, .token = "steady"});
  if (!w) return failed("watch data", w.error().message());
  std::size_t events = 0, fired = 1;  // the watch's initial event
  auto drain = [&] {
    while (auto e = w->try_next()) ++events;
  };
  std::size_t writes = 0, commits = 0, conflicts = 0;
  for (std::uint64_t i = 0;; ++i) {
    const std::string v = std::to_string(i);
    if (auto r = c.write("data/k", v); !r) return failed("write data/k", r.error().message());
    ++writes;
    ++fired;
    auto got = c.read("data/k");
    if (!got) return failed("read data/k", got.error().message());
    if (*got != v) return failed("read data/k", "\"" + *got + "\", wrote \"" + v + "\"");
    if (i % 4 == 0) {
      for (;;) {
        auto tx = c.transaction_start();
        if (!tx) return failed("transaction_start", tx.error().message());
        if (auto r = c.write("data/t", v, *tx); !r) return failed("write data/t in a transaction", r.error().message());
        auto in = c.read("data/t", *tx);
        if (!in || *in != v) return failed("read data/t in a transaction", in ? *in : in.error().message());
        auto end = c.transaction_end(*tx, true);
        if (end) break;
        if (!end.error().is(xs::xs_error::eagain)) return failed("commit", end.error().message());
        ++conflicts;  // EAGAIN: retry, as every client must
      }
      ++commits;
      ++fired;
    }
    drain();
    auto stop = c.exists("stop");
    if (!stop) return failed("exists stop", stop.error().message());
    if (*stop) break;
  }
  // Every event fired before "stop" was read is on its way: wait for the last ones.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (events < fired && std::chrono::steady_clock::now() < deadline) {
    if (auto e = w->next(100ms)) ++events;
  }
  drain();
  std::printf("steady: %zu writes, %zu commits (%zu retried), %zu of %zu events\n", writes, commits, conflicts, events,
              fired);
  return events == fired ? 0 : 1;
}
