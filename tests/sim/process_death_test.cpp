// Process death is domain death, at any instant: a guest process that SIGKILLs itself before or
// after each request of a script that uses every operation leaves a host whose survivors are
// woken within 100 ms, see its port closed and its unmap-notify done, and whose tables come out
// clean once they let go; the host then serves the same domid again.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "host_fixture.hpp"
#include "sim_test_support.hpp"

namespace xenwire::sim {
namespace {

using namespace std::chrono_literals;
using test_support::readable;

constexpr domid_t guest = 5;

// What the guest process does; every call is one request to the host (connect is the first).
// Returns normally only if no step failed; the parent kills it at the end if it gets that far.
[[noreturn]] void guest_script(const std::filesystem::path& socket, evtchn_port_t dom0_port, grant_ref_t dom0_ref) {
  auto fail_exit = [](int code) { ::_exit(code); };
  auto t = remote_transport::connect({.socket = socket, .domid = guest, .mode = membership::owner});  // hello
  if (!t) fail_exit(10);
  auto h = (*t)->open_event_channel();  // open_handle
  if (!h) fail_exit(11);
  auto p = (*h)->bind_interdomain(0, dom0_port);  // bind_interdomain
  if (!p) fail_exit(12);
  if (!(*h)->notify(*p)) fail_exit(13);  // notify
  const grant_ref_t refs[] = {dom0_ref};
  auto mapped = (*t)->grants().map(0, refs, access::read_write, {.clear_byte = 0, .port = *p});  // map
  if (!mapped) fail_exit(14);
  auto shared = (*t)->grants().share(0, 1, access::read_write, {.clear_byte = 1, .port = *p});  // share
  if (!shared) fail_exit(15);
  auto spare = (*h)->bind_unbound(0);  // bind_unbound
  if (!spare) fail_exit(16);
  if (!(*h)->mask(*p)) fail_exit(17);    // mask
  if (!(*h)->unmask(*p)) fail_exit(18);  // unmask
  if (!(*h)->pending()) fail_exit(19);   // pending
  if (!(*h)->state(*p)) fail_exit(20);   // port_state
  if (!(*h)->unbind(*spare)) fail_exit(21);  // unbind
  auto h2 = (*t)->open_event_channel();      // open_handle
  if (!h2) fail_exit(22);
  h2->reset();      // close_handle
  shared->reset();  // unshare
  for (;;) ::pause();  // still holding the mapping and the port: killed here at the end
}
constexpr std::uint64_t script_requests = 15;

class process_death : public ::testing::TestWithParam<bool> {};

TEST_P(process_death, AtEveryRequestTheHostReleasesTheDeadDomainAndServesOn) {
  const bool after_send = GetParam();
  test_support::served_host served;
  auto dom0 = served.join(0, membership::member);
  for (std::uint64_t step = 0; step <= script_requests; ++step) {
    SCOPED_TRACE("killed at request " + std::to_string(step) + (after_send ? " after sending it" : " before sending it"));
    auto h0 = dom0->open_event_channel().value();
    const auto p0 = h0->bind_unbound(guest).value();
    auto page = dom0->grants().share(guest, 1, access::read_write).value();
    page->bytes()[0] = std::byte{0xFF};

    std::fflush(nullptr);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (step < script_requests) testing::die_at_request(step, after_send);
      guest_script(served.socket(), p0, page->refs()[0]);
    }
    if (step == script_requests) {  // it ran the whole script: wait for it to settle, then kill
      const auto until = std::chrono::steady_clock::now() + 5s;
      while (served.host().check_clean(guest).leaks().size() < 2 && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(5ms);
      }
      ::kill(pid, SIGKILL);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "guest exited with " << status;
    const auto died = std::chrono::steady_clock::now();

    // Within 100 ms the host has seen the death: the domain is dead (we map nothing of it).
    const bool joined = step > 0 || after_send;
    while (joined && served.host().state(guest).value_or(domain_state::alive) != domain_state::dead &&
           std::chrono::steady_clock::now() - died < 100ms) {
      std::this_thread::sleep_for(1ms);
    }
    if (joined) {
      EXPECT_EQ(served.host().state(guest).value_or(domain_state::alive), domain_state::dead);
    }
    // Our port: closed by the peer (and we were woken) iff the guest's bind reached the host.
    const bool bound = step > 2 || (step == 2 && after_send);
    const bool mapped = step > 4 || (step == 4 && after_send);
    if (bound) {
      pollfd pfd{h0->fd(), POLLIN, 0};
      EXPECT_EQ(::poll(&pfd, 1, 100), 1) << "survivor not woken";
      EXPECT_EQ(h0->state(p0).value(), port_state::peer_closed);
    } else {
      EXPECT_EQ(h0->state(p0).value(), port_state::unbound);
    }
    EXPECT_EQ(page->bytes()[0], mapped ? std::byte{0} : std::byte{0xFF}) << "unmap-notify of the dead mapper";

    ASSERT_TRUE(h0->unbind(p0));
    h0.reset();
    page.reset();
    EXPECT_TRUE(served.host().check_clean());
  }
  // The host still serves: the domid is reused by a new process.
  auto again = served.join(guest, membership::owner);
  EXPECT_TRUE(again->grants().share(0, 1, access::read_write));
}

INSTANTIATE_TEST_SUITE_P(kill_points, process_death, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "AfterSend" : "BeforeSend"; });

}  // namespace
}  // namespace xenwire::sim
