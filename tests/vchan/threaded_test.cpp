// Two real threads, one endpoint each, blocking mode: a stream each way at once, and packets, over
// in-page and granted rings. Wake-ups go only through the event channel, so a lost wake-up is a
// timeout failure. Runs under TSan in CI (label concurrent).
#include <gtest/gtest.h>

#include <thread>

#include "vchan_test_support.hpp"

namespace xenwire::vchan {
namespace {

using namespace testing;
using namespace std::chrono_literals;

void duplex(std::size_t read_min, std::size_t write_min, std::size_t total, unsigned spin) {
  two_domains d;
  const io_options io{.mode = io_mode::blocking, .timeout = 20s, .spin = spin};
  auto srv = d.serve(read_min, write_min, io);
  auto cli = d.connect(io);
  const auto up = pattern(total, 1), down = pattern(total, 2);
  std::vector<std::byte> got_up(total), got_down(total);
  std::string srv_err, cli_err;
  // Each thread writes its stream in odd-sized chunks while its reader thread drains the other one.
  auto pump = [&](endpoint& ep, const std::vector<std::byte>& out, std::vector<std::byte>& in, std::string& err) {
    std::size_t sent = 0, got = 0, chunk = 1;
    while (sent < out.size() || got < in.size()) {
      // Alternate: a write that may block needs the peer to read, and the peer alternates too,
      // so write only what fits, then read what is there.
      if (sent < out.size()) {
        auto space = ep.buffer_space();
        if (!space) return void(err = "space: " + space.error().message());
        const std::size_t n = std::min({out.size() - sent, chunk, std::max<std::size_t>(*space, 1)});
        auto w = ep.write({out.data() + sent, n});
        if (!w) return void(err = "write: " + w.error().message());
        sent += *w;
      }
      if (got < in.size()) {
        auto ready = ep.data_ready();
        if (!ready) return void(err = "ready: " + ready.error().message());
        if (*ready > 0 || sent == out.size()) {
          auto r = ep.read({in.data() + got, std::min(in.size() - got, chunk * 2)});
          if (!r) return void(err = "read: " + r.error().message());
          got += *r;
        }
      }
      chunk = chunk % 1500 + 97;
    }
  };
  std::thread t([&] { pump(cli, up, got_down, cli_err); });
  pump(srv, down, got_up, srv_err);
  t.join();
  EXPECT_EQ(srv_err, "");
  EXPECT_EQ(cli_err, "");
  EXPECT_TRUE(got_up == up);
  EXPECT_TRUE(got_down == down);
}

TEST(VchanThreaded, DuplexInPageRings) { duplex(1024, 2048, 256 * 1024, 4000); }
TEST(VchanThreaded, DuplexGrantedRings) { duplex(65536, 16384, 1024 * 1024, 4000); }
TEST(VchanThreaded, DuplexWithoutSpinning) { duplex(4096, 4096, 256 * 1024, 0); }

TEST(VchanThreaded, PacketsOneWayBlocking) {
  two_domains d;
  const io_options io{.mode = io_mode::blocking, .timeout = 20s, .spin = 100};
  auto srv = d.serve(8192, 2048, io);
  auto cli = d.connect(io);
  constexpr int count = 5000;
  std::string err;
  std::thread t([&] {
    for (int i = 0; i < count; ++i) {
      auto p = pattern(1 + static_cast<std::size_t>(i) % 8192, static_cast<std::uint32_t>(i));
      if (auto ok = cli.send(p); !ok) return void(err = ok.error().message());
    }
  });
  for (int i = 0; i < count; ++i) {
    std::vector<std::byte> got(1 + static_cast<std::size_t>(i) % 8192);
    auto ok = srv.recv(got);
    ASSERT_TRUE(ok) << ok.error().message();
    ASSERT_EQ(got, pattern(got.size(), static_cast<std::uint32_t>(i))) << i;
  }
  t.join();
  EXPECT_EQ(err, "");
}

TEST(VchanThreaded, BlockedReaderWakesWhenPeerDies) {
  two_domains d;
  auto srv = d.serve(1024, 2048, {.mode = io_mode::blocking, .timeout = 20s});
  auto cli = d.connect();
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    (void)d.host.destroy_domain(client_dom);
  });
  std::vector<std::byte> buf(8);
  EXPECT_EQ(srv.read(buf).error(), errc::peer_closed);
  t.join();
}

}  // namespace
}  // namespace xenwire::vchan
