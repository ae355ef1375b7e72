// The seam's contract, run against every simulated backend: the in-process host and the
// cross-process host (each domain a connection to a host_server). The same assertions hold for
// both: one set of rules.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "host_fixture.hpp"
#include "sim_test_support.hpp"
#include "xenwire/sim/host.hpp"

namespace xenwire::sim {
namespace {

using namespace std::chrono_literals;
using test_support::error_of;
using test_support::readable;

// One backend: three domains (0, 1, 2) and their transports, a way to kill one, the leak check.
class backend {
 public:
  virtual ~backend() = default;
  virtual transport& t(domid_t d) = 0;
  virtual void kill(domid_t d) = 0;
  virtual result<domain_state> state(domid_t d) = 0;
  virtual clean_report clean() = 0;
  virtual void drop(domid_t d) = 0;  // the domain's transport goes (a guest that exits)
};

class in_process final : public backend {
 public:
  explicit in_process(host_options limits) : host_(limits) {
    for (domid_t d = 0; d < 3; ++d) {
      EXPECT_TRUE(host_.create_domain(d));
      ts_[d] = host_.transport(d).value();
    }
  }
  transport& t(domid_t d) override { return *ts_[d]; }
  void kill(domid_t d) override { ASSERT_TRUE(host_.destroy_domain(d)); }
  result<domain_state> state(domid_t d) override { return host_.state(d); }
  clean_report clean() override { return host_.check_clean(); }
  void drop(domid_t d) override { ts_[d].reset(); }

 private:
  sim::host host_;
  std::unique_ptr<domain_transport> ts_[3];
};

class cross_process final : public backend {
 public:
  explicit cross_process(host_options limits) : served_(limits) {
    ts_[0] = served_.join(0, membership::member);
    for (domid_t d = 1; d < 3; ++d) ts_[d] = served_.join(d, membership::owner);
  }
  transport& t(domid_t d) override { return *ts_[d]; }
  void kill(domid_t d) override { ASSERT_TRUE(ts_[0]->destroy_domain(d)); }
  result<domain_state> state(domid_t d) override { return served_.host().state(d); }
  clean_report clean() override { return served_.host().check_clean(); }
  void drop(domid_t d) override { ts_[d].reset(); }

 private:
  test_support::served_host served_;
  std::unique_ptr<remote_transport> ts_[3];
};

using factory = std::function<std::unique_ptr<backend>(host_options)>;

class seam_contract : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { b = make({}); }
  std::unique_ptr<backend> make(host_options limits) {
    if (std::strcmp(GetParam(), "cross_process") == 0) return std::make_unique<cross_process>(limits);
    return std::make_unique<in_process>(limits);
  }
  transport& t(domid_t d) { return b->t(d); }

