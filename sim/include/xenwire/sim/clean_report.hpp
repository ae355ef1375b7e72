// The answer of host::check_clean(): every grant, mapping and port still allocated.
#pragma once

#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

namespace xenwire::sim {

class clean_report {
 public:
  clean_report() = default;
  explicit clean_report(std::vector<std::string> leaks) : leaks_(std::move(leaks)) {}

  bool ok() const noexcept { return leaks_.empty(); }
  explicit operator bool() const noexcept { return ok(); }
  // One line per leaked resource, e.g. "dom1: grant ref 8 to dom2 (read_write), unshared, mapped 1x".
  const std::vector<std::string>& leaks() const noexcept { return leaks_; }
  std::string describe() const;

  // Converts to any assertion type built from a bool and streamed into with a string, which is
  // exactly ::testing::AssertionResult: EXPECT_TRUE(host.check_clean()) then prints every leak,
  // without this library depending on GoogleTest.
  template <class Assertion>
    requires(!std::is_same_v<Assertion, bool> && std::is_constructible_v<Assertion, bool> &&
             requires(Assertion& a, const std::string& s) { a << s; })
  operator Assertion() const {  // NOLINT(google-explicit-constructor)
    Assertion a(ok());
    if (!ok()) a << describe();
    return a;
  }

 private:
  std::vector<std::string> leaks_;
};

inline std::ostream& operator<<(std::ostream& os, const clean_report& r) { return os << r.describe(); }

}  // namespace xenwire::sim
