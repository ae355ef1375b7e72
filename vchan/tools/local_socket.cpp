#include "local_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xenwire::vchan_proxy {

namespace {

std::error_code last_errno() noexcept { return {errno, std::generic_category()}; }

result<sockaddr_un> address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) return fail(errc::invalid_argument);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

}  // namespace

result<unique_fd> listen_unix(const std::string& path) {
  auto addr = address_of(path);
  if (!addr) return tl::unexpected(addr.error());
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail(last_errno());
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) return fail(last_errno());
  if (::listen(fd.get(), 5) != 0) return fail(last_errno());
  return fd;
}

result<unique_fd> connect_unix(const std::string& path) {
  auto addr = address_of(path);
  if (!addr) return tl::unexpected(addr.error());
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail(last_errno());
  while (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    if (errno != EINTR) return fail(last_errno());
  }
  return fd;
}

result<unique_fd> accept_one(int listen_fd) {
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return unique_fd(fd);
    if (errno != EINTR && errno != ECONNABORTED) return fail(last_errno());
  }
}

result<int> set_nonblocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags == -1) return fail(last_errno());
  const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) == -1) return fail(last_errno());
  return flags;
}

bool fd_is_open(int fd) noexcept { return fd >= 0 && ::fcntl(fd, F_GETFD) != -1; }

}  // namespace xenwire::vchan_proxy
