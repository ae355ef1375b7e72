// A dom0 process for exec_survival_test: keeps an event-channel handle across its own exec, or
// adopts one a parent handed down. Exits 0 when every step worked; says which failed otherwise.
//
//   exec_adopter open SOCKET REMOTE_DOMID REMOTE_PORT  bind to the peer on a handle opened for exec,
//                                                      then exec `adopt` with the handle's fd
//   exec_adopter abandon SOCKET REMOTE_DOMID REMOTE_PORT  the same, then exec /bin/true, which never
//                                                      adopts it
//   exec_adopter adopt SOCKET FD PORT                  take the handle back: notify the peer, wait
//                                                      for its answer
//   exec_adopter check SOCKET FD PORT                  adopt a handle the parent still uses: PORT
//                                                      must be connected on it
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "xenwire/sim/remote.hpp"

using namespace xenwire;
using namespace std::chrono_literals;

namespace {

int failed(const char* step, const std::error_code& ec) {
  std::fprintf(stderr, "exec_adopter: %s: %s\n", step, ec.message().c_str());
  return 1;
}

std::unique_ptr<sim::remote_transport> join(const char* socket) {
  auto t = sim::remote_transport::connect({.socket = socket, .domid = 0, .mode = sim::membership::member});
  if (!t) {
    failed("connect", t.error());
    std::exit(1);
  }
  return std::move(*t);
}

int open_then_exec(const char* self, const char* socket, domid_t remote, evtchn_port_t remote_port, bool abandon) {
  auto t = join(socket);
  auto h = t->open_event_channel_for_exec();
  if (!h) return failed("open for exec", h.error());
  auto port = (*h)->bind_interdomain(remote, remote_port);
  if (!port) return failed("bind", port.error());
  const std::string fd = std::to_string((*h)->fd()), p = std::to_string(*port);
  // No close, no unbind: exec is what a live update does, with every object still held.
  if (abandon) ::execl("/bin/true", "true", static_cast<char*>(nullptr));
  ::execl("/proc/self/exe", self, "adopt", socket, fd.c_str(), p.c_str(), static_cast<char*>(nullptr));
  return failed("exec", {errno, std::system_category()});
}

int adopt(const char* socket, int fd, evtchn_port_t port, bool talk) {
  auto t = join(socket);
  auto h = t->adopt_event_channel(fd);
  if (!h) return failed("adopt", h.error());
  auto st = (*h)->state(port);
  if (!st) return failed("state", st.error());
  if (*st != port_state::connected) return failed("state", make_error_code(errc::bad_port));
  if (!talk) return 0;
  // bind_interdomain left the port pending (as Xen does): take that before waiting for the peer.
  for (;;) {
    auto p = (*h)->pending();
    if (!p) return failed("pending", p.error());
    if (!*p) break;
  }
  if (auto n = (*h)->notify(port); !n) return failed("notify", n.error());
  auto got = (*h)->wait(10s);
  if (!got) return failed("wait", got.error());
  if (*got != port) return failed("wait", make_error_code(errc::bad_port));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: exec_adopter open|abandon|adopt|check SOCKET A B\n");
    return 2;
  }
  const std::string mode = argv[1];
  const auto a = std::strtoul(argv[3], nullptr, 10), b = std::strtoul(argv[4], nullptr, 10);
  if (mode == "open" || mode == "abandon") {
    return open_then_exec(argv[0], argv[2], static_cast<domid_t>(a), static_cast<evtchn_port_t>(b), mode == "abandon");
  }
  if (mode == "adopt" || mode == "check") {
    return adopt(argv[2], static_cast<int>(a), static_cast<evtchn_port_t>(b), mode == "adopt");
  }
  std::fprintf(stderr, "exec_adopter: unknown mode %s\n", argv[1]);
  return 2;
}
