#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "xenwire/xenstore/args.hpp"
#include "xenwire/xenstore/errors.hpp"

using namespace xenwire::xenstore;
using namespace std::string_literals;

TEST(WireArgs, SplitExactNeedsExactCount) {
  const std::string payload = "a\0b\0"s;  // results are views: keep the payload alive
  auto two = split_exact<2>(payload);
  ASSERT_TRUE(two);
  EXPECT_EQ((*two)[0], "a");
  EXPECT_EQ((*two)[1], "b");
  EXPECT_FALSE(split_exact<2>("a\0"s));          // too few
  EXPECT_FALSE(split_exact<2>("a\0b\0c\0"s));    // too many
  EXPECT_FALSE(split_exact<2>("a\0b"s));         // last one not terminated
  EXPECT_FALSE(split_exact<1>(""s));
  EXPECT_EQ(split_exact<1>("a"s).error(), xs_error::einval);
  EXPECT_TRUE(split_exact<2>("\0\0"s));          // empty strings are strings
}

TEST(WireArgs, SingleArgFillsThePayload) {
  EXPECT_EQ(single_arg("/a\0"s).value(), "/a");
  EXPECT_FALSE(single_arg("/a"s));
  EXPECT_FALSE(single_arg("/a\0\0"s));
  EXPECT_FALSE(single_arg("/a\0x"s));
  EXPECT_FALSE(single_arg(""s));
}

TEST(WireArgs, CountStrings) {
  EXPECT_EQ(count_strings(""s), 0u);
  EXPECT_EQ(count_strings("\0"s), 1u);
  EXPECT_EQ(count_strings("a\0bc\0"s), 2u);
  EXPECT_FALSE(count_strings("a\0bc"s));
}

TEST(WireArgs, StringListIterates) {
  const std::string payload = "x\0\0yz\0"s;
  auto l = string_list::parse(payload);
  ASSERT_TRUE(l);
  std::vector<std::string> got(l->begin(), l->end());
  EXPECT_EQ(got, (std::vector<std::string>{"x", "", "yz"}));
  EXPECT_EQ(l->size(), 3u);
  auto empty = string_list::parse(std::string_view{});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->begin(), empty->end());
  EXPECT_FALSE(string_list::parse("x\0y"s));
}

TEST(WireArgs, StrictDecimal) {
  EXPECT_EQ(parse_u32("0").value(), 0u);
  EXPECT_EQ(parse_u32("4294967295").value(), 4294967295u);
  EXPECT_EQ(parse_u32("007").value(), 7u);
  EXPECT_EQ(parse_u64("18446744073709551615").value(), UINT64_MAX);
  EXPECT_EQ(parse_domid("65535").value(), 65535);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1x", "0x10", "4294967296", "99999999999999999999999", "1.0"})
    EXPECT_FALSE(parse_u32(bad)) << bad;
  EXPECT_FALSE(parse_u64("18446744073709551616"));
  EXPECT_FALSE(parse_domid("65536"));
  EXPECT_FALSE(parse_domid("100000"));
  EXPECT_FALSE(parse_u32("1\0"s));
  EXPECT_EQ(parse_u32(std::string(5000, '0') + "42").value(), 42u);  // long but small: fine
}

TEST(WireErrors, NamesRoundTripAndUnknownIsNullopt) {
  for (std::size_t i = 0; i < xs_error_names.size(); ++i) {
    auto e = static_cast<xs_error>(i);
    EXPECT_EQ(parse_xs_error(name(e)), e);
  }
  EXPECT_EQ(name(xs_error::einval), "EINVAL");
  EXPECT_EQ(name(xs_error::eperm), "EPERM");
  EXPECT_FALSE(parse_xs_error("EWHATEVER"));
  EXPECT_FALSE(parse_xs_error("einval"));
}
