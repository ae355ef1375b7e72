#include <gtest/gtest.h>

#include "xenwire/randomd/entropy.hpp"
#include "xenwire/randomd/protocol.hpp"

namespace xenwire::randomd {
namespace {

TEST(RandomdProtocol, RequestIsLittleEndianAndRoundTrips) {
  const request q{.version = 1, .type = 1, .flags = 0x0203, .id = 0x04050607, .length = 0x08090a0b};
  const auto b = encode(q);
  const std::uint8_t want[] = {1, 1, 0x03, 0x02, 0x07, 0x06, 0x05, 0x04, 0x0b, 0x0a, 0x09, 0x08};
  for (std::size_t i = 0; i < b.size(); ++i) EXPECT_EQ(std::to_integer<std::uint8_t>(b[i]), want[i]) << i;
  EXPECT_EQ(decode_request(b), q);
}

TEST(RandomdProtocol, ResponseRoundTripsAndUnknownStatusIsRejected) {
  const response_header h{.status = response_status::rate_limited, .id = 7, .length = 0, .detail = 250};
  auto b = encode(h);
  EXPECT_EQ(std::to_integer<unsigned>(b[1]), 1u);
  EXPECT_EQ(std::to_integer<unsigned>(b[12]), 250u);
  ASSERT_TRUE(decode_response(b));
  EXPECT_EQ(*decode_response(b), h);
  b[1] = std::byte{5};
  EXPECT_FALSE(decode_response(b));
  b[1] = std::byte{0xff};
  EXPECT_FALSE(decode_response(b));
}

TEST(RandomdProtocol, StatusNames) {
  EXPECT_STREQ(to_string(response_status::ok), "ok");
  EXPECT_STREQ(to_string(response_status::rate_limited), "rate-limited");
  EXPECT_TRUE(is_known(4));
  EXPECT_FALSE(is_known(5));
}

TEST(RandomdProtocol, JudgeRefusesMalformedAndOversizedFrames) {
  EXPECT_EQ(judge({.id = 1, .length = 16}, 2048), (response_header{.id = 1, .length = 16}));
  for (const request& q : {request{.version = 2, .id = 2, .length = 16}, request{.type = 9, .id = 2, .length = 16},
                           request{.flags = 1, .id = 2, .length = 16}, request{.id = 2, .length = 0}}) {
    const auto h = judge(q, 2048);
    EXPECT_EQ(h.status, response_status::bad_request);
    EXPECT_EQ(h.id, 2u);
    EXPECT_EQ(h.length, 0u);
    EXPECT_EQ(h.detail, protocol_version);
  }
  const auto big = judge({.id = 3, .length = 2049}, 2048);
  EXPECT_EQ(big.status, response_status::too_large);
  EXPECT_EQ(big.length, 0u);
  EXPECT_EQ(big.detail, 2048u);
  EXPECT_EQ(judge({.id = 4, .length = 2048}, 2048).status, response_status::ok);
}

TEST(RandomdEntropy, HexShowsAPrefixOnly) {
  const std::byte b[] = {std::byte{0x9f}, std::byte{0xe8}, std::byte{0x00}};
  EXPECT_EQ(hex(b, 8), "9fe800");
  EXPECT_EQ(hex(b, 2), "9fe8");
  EXPECT_EQ(hex(std::span<const std::byte>{}, 4), "");
}

}  // namespace
}  // namespace xenwire::randomd
