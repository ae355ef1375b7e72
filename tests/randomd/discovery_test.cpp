#include <gtest/gtest.h>

#include "xenwire/randomd/discovery.hpp"

namespace xenwire::randomd {
namespace {

TEST(RandomdDiscovery, Paths) {
  EXPECT_EQ(request_path(5), "/local/domain/5/data/randomd/request");
  EXPECT_EQ(keys_path(0, 5), "/local/domain/0/data/vchan/5/randomd");
}

TEST(RandomdDiscovery, NonceIsStrictHex) {
  EXPECT_EQ(format_nonce(0x1234abcd), "000000001234abcd");
  EXPECT_EQ(parse_nonce(format_nonce(0xfedcba9876543210ull)), 0xfedcba9876543210ull);
  for (const char* bad : {"", "1234", "000000001234ABCD", "000000001234abc", "000000001234abcde", "00000000-234abcd",
                          "g000000000000000", " 000000001234abc"})
    EXPECT_FALSE(parse_nonce(bad)) << bad;
}

}  // namespace
}  // namespace xenwire::randomd
