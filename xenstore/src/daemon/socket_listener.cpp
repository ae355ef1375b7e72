#include "xenwire/xenstore/daemon/socket_listener.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

#include "xenwire/xenstore/daemon/socket_path.hpp"

namespace xenwire::xenstore {
namespace {

tl::unexpected<std::error_code> errno_error(int e = errno) noexcept {
  return tl::unexpected<std::error_code>(std::error_code(e, std::generic_category()));
}

sockaddr_un make_address(const std::string& path) noexcept {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

const sockaddr* as_sockaddr(const sockaddr_un& addr) noexcept {
  return static_cast<const sockaddr*>(static_cast<const void*>(&addr));
}

// Does a process accept connections on this socket file? ECONNREFUSED means nobody listens.
result<bool> someone_listens(const sockaddr_un& addr) {
  unique_fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return errno_error();
  if (::connect(probe.get(), as_sockaddr(addr), sizeof addr) == 0) return true;
  if (errno == ECONNREFUSED || errno == ENOENT) return false;
  return errno_error();
}

result<void> ensure_parent(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  const std::string dir = path.substr(0, slash);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return errno_error();
  return {};
}

}  // namespace

result<socket_listener> socket_listener::open(std::string path) {
  if (!fits_sun_path(path)) return fail(errc::invalid_argument);
  if (auto r = ensure_parent(path); !r) return fail(r.error());
  const sockaddr_un addr = make_address(path);
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errno_error();

  if (::bind(fd.get(), as_sockaddr(addr), sizeof addr) != 0) {
    if (errno != EADDRINUSE) return errno_error();
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) return errno_error();
    if (!S_ISSOCK(st.st_mode)) return errno_error(ENOTSOCK);
    auto live = someone_listens(addr);
    if (!live) return fail(live.error());
    if (*live) return errno_error(EADDRINUSE);
    // A stale socket file from a daemon that died: take its place.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error();
    if (::bind(fd.get(), as_sockaddr(addr), sizeof addr) != 0) return errno_error();
  }
  if (::chmod(path.c_str(), 0600) != 0) return errno_error();
  if (::listen(fd.get(), SOMAXCONN) != 0) return errno_error();
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return errno_error();
  return socket_listener(std::move(fd), std::move(path), st.st_dev, st.st_ino);
}

result<socket_listener> socket_listener::adopt(int raw) {
  unique_fd fd(raw);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return errno_error();
  if (!S_ISSOCK(st.st_mode)) return errno_error(ENOTSOCK);
  int listening = 0;
  socklen_t len = sizeof listening;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) return errno_error();
  sockaddr_un addr{};
  socklen_t alen = sizeof addr;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &alen) != 0) return errno_error();
  if (!listening || addr.sun_family != AF_UNIX || alen <= offsetof(sockaddr_un, sun_path) || addr.sun_path[0] == '\0')
    return fail(errc::invalid_argument);
  std::string path(addr.sun_path, ::strnlen(addr.sun_path, alen - offsetof(sockaddr_un, sun_path)));
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) return errno_error();
  if (::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0) return errno_error();
  struct stat file{};
  if (::stat(path.c_str(), &file) != 0) return errno_error();
  return socket_listener(std::move(fd), std::move(path), file.st_dev, file.st_ino);
}

socket_listener::socket_listener(unique_fd fd, std::string path, dev_t dev, ino_t ino) noexcept
    : fd_(std::move(fd)), path_(std::move(path)), dev_(dev), ino_(ino) {}

socket_listener::socket_listener(socket_listener&& other) noexcept
    : fd_(std::move(other.fd_)), path_(std::move(other.path_)), dev_(other.dev_), ino_(other.ino_) {
  other.path_.clear();
}

socket_listener& socket_listener::operator=(socket_listener&& other) noexcept {
  if (this != &other) {
    unlink_if_ours();
    fd_ = std::move(other.fd_);
    path_ = std::exchange(other.path_, {});
    dev_ = other.dev_;
    ino_ = other.ino_;
  }
  return *this;
}

socket_listener::~socket_listener() { unlink_if_ours(); }

void socket_listener::unlink_if_ours() noexcept {
  if (path_.empty()) return;
  // Another daemon may have replaced our file (we were considered stale): leave its socket alone.
  struct stat st{};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) ::unlink(path_.c_str());
  path_.clear();
}

result<std::optional<unique_fd>> socket_listener::accept() {
  for (;;) {
    const int fd = ::accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return std::optional<unique_fd>(unique_fd(fd));
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<unique_fd>();
    // The client gave up before we accepted: try the next one.
    if (errno == ECONNABORTED || errno == EINTR) continue;
    return errno_error();
  }
}

}  // namespace xenwire::xenstore