  std::unique_ptr<backend> b;
};

TEST_P(seam_contract, SharedPagesAreTheSameMemoryBothWays) {
  auto shared = t(1).grants().share(0, 2, access::read_write).value();
  ASSERT_EQ(shared->refs().size(), 2u);
  auto mapped = t(0).grants().map(1, shared->refs(), access::read_write).value();
  ASSERT_EQ(mapped->bytes().size(), 2 * page_size);
  EXPECT_EQ(mapped->bytes()[page_size + 7], std::byte{0});  // fresh pages are zero
  shared->bytes()[page_size + 7] = std::byte{42};
  EXPECT_EQ(mapped->bytes()[page_size + 7], std::byte{42});
  mapped->bytes()[3] = std::byte{7};
  EXPECT_EQ(shared->bytes()[3], std::byte{7});
  EXPECT_EQ(mapped->peer(), 1);
  mapped.reset();
  shared.reset();
  EXPECT_TRUE(b->clean());
}

TEST_P(seam_contract, ReadOnlyMappingFaultsOnWrite) {
  auto shared = t(1).grants().share(0, 1, access::read_only).value();
  EXPECT_EQ(error_of(t(0).grants().map(1, shared->refs(), access::read_write)), errc::permission_denied);
  auto mapped = t(0).grants().map(1, shared->refs(), access::read_only).value();
  shared->bytes()[0] = std::byte{9};
  EXPECT_EQ(mapped->bytes()[0], std::byte{9});
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would turn the fault into exit(1)
    mapped->bytes()[0] = std::byte{1};  // must fault
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "a write through a read-only mapping did not fault";
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  EXPECT_EQ(shared->bytes()[0], std::byte{9});
}

TEST_P(seam_contract, OnlyTheGranteeMapsAndBadRefsAreRefused) {
  auto shared = t(1).grants().share(0, 1, access::read_write).value();
  EXPECT_EQ(error_of(t(2).grants().map(1, shared->refs(), access::read_write)), errc::permission_denied);
  const grant_ref_t bogus[] = {shared->refs()[0] + 100};
  EXPECT_EQ(error_of(t(0).grants().map(1, bogus, access::read_write)), errc::bad_grant_ref);
  EXPECT_EQ(error_of(t(0).grants().map(9, shared->refs(), access::read_write)), errc::no_such_domain);
  EXPECT_EQ(error_of(t(1).grants().share(0, 0, access::read_write)), errc::invalid_argument);
}

TEST_P(seam_contract, GrantAndPortLimitsGiveExhaustionErrors) {
  b.reset();
  b = make({.grant_limit = 4, .port_limit = 2});
  auto four = t(1).grants().share(0, 4, access::read_write).value();
  EXPECT_EQ(error_of(t(1).grants().share(0, 1, access::read_write)), errc::grant_exhausted);
  auto h = t(1).open_event_channel().value();
  ASSERT_TRUE(h->bind_unbound(0));
  ASSERT_TRUE(h->bind_unbound(0));
  EXPECT_EQ(error_of(h->bind_unbound(0)), errc::port_exhausted);
  four.reset();
  EXPECT_TRUE(t(1).grants().share(0, 1, access::read_write));
}

TEST_P(seam_contract, NotificationsCoalesceAndTheFdIsReadableExactlyWhilePending) {
  auto h0 = t(0).open_event_channel().value();
  auto h1 = t(1).open_event_channel().value();
  const auto p0 = h0->bind_unbound(1).value();
  const auto p1 = h1->bind_interdomain(0, p0).value();
  EXPECT_EQ(h1->pending().value(), p1);  // Xen marks the binder's new port pending
  EXPECT_EQ(h0->state(p0).value(), port_state::connected);
  EXPECT_FALSE(readable(h0->fd()));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h1->notify(p1));
  EXPECT_TRUE(readable(h0->fd()));
  EXPECT_EQ(h0->pending().value(), p0);
  EXPECT_EQ(h0->pending().value(), std::nullopt);  // three notifies, one event
  EXPECT_FALSE(readable(h0->fd()));
  EXPECT_EQ(error_of(h0->wait(10ms)), errc::timed_out);
}

// pending_batch takes every port that fired (a masked one stays), each once, as pending() would.
TEST_P(seam_contract, PendingBatchTakesEveryFiredPortOnce) {
  auto h0 = t(0).open_event_channel().value();
  auto h1 = t(1).open_event_channel().value();
  std::vector<evtchn_port_t> mine, theirs;
  for (int i = 0; i < 4; ++i) {
    mine.push_back(h0->bind_unbound(1).value());
    theirs.push_back(h1->bind_interdomain(0, mine.back()).value());
  }
  ASSERT_TRUE(h0->mask(mine[3]));
  for (int round = 0; round < 2; ++round)
    for (const evtchn_port_t p : theirs) ASSERT_TRUE(h1->notify(p));
  std::array<evtchn_port_t, 8> got{};
  const std::size_t n = h0->pending_batch(got).value();
  ASSERT_EQ(n, 3u);
  std::vector<evtchn_port_t> fired(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(n));
  std::sort(fired.begin(), fired.end());
  EXPECT_EQ(fired, std::vector<evtchn_port_t>(mine.begin(), mine.begin() + 3));
  EXPECT_FALSE(readable(h0->fd()));
  EXPECT_EQ(h0->pending_batch(got).value(), 0u);
  ASSERT_TRUE(h0->unmask(mine[3]));
  EXPECT_EQ(h0->pending_batch(std::span(got).first(1)).value(), 1u);
  EXPECT_EQ(got[0], mine[3]);
}

