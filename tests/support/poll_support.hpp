// Looking at a descriptor without waiting, for tests of pollable fds (event channels, watches, vchan).
#pragma once

#include <poll.h>

namespace xenwire::test_support {

inline bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

}  // namespace xenwire::test_support
