// Two real threads per ring, streaming end to end. Wake-ups go through a tiny event-channel stand-in
// (a pending flag per side) that is signalled only when the ring code says `notify`, so a lost
// wake-up shows up as a timeout failure, not a hang. CI runs these under TSan (label `concurrent`).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "ring_test_support.hpp"
#include "xenwire/ring/io_ring.hpp"
#include "xenwire/ring/vchan_placement.hpp"
#include "xenwire/ring/vchan_ring.hpp"
#include "xenwire/ring/xenstore_ring.hpp"

namespace xenwire {
namespace {

using ring_test::stream_byte;
using namespace std::chrono_literals;

// One side's event channel: notify() sets pending, wait() takes it (coalescing, like evtchn).
struct event {
  void notify() {
    // Pairs with the acquire in wait(): a wake-up carries everything the notifier did before it.
    pending.store(true, std::memory_order_release);
  }
  // False on timeout (a lost wake-up) or when the other thread gave up.
  bool wait(const std::atomic<bool>& abort) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    // Pairs with the release in notify().
    while (!pending.exchange(false, std::memory_order_acquire)) {
      if (abort.load(std::memory_order_relaxed) || std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }
  std::atomic<bool> pending{false};
};

struct aligned_page {
  explicit aligned_page(std::size_t n = 4096) : mem(new (std::align_val_t{4096}) std::byte[n]()), size(n) {}
  ~aligned_page() { ::operator delete[](mem, std::align_val_t{4096}); }
  aligned_page(const aligned_page&) = delete;
  aligned_page& operator=(const aligned_page&) = delete;
  std::span<std::byte> bytes() { return {mem, size}; }
  std::byte* mem;
  std::size_t size;
};

using write_fn = std::function<result<transfer>(std::span<const std::byte>)>;
using read_fn = std::function<result<transfer>(std::span<std::byte>)>;

// One side of a duplex byte stream on one thread: sends `total` stream bytes and receives `total`
// (checking each), in varying chunk sizes; sleeps on `self` only when neither direction moved.
// Returns an empty string on success, else what went wrong.
std::string duplex(std::size_t total, const write_fn& write, const read_fn& read, event& self, event& peer,
                   std::atomic<bool>& abort) {
  std::vector<std::byte> out(3000), in(2500);
  std::size_t sent = 0, got = 0, step = 0;
  auto give_up = [&](std::string why) {
    abort.store(true, std::memory_order_relaxed);
    return why;
  };
  while (sent < total || got < total) {
    ++step;
    bool moved = false;
    if (sent < total) {
      const std::size_t len = std::min(total - sent, 1 + (step * 397) % out.size());
      for (std::size_t i = 0; i < len; ++i) out[i] = stream_byte(sent + i);
      auto w = write({out.data(), len});
      if (!w) return give_up("write: " + w.error().message());
      if (w->notify) peer.notify();
      sent += w->bytes;
      moved = moved || w->bytes > 0;
    }
    if (got < total) {
      const std::size_t len = 1 + (step * 211) % in.size();
      auto r = read({in.data(), len});
      if (!r) return give_up("read: " + r.error().message());
      if (r->notify) peer.notify();
      for (std::size_t i = 0; i < r->bytes; ++i) {
        if (in[i] != stream_byte(got + i)) return give_up("corrupted byte at " + std::to_string(got + i));
      }
      got += r->bytes;
      moved = moved || r->bytes > 0;
    }
    if (!moved && !self.wait(abort)) return give_up("no wake-up (lost notification?) or peer failed");
  }
  return {};
}

constexpr std::size_t stream_total = 512 * 1024;

TEST(ThreadedRing, XenstoreGuestAndServerStreamBothWays) {
  aligned_page page;
  auto* d = static_cast<xenstore::domain_interface*>(static_cast<void*>(page.mem));
  d->req_cons = d->req_prod = 0xFFFFF000u;  // both streams cross the u32 wrap
  d->rsp_cons = d->rsp_prod = 0xFFFFFF00u;
  auto guest = xenstore::guest_ring::attach(page.bytes()).value();
  auto server = xenstore::server_ring::attach(page.bytes(), xenstore::feature::error).value();
  event guest_ev, server_ev;
  std::atomic<bool> abort{false};
  std::string guest_result, server_result;
  std::thread g([&] {
    guest_result = duplex(stream_total, [&](auto b) { return guest.write(b); }, [&](auto b) { return guest.read(b); },
                          guest_ev, server_ev, abort);
  });
  std::thread s([&] {
    server_result = duplex(stream_total, [&](auto b) { return server.write(b); },
                           [&](auto b) { return server.read(b); }, server_ev, guest_ev, abort);
  });
  g.join();
  s.join();
  EXPECT_EQ(guest_result, "");
  EXPECT_EQ(server_result, "");
}

// The quiet data path (read_some/write_some) waits as vchan::endpoint does: a side that moved nothing
// asks for a signal and looks once more before its caller may sleep.
read_fn quiet_reader(vchan::stream& s) {
  return [&s](std::span<std::byte> out) -> result<transfer> {
    auto r = s.read_some(out);
    if (!r || r->bytes > 0) return r;
    s.request_notify(vchan::notify_write);
    return s.read_some(out);
  };
}
write_fn quiet_writer(vchan::stream& s) {
  return [&s](std::span<const std::byte> in) -> result<transfer> {
    auto w = s.write_some(in);
    if (!w || w->bytes > 0) return w;
    s.request_notify(vchan::notify_read);
    return s.write_some(in);
  };
}

enum class vchan_path { libxenvchan, quiet };

void vchan_both_ways(std::size_t left_min, std::size_t right_min, vchan_path path = vchan_path::libxenvchan) {
  aligned_page control;
  auto plan = vchan::server_plan(left_min, right_min).value();
  std::vector<grant_ref_t> refs(plan.grant_count());
  ring_test::must(vchan::init_control_page(control.bytes(), plan, refs));
  // Granted rings live in their own pages here; in-page ones inside the control page.
  aligned_page left_pages(std::max<std::size_t>(plan.left.bytes(), 4096));
  aligned_page right_pages(std::max<std::size_t>(plan.right.bytes(), 4096));
  auto left = plan.left.in_page() ? vchan::in_page_ring(control.bytes(), plan.left)
                                  : left_pages.bytes().first(plan.left.bytes());
  auto right = plan.right.in_page() ? vchan::in_page_ring(control.bytes(), plan.right)
                                    : right_pages.bytes().first(plan.right.bytes());
  auto server = vchan::stream::attach(vchan::role::server, control.bytes(), {left, right}).value();
  auto client = vchan::stream::attach(vchan::role::client, control.bytes(), {left, right}).value();
  client.set_live(vchan::live::connected);
  const bool quiet = path == vchan_path::quiet;
  const write_fn server_write = quiet ? quiet_writer(server) : [&](auto b) { return server.write(b); };
  const read_fn server_read = quiet ? quiet_reader(server) : [&](auto b) { return server.read(b); };
  const write_fn client_write = quiet ? quiet_writer(client) : [&](auto b) { return client.write(b); };
  const read_fn client_read = quiet ? quiet_reader(client) : [&](auto b) { return client.read(b); };
  event server_ev, client_ev;
  std::atomic<bool> abort{false};
  std::string server_result, client_result;
  std::thread s([&] { server_result = duplex(stream_total, server_write, server_read, server_ev, client_ev, abort); });
  std::thread c([&] { client_result = duplex(stream_total, client_write, client_read, client_ev, server_ev, abort); });
  s.join();
  c.join();
  EXPECT_EQ(server_result, "");
  EXPECT_EQ(client_result, "");
  EXPECT_EQ(server.peer_live(), vchan::live::connected);
}

TEST(ThreadedRing, VchanInPageRingsBothWays) { vchan_both_ways(1024, 2048); }
TEST(ThreadedRing, VchanGrantedRingsBothWays) { vchan_both_ways(65536, 16384); }
TEST(ThreadedRing, VchanQuietPathInPageRingsBothWays) { vchan_both_ways(1024, 2048, vchan_path::quiet); }
TEST(ThreadedRing, VchanQuietPathGrantedRingsBothWays) { vchan_both_ways(65536, 16384, vchan_path::quiet); }

struct req_t {
  std::uint64_t id;
};
struct rsp_t {
  std::uint64_t id, doubled;
};

TEST(ThreadedRing, IoRingRequestsAndResponses) {
  constexpr std::uint64_t total = 100000;
  aligned_page region;
  auto front = io_ring::front_ring<req_t, rsp_t>::init(region.bytes()).value();
  auto back = io_ring::back_ring<req_t, rsp_t>::attach(region.bytes()).value();
  event front_ev, back_ev;
  std::atomic<bool> abort{false};
  std::string front_result, back_result;
  std::thread f([&] {
    std::uint64_t next = 0, answered = 0;
    while (answered < total) {
      bool moved = false;
      while (next < total && !front.full()) {
        ring_test::must(front.queue_request(req_t{next++}));
        moved = true;
      }
      if (front.push_requests_and_check_notify()) back_ev.notify();
      for (;;) {
        auto r = front.take_response();
        if (!r) return void(front_result = r.error().message());
        if (!*r) break;
        if ((*r)->id != answered || (*r)->doubled != 2 * answered) return void(front_result = "bad response");
        ++answered;
        moved = true;
      }
      if (moved) continue;
      auto more = front.final_check_for_responses();
      if (!more) return void(front_result = more.error().message());
      if (!*more && !front_ev.wait(abort)) return void(front_result = "no wake-up"), abort.store(true);
    }
  });
  std::thread b([&] {
    std::uint64_t expected = 0;
    while (expected < total) {
      bool moved = false;
      for (;;) {
        auto q = back.take_request();
        if (!q) return void(back_result = q.error().message());
        if (!*q) break;
        if ((*q)->id != expected++) return void(back_result = "bad request");
        ring_test::must(back.queue_response(rsp_t{(*q)->id, 2 * (*q)->id}));
        moved = true;
      }
      if (back.push_responses_and_check_notify()) front_ev.notify();
      if (moved) continue;
      auto more = back.final_check_for_requests();
      if (!more) return void(back_result = more.error().message());
      if (!*more && !back_ev.wait(abort)) return void(back_result = "no wake-up"), abort.store(true);
    }
  });
  f.join();
  b.join();
  EXPECT_EQ(front_result, "");
  EXPECT_EQ(back_result, "");
}

}  // namespace
}  // namespace xenwire
