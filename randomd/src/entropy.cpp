#include "xenwire/randomd/entropy.hpp"

#include <sys/random.h>

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

}  // namespace xenwire::randomd
