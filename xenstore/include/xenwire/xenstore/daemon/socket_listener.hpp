// A listening Unix socket that owns its file: a stale socket left by a dead daemon is replaced, a
// live one (another daemon answering) is refused, and the file is removed again on destruction if
// it is still ours.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "xenwire/base/error.hpp"
#include "xenwire/base/unique_fd.hpp"

namespace xenwire::xenstore {

class socket_listener {
 public:
  // Errors (generic category): address_in_use when another process accepts connections on `path`;
  // not_a_socket when `path` is some other kind of file (never deleted); invalid_argument (xenwire)
  // for a path that does not fit sockaddr_un; anything socket/bind/listen report. A missing parent
  // directory is created (one level, 0755). The socket is made 0600: its clients act as dom0.
  static result<socket_listener> open(std::string path);
  // Live update: a listening socket inherited from the daemon we replace. Must be a listening
  // AF_UNIX stream socket (else not_a_socket / invalid_argument); its bound path is read back from
  // it. Made non-blocking and close-on-exec again.
  static result<socket_listener> adopt(int fd);

  socket_listener(socket_listener&& other) noexcept;
  socket_listener& operator=(socket_listener&& other) noexcept;
  ~socket_listener();

  int fd() const noexcept { return fd_.get(); }
  const std::string& path() const noexcept { return path_; }

  // One pending client as a non-blocking, close-on-exec fd; nullopt when none is waiting.
  result<std::optional<unique_fd>> accept();

 private:
  socket_listener(unique_fd fd, std::string path, dev_t dev, ino_t ino) noexcept;
  void unlink_if_ours() noexcept;

  unique_fd fd_;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace xenwire::xenstore
