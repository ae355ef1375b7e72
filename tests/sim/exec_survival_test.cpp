// Event-channel handles across exec and fork on the cross-process host, as live update needs them
// (xenevtchn_open with XENEVTCHN_NO_CLOEXEC, then xenevtchn_fdopen in the new image): a handle opened
// for exec keeps its ports while its process lives, the image after exec adopts it from the
// inherited fd, a forked child shares it, and the process's exit releases it.
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "host_fixture.hpp"

extern char** environ;

namespace xenwire::sim {
namespace {

using namespace std::chrono_literals;
using test_support::served_host;

pid_t spawn_adopter(const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>(XENWIRE_EXEC_ADOPTER)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, XENWIRE_EXEC_ADOPTER, nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

int exit_code(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls until `port`'s state is `want` (the host releases a process's objects asynchronously).
bool becomes(event_channel& h, evtchn_port_t port, port_state want) {
  for (int i = 0; i < 200; ++i) {
    auto st = h.state(port);
    if (st && *st == want) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// Guest 5 with a port offered to dom0, which the processes under test bind.
struct guest_port {
  explicit guest_port(served_host& host)
      : guest(host.join(5)), events(guest->open_event_channel().value()), port(events->bind_unbound(0).value()) {}
  std::unique_ptr<remote_transport> guest;
  std::unique_ptr<event_channel> events;
  evtchn_port_t port;
};

TEST(exec_survival, AHandleOpenedForExecKeepsItsPortsIntoTheNewImage) {
  served_host host;
  guest_port g(host);
  auto& events = g.events;
  const evtchn_port_t port = g.port;

  const pid_t pid = spawn_adopter({"open", host.socket().string(), "5", std::to_string(port)});
  ASSERT_GT(pid, 0);
  // The adopter notifies only after its exec and adoption: the port it bound before survived.
  ASSERT_EQ(events->wait(10s).value(), port);
  ASSERT_EQ(events->state(port).value(), port_state::connected);
  ASSERT_TRUE(events->notify(port));
  EXPECT_EQ(exit_code(pid), 0);
  // The process is gone: its kept handle is released, and with it the peer's end.
  EXPECT_TRUE(becomes(*events, port, port_state::peer_closed));
}

TEST(exec_survival, AKeptHandleIsReleasedWhenItsProcessExitsWithoutAdoptingIt) {
  served_host host;
  guest_port g(host);
  auto& events = g.events;
  const evtchn_port_t port = g.port;
  // Binds on a handle opened for exec, then execs /bin/true, which never adopts it.
  const pid_t pid = spawn_adopter({"abandon", host.socket().string(), "5", std::to_string(port)});
  ASSERT_GT(pid, 0);
  EXPECT_EQ(exit_code(pid), 0);
  EXPECT_TRUE(becomes(*events, port, port_state::peer_closed));
}

TEST(exec_survival, AKeptHandleOutlivesItsConnectionAndTheSameProcessAdoptsIt) {
  served_host host;
  guest_port g(host);
  auto& events = g.events;
  const evtchn_port_t port = g.port;
  auto dom0 = host.join(0, membership::member);
  auto kept = dom0->open_event_channel_for_exec().value();
  const evtchn_port_t local = kept->bind_interdomain(5, port).value();
  const int fd = ::dup(kept->fd());
  ASSERT_GE(fd, 0);
  // The connection closes, as exec closes it; this process lives on, so the handle is kept.
  ::shutdown(dom0->connection_fd(), SHUT_RDWR);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(events->state(port).value(), port_state::connected);
  auto again = host.join(0, membership::member);
  auto adopted = again->adopt_event_channel(fd).value();
  ASSERT_TRUE(adopted->notify(local));
  EXPECT_EQ(events->wait(5s).value(), port);
  adopted.reset();  // a close, not an exec: the ports go
  EXPECT_TRUE(becomes(*events, port, port_state::peer_closed));
}

TEST(exec_survival, AForkedChildSharesTheHandleAndItsExitLeavesTheParentsPorts) {
  served_host host;
  guest_port g(host);
  auto& events = g.events;
  const evtchn_port_t port = g.port;
  auto dom0 = host.join(0, membership::member);
  auto kept = dom0->open_event_channel_for_exec().value();
  const evtchn_port_t local = kept->bind_interdomain(5, port).value();
  // The child inherits the fd (no FD_CLOEXEC), as live update's dry run does.
  const pid_t pid = spawn_adopter({"check", host.socket().string(), std::to_string(kept->fd()), std::to_string(local)});
  ASSERT_GT(pid, 0);
  EXPECT_EQ(exit_code(pid), 0);
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(events->state(port).value(), port_state::connected);
  ASSERT_TRUE(kept->notify(local));
  EXPECT_EQ(events->wait(5s).value(), port);
}

TEST(exec_survival, OnlyAHandlesFdOfTheSameDomainIsAdopted) {
  served_host host;
  auto dom0 = host.join(0, membership::member);
  auto kept = dom0->open_event_channel_for_exec().value();
  auto guest = host.join(5);
  // Another domain's process holding the fd gets nothing: ports belong to their domain.
  const int fd = ::dup(kept->fd());
  auto foreign = guest->adopt_event_channel(fd);
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error(), make_error_code(errc::invalid_argument));
  // An fd that is no handle's is refused, and the connection serves on.
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  auto none = dom0->adopt_event_channel(pipe_fds[0]);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), make_error_code(errc::invalid_argument));
  EXPECT_TRUE(dom0->open_event_channel());
  // The fds stay the caller's on failure.
  EXPECT_EQ(::close(fd), 0);
  EXPECT_EQ(::close(pipe_fds[0]), 0);
  ::close(pipe_fds[1]);
}

TEST(exec_survival, AHandleOpenedForExecHasNoCloseOnExecAndOthersDo) {
  served_host host;
  auto dom0 = host.join(0, membership::member);
  auto kept = dom0->open_event_channel_for_exec().value();
  auto plain = dom0->open_event_channel().value();
  EXPECT_EQ(::fcntl(kept->fd(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(::fcntl(plain->fd(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(::fcntl(dom0->connection_fd(), F_GETFD) & FD_CLOEXEC, 0);
}

}  // namespace
}  // namespace xenwire::sim
