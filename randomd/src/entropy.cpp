#include "xenwire/randomd/entropy.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>

namespace xenwire::randomd {

result<void> system_entropy(std::span<std::byte> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(std::error_code(errno, std::system_category()));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

std::string hex(std::span<const std::byte> bytes, std::size_t max_bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  const std::size_t n = std::min(max_bytes, bytes.size());
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto v = std::to_integer<unsigned>(bytes[i]);
    s += digits[v >> 4];
    s += digits[v & 0xf];
  }
  return s;
}

}  // namespace xenwire::randomd