TEST_P(seam_contract, AMaskedPortHoldsItsEventUntilUnmasked) {
  auto h0 = t(0).open_event_channel().value();
  auto h1 = t(1).open_event_channel().value();
  const auto p0 = h0->bind_unbound(1).value();
  const auto p1 = h1->bind_interdomain(0, p0).value();
  ASSERT_TRUE(h0->mask(p0));
  ASSERT_TRUE(h1->notify(p1));
  EXPECT_FALSE(readable(h0->fd()));
  EXPECT_EQ(h0->pending().value(), std::nullopt);
  ASSERT_TRUE(h0->unmask(p0));
  EXPECT_TRUE(readable(h0->fd()));
  EXPECT_EQ(h0->wait(1s).value(), p0);
}

TEST_P(seam_contract, UnbindClosesThePeerAndWakesIt) {
  auto h0 = t(0).open_event_channel().value();
  auto h1 = t(1).open_event_channel().value();
  const auto p0 = h0->bind_unbound(1).value();
  const auto p1 = h1->bind_interdomain(0, p0).value();
  ASSERT_TRUE(h0->unbind(p0));
  EXPECT_TRUE(readable(h1->fd()));
  EXPECT_EQ(h1->state(p1).value(), port_state::peer_closed);
  EXPECT_EQ(error_of(h1->notify(p1)), errc::peer_closed);
  EXPECT_EQ(error_of(h0->notify(p0)), errc::bad_port);
  EXPECT_EQ(error_of(h1->bind_interdomain(0, p0)), errc::bad_port);
}

TEST_P(seam_contract, OnlyTheNamedDomainMayBindAnUnboundPort) {
  auto h0 = t(0).open_event_channel().value();
  auto h2 = t(2).open_event_channel().value();
  const auto p0 = h0->bind_unbound(1).value();
  EXPECT_EQ(error_of(h2->bind_interdomain(0, p0)), errc::permission_denied);
}

TEST_P(seam_contract, UnmapNotifyClearsTheByteAndSignalsOnUnmap) {
  auto h0 = t(0).open_event_channel().value();
  auto h1 = t(1).open_event_channel().value();
  const auto p0 = h0->bind_unbound(1).value();
  const auto p1 = h1->bind_interdomain(0, p0).value();
  ASSERT_EQ(h1->pending().value(), p1);
  auto shared = t(0).grants().share(1, 1, access::read_write).value();
  shared->bytes()[100] = std::byte{1};
  auto mapped = t(1).grants().map(0, shared->refs(), access::read_write, {.clear_byte = 100, .port = p1}).value();
  mapped.reset();
  EXPECT_EQ(shared->bytes()[100], std::byte{0});
  EXPECT_EQ(h0->wait(1s).value(), p0);
}

