// The proxy's local side: Unix stream sockets and descriptors given by number or stdin/stdout.
#pragma once

#include <string>

#include "xenwire/base/error.hpp"
#include "xenwire/base/unique_fd.hpp"

namespace xenwire::vchan_proxy {

// bind() + listen() at `path` (as vchan-socket-proxy: an existing file there is an error).
result<unique_fd> listen_unix(const std::string& path);
// connect() to `path`.
result<unique_fd> connect_unix(const std::string& path);
// accept() on a listening socket, retrying EINTR/ECONNABORTED.
result<unique_fd> accept_one(int listen_fd);
// O_NONBLOCK on or off; the previous flags are returned so stdin/stdout can be restored at exit.
result<int> set_nonblocking(int fd, bool on);
// Is `fd` open at all (a number given on the command line)?
bool fd_is_open(int fd) noexcept;

}  // namespace xenwire::vchan_proxy
