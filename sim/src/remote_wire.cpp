#include "remote_wire.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace xenwire::sim::detail::wire {

std::uint64_t pack_notify(std::optional<std::size_t> clear_byte, std::optional<std::uint32_t> port) {
  std::uint64_t v = 0;
  if (clear_byte) v |= (std::uint64_t{1} << 63) | (*clear_byte & 0xFFF);
  if (port) v |= (std::uint64_t{1} << 62) | (std::uint64_t{*port} << 16);
  return v;
}

void unpack_notify(std::uint64_t v, std::optional<std::size_t>& clear_byte, std::optional<std::uint32_t>& port) {
  clear_byte.reset();
  port.reset();
  if ((v >> 63) & 1) clear_byte = static_cast<std::size_t>(v & 0xFFF);
  if ((v >> 62) & 1) port = static_cast<std::uint32_t>(v >> 16);
}

std::vector<std::byte> encode_share(std::span<const std::uint32_t> refs, std::span<const std::uint64_t> pages) {
  std::vector<std::byte> out(refs.size_bytes() + pages.size_bytes());
  std::memcpy(out.data(), refs.data(), refs.size_bytes());
  std::memcpy(out.data() + refs.size_bytes(), pages.data(), pages.size_bytes());
  return out;
}

result<share_tail> decode_share(std::span<const std::byte> tail) {
  constexpr std::size_t pair = sizeof(std::uint32_t) + sizeof(std::uint64_t);
  if (tail.empty() || tail.size() % pair != 0) return fail(errc::protocol_error);
  const std::size_t n = tail.size() / pair;
  share_tail out{std::vector<std::uint32_t>(n), std::vector<std::uint64_t>(n)};
  std::memcpy(out.refs.data(), tail.data(), n * sizeof(std::uint32_t));
  std::memcpy(out.pages.data(), tail.data() + n * sizeof(std::uint32_t), n * sizeof(std::uint64_t));
  return out;
}

std::int32_t encode_error(const std::error_code& ec) {
  if (!ec) return 0;
  if (ec.category() == xenwire_category()) return ec.value();
  if (ec.category() == std::system_category() || ec.category() == std::generic_category()) return -ec.value();
  return static_cast<std::int32_t>(errc::system_error);
}

std::error_code decode_error(std::int32_t e) {
  if (e > 0) {
    if (e > static_cast<std::int32_t>(errc::system_error)) return make_error_code(errc::protocol_error);
    return make_error_code(static_cast<errc>(e));
  }
  return {-e, std::system_category()};
}

message::message(message&& o) noexcept : bytes(std::move(o.bytes)), fds(std::exchange(o.fds, {})) {}
message& message::operator=(message&& o) noexcept {
  if (this != &o) {
    for (int fd : fds) if (fd >= 0) ::close(fd);
    bytes = std::move(o.bytes);
    fds = std::exchange(o.fds, {});
  }
  return *this;
}
message::~message() {
  for (int fd : fds) if (fd >= 0) ::close(fd);
}
int message::take_fd(std::size_t i) noexcept {
  if (i >= fds.size()) return -1;
  return std::exchange(fds[i], -1);
}

result<void> send_message(int sock, std::span<const std::byte> head, std::span<const std::byte> tail,
                          std::span<const int> fds) {
  if (fds.size() > max_fds || head.size() + tail.size() > max_message) return fail(errc::invalid_argument);
  iovec iov[2] = {{const_cast<std::byte*>(head.data()), head.size()},  // NOLINT: sendmsg's API
                  {const_cast<std::byte*>(tail.data()), tail.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = tail.empty() ? 1 : 2;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    if (::sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0) return {};
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return fail(errc::peer_closed);
    return fail(std::error_code(errno, std::system_category()));
  }
}

result<message> receive_message(int sock, std::vector<std::byte>& buffer) {
  if (buffer.size() < max_message) buffer.resize(max_message);
  message m;
  iovec iov{buffer.data(), max_message};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = 0;
  for (;;) {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return fail(errc::peer_closed);
    return fail(std::error_code(errno, std::system_category()));
  }
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
      const std::size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
        m.fds.push_back(fd);
      }
    }
  }
  if (n == 0) return fail(errc::peer_closed);
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) return fail(errc::protocol_error);
  m.bytes = std::span<const std::byte>(buffer.data(), static_cast<std::size_t>(n));
  return m;
}

}  // namespace xenwire::sim::detail::wire
