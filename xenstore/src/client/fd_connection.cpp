// Unix socket and xenbus device connections: the same byte stream over a file descriptor.
// An eventfd lets close() wake a thread blocked in poll() without racing on the descriptor.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "deadline_read.hpp"
#include "xenwire/xenstore/client/connection.hpp"

namespace xenwire::xenstore {
namespace {

std::error_code from_errno(int e) {
  if (e == EPIPE || e == ECONNRESET) return make_error_code(errc::peer_closed);
  return {e, std::system_category()};
}

enum class fd_kind { socket, device };

result<int> open_stream(fd_kind kind, const std::string& path) {
  if (kind == fd_kind::device) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return fail(from_errno(errno));
    return fd;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) return fail(errc::invalid_argument);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(from_errno(errno));
  if (::connect(fd, static_cast<const sockaddr*>(static_cast<const void*>(&addr)), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    return fail(from_errno(e));
  }
  // Non-blocking after connect: every wait goes through poll() with the wake-up eventfd.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

using time_point = detail::deadline_read::time_point;

// poll()'s timeout for `deadline`: -1 for none, else milliseconds rounded up (never early).
int poll_timeout(time_point deadline) {
  if (deadline == time_point::max()) return -1;
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= time_point::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > 1'000'000 ? 1'000'000 : static_cast<int>(ms);
}

class fd_connection final : public client_connection, public detail::deadline_read {
 public:
  fd_connection(fd_kind kind, std::string path, int fd, int wake) noexcept
      : kind_(kind), path_(std::move(path)), fd_(fd), wake_(wake) {}
  ~fd_connection() override {
    if (fd_ >= 0) ::close(fd_);
    ::close(wake_);
  }

  result<void> write_all(std::span<const std::byte> bytes) override {
    while (!bytes.empty()) {
      if (closed_.load(std::memory_order_acquire)) return fail(errc::peer_closed);
      const ssize_t n = kind_ == fd_kind::socket ? ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL)
                                                  : ::write(fd_, bytes.data(), bytes.size());
      if (n > 0) {
        bytes = bytes.subspan(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (auto r = wait(POLLOUT, time_point::max()); !r) return r;
        continue;
      }
      return fail(n == 0 ? make_error_code(errc::peer_closed) : from_errno(errno));
    }
    return {};
  }

  result<std::size_t> read_some(std::span<std::byte> out) override { return read_some_until(out, time_point::max()); }

  result<std::size_t> read_some_until(std::span<std::byte> out, time_point deadline) override {
    for (;;) {
      if (closed_.load(std::memory_order_acquire)) return fail(errc::peer_closed);
      const ssize_t n = ::read(fd_, out.data(), out.size());
      if (n > 0) return static_cast<std::size_t>(n);
      if (n == 0) return fail(errc::peer_closed);
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(from_errno(errno));
      if (auto r = wait(POLLIN, deadline); !r) return fail(r.error());
    }
  }

  void close() noexcept override {
    closed_.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_, &one, sizeof one);
  }

  result<void> reconnect() override {
    auto fd = open_stream(kind_, path_);
    if (!fd) return fail(fd.error());
    if (fd_ >= 0) ::close(fd_);
    fd_ = *fd;
    std::uint64_t drained = 0;
    [[maybe_unused]] const ssize_t n = ::read(wake_, &drained, sizeof drained);
    closed_.store(false, std::memory_order_release);
    return {};
  }

  std::string describe() const override { return (kind_ == fd_kind::socket ? "socket " : "xenbus device ") + path_; }

 private:
  result<void> wait(short events, time_point deadline) {
    pollfd p[2] = {{fd_, events, 0}, {wake_, POLLIN, 0}};
    int ready = 0;
    for (;;) {
      ready = ::poll(p, 2, poll_timeout(deadline));
      if (ready >= 0) break;
      if (errno != EINTR) return fail(from_errno(errno));
    }
    if (p[1].revents != 0) return fail(errc::peer_closed);
    if (ready == 0 && std::chrono::steady_clock::now() >= deadline) return fail(errc::timed_out);
    // POLLHUP/POLLERR: the next read/write reports what happened.
    return {};
  }

  fd_kind kind_;
  std::string path_;
  int fd_;
  int wake_;
  std::atomic<bool> closed_{false};
};

result<std::unique_ptr<client_connection>> open_fd(fd_kind kind, const std::string& path) {
  auto fd = open_stream(kind, path);
  if (!fd) return fail(fd.error());
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    const int e = errno;
    ::close(*fd);
    return fail(from_errno(e));
  }
  return std::unique_ptr<client_connection>(new fd_connection(kind, path, *fd, wake));
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace

std::string default_socket_path() {
  if (const char* p = env("XENSTORED_PATH")) return p;
  if (const char* d = env("XENSTORED_RUNDIR")) return std::string(d) + "/socket";
  return "/var/run/xenstored/socket";
}

result<std::unique_ptr<client_connection>> connect_unix_socket(const std::string& path) {
  return open_fd(fd_kind::socket, path);
}

result<std::unique_ptr<client_connection>> open_xenbus_device(const std::string& path) {
  return open_fd(fd_kind::device, path);
}

result<std::unique_ptr<client_connection>> connect_default() {
  auto s = connect_unix_socket(default_socket_path());
  if (s) return s;
  struct stat st {};
  const std::string dev(xenbus_device_path);
  if (::stat(dev.c_str(), &st) == 0) return open_xenbus_device(dev);
  return s;
}

}  // namespace xenwire::xenstore
