// One proxied connection: the local end (stdin/stdout, a given fd or a socket) and the pump.
#pragma once

#include "pump.hpp"
#include "xenwire/base/unique_fd.hpp"
#include "xenwire/vchan/endpoint.hpp"

namespace xenwire::vchan_proxy {

struct local_end {
  unique_fd owned;  // a socket we opened or accepted (closed with the session)
  int in = -1;
  int out = -1;
  static local_end stdio() { return {.owned = {}, .in = 0, .out = 1}; }
  static local_end borrowed(int fd) { return {.owned = {}, .in = fd, .out = fd}; }
  static local_end socket(unique_fd fd) {
    const int raw = fd.get();
    return {.owned = std::move(fd), .in = raw, .out = raw};
  }
};

// Puts the local fds in non-blocking mode (stdin/stdout get their flags back at exit: see
// stdio_restorer) and pumps until the session ends; logs what moved.
result<session_end> run_session(vchan::endpoint& ep, local_end& local);

// Restores stdin's and stdout's file status flags on destruction (they are shared with our parent).
class stdio_restorer {
 public:
  stdio_restorer();
  ~stdio_restorer();
  stdio_restorer(const stdio_restorer&) = delete;
  stdio_restorer& operator=(const stdio_restorer&) = delete;

 private:
  int in_flags_, out_flags_;
};

}  // namespace xenwire::vchan_proxy
