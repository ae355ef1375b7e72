// The kernel-cost floor of a socket xenstored: one epoll loop that frames Xenstore requests and
// answers each with a fixed reply (no store, no permissions, no watches). Whatever CPU it spends per
// request is what the kernel charges a daemon for the socket round trip; issue 15 measures
// xenwire-xenstored against it (bench_xenstore_saturation).
//
// Replies carry the request's type, req_id and tx_id: READ gets a value of --value-size bytes
// ('v'), every other type "OK\0". Errors and watches are never sent.
//
// Usage: bench_floor_xenstored [-N] [--socket PATH] [--value-size N]
// Socket: --socket, else $XENSTORED_PATH, else $XENSTORED_RUNDIR/socket (as C xenstored). It runs
// in the foreground (-N is accepted for drop-in command lines) until SIGTERM or SIGINT.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xenwire/xenstore/wire.hpp"

namespace {

using xenwire::xenstore::header;
using xenwire::xenstore::header_size;
using xenwire::xenstore::msg_type;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_floor_xenstored: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

volatile std::sig_atomic_t stopping = 0;
void on_signal(int) { stopping = 1; }

// One client: bytes received but not yet framed, and replies not yet accepted by the kernel.
struct connection {
  std::vector<char> in;
  std::size_t in_len = 0;
  std::string out;
  bool want_out = false;
};

class floor_daemon {
 public:
  floor_daemon(const std::string& path, std::size_t value_size)
      : value_(value_size, 'v'), listener_(listen_on(path)), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_ < 0) die("epoll_create1");
    watch(listener_, EPOLLIN, EPOLL_CTL_ADD);
  }

  void run() {
    epoll_event events[256];
    while (!stopping) {
      const int n = ::epoll_wait(epoll_, events, 256, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listener_) accept_all();
        else serve(fd, events[i].events);
      }
    }
  }

 private:
  static int listen_on(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) die("socket path too long: " + path);
    std::memcpy(addr.sun_path, path.data(), path.size());
    ::unlink(path.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind " + path);
    if (::listen(fd, 1024) != 0) die("listen");
    return fd;
  }

  void watch(int fd, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_, op, fd, &ev) != 0) die("epoll_ctl");
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;  // EAGAIN, or a client that went away: nothing to serve
      auto c = std::make_unique<connection>();
      c->in.resize(64 * 1024);
      conns_[fd] = std::move(c);
      watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
  }

  void drop(int fd) {
    ::close(fd);  // closing removes it from the epoll set
    conns_.erase(fd);
  }

  // One recv per readiness (level-triggered: what is left is reported again), every complete frame
  // answered, then one send for all the answers: the fewest syscalls a daemon can get away with.
  void serve(int fd, std::uint32_t events) {
    connection& c = *conns_.at(fd);
    if (events & (EPOLLERR | EPOLLHUP)) return drop(fd);
    if (events & EPOLLIN) {
      const ssize_t r = ::recv(fd, c.in.data() + c.in_len, c.in.size() - c.in_len, 0);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return drop(fd);
      if (r > 0) c.in_len += static_cast<std::size_t>(r);
      if (!frame(c)) return drop(fd);
    }
    flush(fd, c);
  }

  // Answers each complete frame in c.in; false on a frame too long to ever fit.
  bool frame(connection& c) {
    std::size_t at = 0;
    while (c.in_len - at >= header_size) {
      header h;
      std::memcpy(&h, c.in.data() + at, header_size);
      if (h.len > c.in.size() - header_size) return false;
      if (c.in_len - at < header_size + h.len) break;
      at += header_size + h.len;
      const std::string_view body = h.type == static_cast<std::uint32_t>(msg_type::read)
                                        ? std::string_view(value_)
                                        : std::string_view("OK\0", 3);
      header rh{h.type, h.req_id, h.tx_id, static_cast<std::uint32_t>(body.size())};
      c.out.append(reinterpret_cast<const char*>(&rh), header_size);
      c.out.append(body);
    }
    if (at > 0) {
      std::memmove(c.in.data(), c.in.data() + at, c.in_len - at);
      c.in_len -= at;
    }
    return true;
  }

  void flush(int fd, connection& c) {
    if (!c.out.empty()) {
      const ssize_t w = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EINTR) return drop(fd);
      if (w > 0) c.out.erase(0, static_cast<std::size_t>(w));
    }
    const bool want = !c.out.empty();  // a full socket: wait until it drains
    if (want != c.want_out) {
      c.want_out = want;
      watch(fd, want ? EPOLLIN | EPOLLOUT : EPOLLIN, EPOLL_CTL_MOD);
    }
  }

  std::string value_;
  int listener_;
  int epoll_;
  std::unordered_map<int, std::unique_ptr<connection>> conns_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  std::size_t value_size = 64;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-N" || a == "--no-fork") continue;
    if (i + 1 < argc && a == "--socket") path = argv[++i];
    else if (i + 1 < argc && a == "--value-size") value_size = std::stoul(argv[++i]);
    else {
      std::fprintf(stderr, "bench_floor_xenstored: unknown argument %s (see bench/floor_xenstored.cpp)\n", a.c_str());
      return 2;
    }
  }
  if (path.empty()) {
    if (const char* p = std::getenv("XENSTORED_PATH")) path = p;
    else if (const char* d = std::getenv("XENSTORED_RUNDIR")) path = std::string(d) + "/socket";
    else {
      std::fprintf(stderr, "bench_floor_xenstored: no --socket, XENSTORED_PATH or XENSTORED_RUNDIR\n");
      return 2;
    }
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;  // no SA_RESTART: epoll_wait returns EINTR and the loop ends
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  floor_daemon d(path, value_size);
  d.run();
  ::unlink(path.c_str());
  return 0;
}