// As Linux's gntdev holds the event channel (evtchn_get): a handle closed before the mapping
// whose unmap-notify names its port leaves the port bound until the notify has fired — a dying
// process may close its event-channel fd before its grant fd.
TEST_P(seam_contract, AnUnmapNotifyKeepsItsPortBoundUntilItFires) {
  auto h0 = t(0).open_event_channel().value();
  auto h1 = t(1).open_event_channel().value();
  const auto p0 = h0->bind_unbound(1).value();
  const auto p1 = h1->bind_interdomain(0, p0).value();
  auto shared = t(0).grants().share(1, 1, access::read_write).value();
  shared->bytes()[9] = std::byte{1};
  auto mapped = t(1).grants().map(0, shared->refs(), access::read_write, {.clear_byte = 9, .port = p1}).value();
  h1.reset();
  EXPECT_EQ(h0->state(p0).value(), port_state::connected);
  EXPECT_FALSE(readable(h0->fd()));
  mapped.reset();
  EXPECT_EQ(shared->bytes()[9], std::byte{0});
  EXPECT_TRUE(readable(h0->fd()));
  EXPECT_EQ(h0->state(p0).value(), port_state::peer_closed);
  ASSERT_TRUE(h0->unbind(p0));
  shared.reset();
  EXPECT_TRUE(b->clean());
}

TEST_P(seam_contract, ADyingDomainFiresItsNotifiesClosesItsPortsAndIsReclaimed) {
  auto h0 = t(0).open_event_channel().value();
  auto h1 = t(1).open_event_channel().value();
  const auto p0 = h0->bind_unbound(1).value();
  const auto p1 = h1->bind_interdomain(0, p0).value();
  auto shared = t(1).grants().share(0, 1, access::read_write, {.clear_byte = 5, .port = p1}).value();
  auto mapped = t(0).grants().map(1, shared->refs(), access::read_write).value();
  mapped->bytes()[5] = std::byte{1};
  b->kill(1);
  EXPECT_EQ(mapped->bytes()[5], std::byte{0});  // the sharer's unmap-notify fired at its death
  EXPECT_TRUE(readable(h0->fd()));
  EXPECT_EQ(h0->state(p0).value(), port_state::peer_closed);
  EXPECT_EQ(b->state(1).value(), domain_state::dying);  // we still map its page
  EXPECT_EQ(error_of(h1->notify(p1)), errc::domain_dying);
  mapped.reset();
  EXPECT_EQ(b->state(1).value(), domain_state::dead);
  ASSERT_TRUE(h0->unbind(p0));
  shared.reset();
  h1.reset();
  EXPECT_TRUE(b->clean());
}

// Blocks until fd is readable or `timeout` passes.
bool readable_within(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

TEST_P(seam_contract, DomainWatchTellsDom0WhenADomainIsDyingAndDead) {
  EXPECT_EQ(error_of(t(1).watch_domains()), errc::permission_denied);
  auto w = t(0).watch_domains().value();
  EXPECT_EQ(error_of(t(0).watch_domains()), errc::invalid_argument);  // one VIRQ_DOM_EXC binding (EEXIST)
  EXPECT_FALSE(w->consume().value());
  EXPECT_EQ(w->life(1).value(), domain_life::running);
  EXPECT_EQ(w->life(77).value(), domain_life::dead);

  // dom0 maps a page of dom2, so dom2 stays dying until dom0 unmaps.
  auto shared = t(2).grants().share(0, 1, access::read_write).value();
  auto mapped = t(0).grants().map(2, shared->refs(), access::read_write).value();
  b->kill(2);
  ASSERT_TRUE(readable_within(w->fd(), 2s));
  EXPECT_TRUE(w->consume().value());
  EXPECT_FALSE(readable(w->fd()));
  EXPECT_EQ(w->life(2).value(), domain_life::dying);
  EXPECT_EQ(w->life(1).value(), domain_life::running);

  mapped.reset();  // its last page goes: dead, and the VIRQ fires again
  ASSERT_TRUE(readable_within(w->fd(), 2s));
  EXPECT_TRUE(w->consume().value());
  EXPECT_EQ(w->life(2).value(), domain_life::dead);

  w.reset();  // the binding goes with the watch
  EXPECT_TRUE(t(0).watch_domains());
  shared.reset();
  b->drop(2);
}

INSTANTIATE_TEST_SUITE_P(backends, seam_contract, ::testing::Values("in_process", "cross_process"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace xenwire::sim
