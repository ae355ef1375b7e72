// Hostile guests: malformed frames, floods, half frames, bad request nodes, forged keys.
#include "randomd_test_support.hpp"

namespace xenwire::randomd::testing {
namespace {

TEST_F(randomd_host, MalformedFramesGetBadRequestAndTheStreamStaysInSync) {
  start();
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  auto c = connect(*guests[0]);
  auto& ep = c.channel();
  const request bad[] = {
      {.version = 2, .id = 1, .length = 16},
      {.version = 0, .id = 2, .length = 16},
      {.type = 0, .id = 3, .length = 16},
      {.type = 9, .id = 4, .length = 16},
      {.flags = 1, .id = 5, .length = 16},
      {.id = 6, .length = 0},
  };
  for (const auto& q : bad) {
    const auto h = round_trip(ep, q);
    EXPECT_EQ(h.status, response_status::bad_request) << q.id;
    EXPECT_EQ(h.id, q.id);
    EXPECT_EQ(h.length, 0u);
    EXPECT_EQ(h.detail, protocol_version);
  }
  for (std::uint32_t len : {2049u, 0xffffffffu}) {
    const auto h = round_trip(ep, request{.id = 7, .length = len});
    EXPECT_EQ(h.status, response_status::too_large);
    EXPECT_EQ(h.detail, 2048u);  // what it would serve
  }
  // All bytes set: still one 12-byte frame, one answer.
  std::array<std::byte, request_size> junk{};
  junk.fill(std::byte{0xff});
  EXPECT_EQ(round_trip(ep, junk).status, response_status::bad_request);
  const auto good = round_trip(ep, request{.id = 99, .length = 32});
  EXPECT_EQ(good.status, response_status::ok);
  EXPECT_EQ(good.id, 99u);
  EXPECT_EQ(good.length, 32u);
  const auto st = randomd().stats();
  EXPECT_EQ(st.bad_requests, 7u);
  EXPECT_EQ(st.too_large, 2u);
  EXPECT_EQ(st.entropy_bytes, 32u);
  c.close();
  finish(guests);
}

TEST_F(randomd_host, TooLargeTeachesFetchTheLimit) {
  start(budget(1 << 20, 4096, 512));
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  fetch_stats fs;
  auto got = fetch_entropy(guests[0]->xs, *guests[0]->transport, 2000, 5s, {.chunk = 1500, .stats = &fs});
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size(), 2000u);
  EXPECT_EQ(randomd().stats().too_large, 1u);
  EXPECT_EQ(fs.requests, 5u);  // one refused, then 512 x 3 + 464
  finish(guests);
}

TEST_F(randomd_host, FloodingGuestIsBoundedAndOthersAreServed) {
  start(budget(1 << 20, 1 << 20, 1 << 20));
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  guests.push_back(guest(2));
  auto flood = connect(*guests[0]);
  auto& ep = flood.channel();
  ep.set_io({.mode = vchan::io_mode::non_blocking});
  // Requests for 1 KiB each, never reading: randomd stops reading once a response is stuck.
  std::uint32_t sent = 0;
  for (int i = 0; i < 500; ++i) {
    if (!ep.send(encode(request{.id = ++sent, .length = 1024}))) {
      --sent;
      break;
    }
  }
  EXPECT_GT(sent, 10u);
  EXPECT_LT(sent, 100u);  // the 1 KiB request ring filled up
  auto other = fetch_entropy(guests[1]->xs, *guests[1]->transport, 1500, 5s);
  ASSERT_TRUE(other) << other.error().message();
  // randomd served the flood at most as fast as it was read: a ring's worth beyond the first.
  const auto st = randomd().stats();
  EXPECT_LE(st.vchan_bytes_out, 2048u + 1500u + 2 * 1024u + 4 * response_header_size);
  // Reading drains it in order.
  for (std::uint32_t id = 1; id <= sent; ++id) {
    const auto h = [&] {
      ep.set_io({.mode = vchan::io_mode::blocking, .timeout = 5s});
      std::array<std::byte, response_header_size> head{};
      EXPECT_TRUE(ep.recv(head));
      return decode_response(head).value_or(response_header{});
    }();
    ASSERT_EQ(h.id, id);
    ASSERT_EQ(h.status, response_status::ok);
    std::vector<std::byte> payload(h.length);
    std::size_t n = 0;
    while (n < payload.size()) {
      auto r = ep.read(std::span(payload).subspan(n));
      ASSERT_TRUE(r);
      n += *r;
    }
  }
  flood.close();
  finish(guests);
}

TEST_F(randomd_host, HalfAFrameThenCloseDoesNotDesyncTheNextConnection) {
  start();
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  {
    auto c = connect(*guests[0]);
    const auto frame = encode(request{.id = 1, .length = 8});
    c.channel().set_io({.mode = vchan::io_mode::blocking, .timeout = 5s});
    ASSERT_TRUE(c.channel().write(std::span(frame).first(5)));
  }  // closed with 5 bytes of a frame in the ring
  auto got = fetch_entropy(guests[0]->xs, *guests[0]->transport, 100, 5s);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(randomd().stats().bad_requests, 0u);
  finish(guests);
}

TEST_F(randomd_host, MalformedRequestNodeIsIgnored) {
  start();
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  auto& xs = guests[0]->xs;
  for (const char* v : {"please", "", "0123456789ABCDEF", "0123456789abcdef0"}) ASSERT_TRUE(xs.write(request_path(1), v));
  EXPECT_TRUE(eventually([&] { return randomd().stats().bad_nonces >= 1; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(randomd().stats().servers_started, 0u);
  auto keys = host->dom0().exists(keys_path(0, 1));
  ASSERT_TRUE(keys);
  EXPECT_FALSE(*keys);
  auto got = fetch_entropy(xs, *guests[0]->transport, 16, 5s);  // a well-formed one
  ASSERT_TRUE(got) << got.error().message();
  finish(guests);
}

TEST_F(randomd_host, GuestCannotForgeKeysOrReadAnotherGuestsKeys) {
  start();
  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  guests.push_back(guest(1));
  guests.push_back(guest(2));
  auto c1 = connect(*guests[0]);
  // Guest 2 may not write where randomd publishes, for itself or for guest 1...
  auto forged = guests[1]->xs.write(keys_path(0, 2) + "/ring-ref", "1");
  EXPECT_FALSE(forged);
  EXPECT_FALSE(guests[1]->xs.write(keys_path(0, 1) + "/event-channel", "1"));
  // ...nor read guest 1's keys.
  EXPECT_FALSE(guests[1]->xs.read(keys_path(0, 1) + "/ring-ref"));
  // Nor can it ask on guest 1's behalf: guest 1's home is guest 1's.
  EXPECT_FALSE(guests[1]->xs.rm(request_path(1)));
  EXPECT_EQ(c1.fetch(64, 5s).value().size(), 64u);
  c1.close();
  finish(guests);
}

}  // namespace
}  // namespace xenwire::randomd::testing
