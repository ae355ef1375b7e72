#include <gtest/gtest.h>

#include "xenwire/base/error.hpp"

namespace xenwire {
namespace {

result<int> half(int v) {
  if (v % 2 != 0) return fail(errc::invalid_argument);
  return v / 2;
}

TEST(Error, CarriesTypedCodeThroughExpected) {
  EXPECT_EQ(half(4).value(), 2);
  auto r = half(3);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), errc::invalid_argument);
  EXPECT_EQ(r.error().category().name(), std::string("xenwire"));
  EXPECT_EQ(r.error().message(), "invalid argument");
}

TEST(Error, EveryCodeHasAMessage) {
  for (int e = static_cast<int>(errc::invalid_argument); e <= static_cast<int>(errc::system_error); ++e) {
    auto msg = make_error_code(static_cast<errc>(e)).message();
    EXPECT_EQ(msg.find("unknown"), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace xenwire
