// The seam's contract on the Xen backend (xenwire::xen), through libxen's C API on the libxen
// emulation. libxen is one domain per process, so each domain's side runs in a process of its own:
// forked from the test, which serves the cross-process host from a thread (served_host) and keeps
// domains 1 and 2 alive as their owner. The domain processes are members of their domain
// ($XENWIRE_HOST, $XENWIRE_DOMID, as `xenwire-host run` sets them) and exchange refs and ports
// through a shared anonymous page (the "board"). The assertions are tests/sim's contract, minus
// what libxen cannot do (see xen/include/xenwire/xen/transport.hpp), each difference asserted.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "host_fixture.hpp"
#include "xenwire/xen/transport.hpp"

namespace xenwire::xen {
namespace {

using namespace std::chrono_literals;

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

template <class T>
std::error_code error_of(const result<T>& r) {
  return r ? std::error_code{} : r.error();
}

// In a domain process: a failed check prints where and exits 1 (the test reads the exit status).
[[noreturn]] void die(const char* what, const char* file, int line) {
  std::fprintf(stderr, "dom%s: %s:%d: check failed: %s\n", std::getenv("XENWIRE_DOMID"), file, line, what);
  std::fflush(stderr);
  ::_exit(1);
}
#define CHECK(cond) ((cond) ? static_cast<void>(0) : die(#cond, __FILE__, __LINE__))
#define CHECK_ERR(expr, code) CHECK(error_of(expr) == make_error_code(code))
template <class T>
T value_or_die(result<T> r, const char* what, const char* file, int line) {
  if (!r) {
    std::fprintf(stderr, "dom%s: %s: %s\n", std::getenv("XENWIRE_DOMID"), what, r.error().message().c_str());
    die(what, file, line);
  }
  return std::move(*r);
}
#define OK(expr) value_or_die((expr), #expr, __FILE__, __LINE__)
#define OK_VOID(expr) CHECK(static_cast<bool>(expr))

// Shared between the test and its domain processes (MAP_SHARED before fork): numbered values.
struct board {
  std::atomic<std::uint32_t> value[32];
  std::atomic<bool> set[32];
  void post(int i, std::uint32_t v = 0) {
    value[i].store(v);
    set[i].store(true);
  }
  std::uint32_t take(int i) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!set[i].load()) {
      if (std::chrono::steady_clock::now() > deadline) die("board: timed out waiting", __FILE__, i);
      std::this_thread::sleep_for(100us);
    }
    return value[i].load();
  }
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);

using body = std::function<void(transport&, board&)>;

class xen_seam_contract : public ::testing::Test {
 protected:
  void SetUp() override {
    // The libraries this binary loaded by soname must be the emulation's (LD_LIBRARY_PATH, set by ctest).
    Dl_info info{};
    void* sym = ::dlsym(RTLD_DEFAULT, "xenevtchn_open");
    if (sym == nullptr || ::dladdr(sym, &info) == 0 ||
        std::string(info.dli_fname).rfind(XENWIRE_EMU_LIB_DIR, 0) != 0) {
      GTEST_SKIP() << "libxenevtchn is not the emulation's: run with LD_LIBRARY_PATH=" XENWIRE_EMU_LIB_DIR;
    }
    start({});
  }
  void TearDown() override {
    if (board_ != nullptr) ::munmap(board_, sizeof(board));
  }
  void start(sim::host_options limits) {
    owners_.clear();
    served_.reset();
    served_ = std::make_unique<sim::test_support::served_host>(limits);
    for (domid_t d = 1; d < 3; ++d) owners_.push_back(served_->join(d, sim::membership::owner));
    if (board_ != nullptr) ::munmap(board_, sizeof(board));
    void* mem = ::mmap(nullptr, sizeof(board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    board_ = new (mem) board{};
  }

  // Forks a process of domain `d` that runs `fn` on its xen::transport, then exits 0.
  pid_t spawn(domid_t d, body fn) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("XENWIRE_HOST", served_->socket().c_str(), 1);
      ::setenv("XENWIRE_DOMID", std::to_string(d).c_str(), 1);
      auto t = OK(transport::open());
      CHECK(t->self() == d);
      fn(*t, *board_);
      t.reset();
      ::_exit(0);
    }
    return pid;
  }
  // Runs one process per (domain, body) and expects each to exit 0; then the host must be clean.
  void run(std::vector<std::pair<domid_t, body>> domains) {
    std::vector<pid_t> pids;
    for (auto& [d, fn] : domains) pids.push_back(spawn(d, std::move(fn)));
    for (std::size_t i = 0; i < pids.size(); ++i) {
      int status = 0;
      ASSERT_EQ(::waitpid(pids[i], &status, 0), pids[i]);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "the process of dom" << domains[i].first << " failed (status " << status << ")";
    }
  }
  // The host learns of a process's exit when its thread reads the hang-up, a moment after waitpid.
  void expect_clean() {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!served_->host().check_clean() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    EXPECT_TRUE(served_->host().check_clean());
  }

  std::unique_ptr<sim::test_support::served_host> served_;
  std::vector<std::unique_ptr<sim::remote_transport>> owners_;
  board* board_ = nullptr;
};

TEST_F(xen_seam_contract, SharedPagesAreTheSameMemoryBothWays) {
  run({{1,
        [](transport& t, board& b) {
          auto shared = OK(t.grants().share(0, 2, access::read_write));
          CHECK(shared->refs().size() == 2 && shared->bytes().size() == 2 * page_size && shared->peer() == 0);
          b.post(0, shared->refs()[0]);
          b.post(1, shared->refs()[1]);
          b.take(2);
          shared->bytes()[page_size + 7] = std::byte{42};
          b.post(3);
          b.take(4);
          CHECK(shared->bytes()[3] == std::byte{7});
          b.take(5);  // dom0 has unmapped
        }},
       {0, [](transport& t, board& b) {
          const grant_ref_t refs[] = {b.take(0), b.take(1)};
          auto mapped = OK(t.grants().map(1, refs, access::read_write));
          CHECK(mapped->bytes().size() == 2 * page_size && mapped->peer() == 1 && mapped->mode() == access::read_write);
          CHECK(mapped->bytes()[page_size + 7] == std::byte{0});  // fresh pages are zero
          b.post(2);
          b.take(3);
          CHECK(mapped->bytes()[page_size + 7] == std::byte{42});
          mapped->bytes()[3] = std::byte{7};
          b.post(4);
          mapped.reset();
          b.post(5);
        }}});
  expect_clean();
}

TEST_F(xen_seam_contract, ReadOnlyMappingFaultsOnWrite) {
  run({{1,
        [](transport& t, board& b) {
          auto shared = OK(t.grants().share(0, 1, access::read_only));
          shared->bytes()[0] = std::byte{9};
          b.post(0, shared->refs()[0]);
          b.take(1);
          CHECK(shared->bytes()[0] == std::byte{9});
        }},
       {0, [](transport& t, board& b) {
          const grant_ref_t ref[] = {b.take(0)};
          CHECK_ERR(t.grants().map(1, ref, access::read_write), errc::permission_denied);
          auto mapped = OK(t.grants().map(1, ref, access::read_only));
          CHECK(mapped->bytes()[0] == std::byte{9});
          std::fflush(nullptr);
          const pid_t pid = ::fork();
          if (pid == 0) {
            std::signal(SIGSEGV, SIG_DFL);
            mapped->bytes()[0] = std::byte{1};  // must fault
            ::_exit(0);
          }
          int status = 0;
          CHECK(::waitpid(pid, &status, 0) == pid);
          CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
          mapped.reset();
          b.post(1);
        }}});
  expect_clean();
}

TEST_F(xen_seam_contract, OnlyTheGranteeMapsAndBadRefsAreRefused) {
  run({{1,
        [](transport& t, board& b) {
          auto shared = OK(t.grants().share(0, 1, access::read_write));
          CHECK_ERR(t.grants().share(0, 0, access::read_write), errc::invalid_argument);
          b.post(0, shared->refs()[0]);
          b.take(1);
          b.take(2);
        }},
       {2,
        [](transport& t, board& b) {
          const grant_ref_t ref[] = {b.take(0)};
          CHECK_ERR(t.grants().map(1, ref, access::read_write), errc::permission_denied);
          b.post(1);
        }},
       {0, [](transport& t, board& b) {
          const grant_ref_t ref[] = {b.take(0)};
          const grant_ref_t bogus[] = {ref[0] + 100};
          CHECK_ERR(t.grants().map(1, bogus, access::read_write), errc::bad_grant_ref);
          CHECK_ERR(t.grants().map(9, ref, access::read_write), errc::no_such_domain);
          CHECK_ERR(t.grants().map(1, std::span<const grant_ref_t>{}, access::read_write), errc::invalid_argument);
          b.post(2);
        }}});
  expect_clean();
}

TEST_F(xen_seam_contract, GrantAndPortLimitsGiveExhaustionErrors) {
  start({.grant_limit = 4, .port_limit = 2});
  run({{1, [](transport& t, board&) {
          auto four = OK(t.grants().share(0, 4, access::read_write));
          CHECK_ERR(t.grants().share(0, 1, access::read_write), errc::grant_exhausted);
          auto h = OK(t.open_event_channel());
          OK(h->bind_unbound(0));
          OK(h->bind_unbound(0));
          CHECK_ERR(h->bind_unbound(0), errc::port_exhausted);
          four.reset();
          OK(t.grants().share(0, 1, access::read_write));
        }}});
  expect_clean();
}

TEST_F(xen_seam_contract, NotificationsCoalesceTheFdIsReadableExactlyWhilePendingAndThePortStaysArmed) {
  run({{1,
        [](transport& t, board& b) {
          auto h = OK(t.open_event_channel());
          const auto p1 = OK(h->bind_interdomain(0, b.take(0)));
          CHECK(OK(h->pending()) == p1);  // Xen marks the binder's new port pending
          CHECK(OK(h->pending()) == std::nullopt);
          CHECK_ERR(h->state(p1), errc::not_supported);  // libxenevtchn has no status call
          CHECK_ERR(h->state(p1 + 1000), errc::bad_port);
          b.post(1);
          b.take(2);
          for (int i = 0; i < 3; ++i) OK_VOID(h->notify(p1));
          b.post(3);
          b.take(4);
          OK_VOID(h->notify(p1));  // after pending() the port is unmasked again: delivered
          b.take(5);
        }},
       {0, [](transport& t, board& b) {
          auto h = OK(t.open_event_channel());
          const auto p0 = OK(h->bind_unbound(1));
          b.post(0, p0);
          b.take(1);
          CHECK(!readable(h->fd()));
          b.post(2);
          b.take(3);
          CHECK(readable(h->fd()));
          CHECK(OK(h->pending()) == p0);
          CHECK(OK(h->pending()) == std::nullopt);  // three notifies, one event
          CHECK(!readable(h->fd()));
          CHECK_ERR(h->wait(10ms), errc::timed_out);
          b.post(4);
          CHECK(OK(h->wait(5s)) == p0);
          b.post(5);
        }}});
  expect_clean();
}

TEST_F(xen_seam_contract, MaskIsNotSupportedUnmaskIs) {
  run({{0, [](transport& t, board&) {
          auto h = OK(t.open_event_channel());
          const auto p0 = OK(h->bind_unbound(1));
          CHECK_ERR(h->mask(p0), errc::not_supported);  // libxenevtchn has unmask only
          OK_VOID(h->unmask(p0));
          OK_VOID(h->unbind(p0));
        }}});
  expect_clean();
}

TEST_F(xen_seam_contract, UnbindClosesThePeer) {
  run({{1,
        [](transport& t, board& b) {
          auto h = OK(t.open_event_channel());
          const auto p0 = b.take(0);
          const auto p1 = OK(h->bind_interdomain(0, p0));
          b.post(1);
          b.take(2);
          OK_VOID(h->notify(p1));  // the event is dropped (EVTCHNOP_send on an unbound port), no error
          CHECK_ERR(h->bind_interdomain(0, p0), errc::bad_port);
          OK_VOID(h->unbind(p1));
          CHECK_ERR(h->unbind(p1), errc::bad_port);
        }},
       {0, [](transport& t, board& b) {
          auto h = OK(t.open_event_channel());
          const auto p0 = OK(h->bind_unbound(1));
          b.post(0, p0);
          b.take(1);
          OK_VOID(h->unbind(p0));
          CHECK_ERR(h->notify(p0), errc::bad_port);
          b.post(2);
        }}});
  expect_clean();
}

TEST_F(xen_seam_contract, OnlyTheNamedDomainMayBindAnUnboundPort) {
  run({{2,
        [](transport& t, board& b) {
          auto h = OK(t.open_event_channel());
          CHECK_ERR(h->bind_interdomain(0, b.take(0)), errc::permission_denied);
          b.post(1);
        }},
       {0, [](transport& t, board& b) {
          auto h = OK(t.open_event_channel());
          b.post(0, OK(h->bind_unbound(1)));
          b.take(1);
        }}});
  expect_clean();
}

TEST_F(xen_seam_contract, UnmapNotifyClearsTheByteAndSignalsOnUnmapOnOnePageOnly) {
  run({{1,
        [](transport& t, board& b) {
          auto h = OK(t.open_event_channel());
          const auto p1 = OK(h->bind_interdomain(0, b.take(0)));
          const grant_ref_t ref[] = {b.take(1)};
          auto mapped = OK(t.grants().map(0, ref, access::read_write, {.clear_byte = 100, .port = p1}));
          CHECK(mapped->bytes()[100] == std::byte{1});
          const grant_ref_t two[] = {ref[0], ref[0]};
          CHECK_ERR(t.grants().map(0, two, access::read_write, {.port = p1}), errc::not_supported);
          CHECK_ERR(t.grants().map(0, ref, access::read_only, {.clear_byte = 1}), errc::read_only);
          CHECK_ERR(t.grants().share(0, 2, access::read_write, {.clear_byte = 1}), errc::not_supported);
          CHECK_ERR(t.grants().share(0, 1, access::read_write, {.clear_byte = page_size}), errc::invalid_argument);
          mapped.reset();
          b.post(2);
          b.take(3);
        }},
       {0, [](transport& t, board& b) {
          auto h = OK(t.open_event_channel());
          const auto p0 = OK(h->bind_unbound(1));
          auto shared = OK(t.grants().share(1, 1, access::read_write));
          shared->bytes()[100] = std::byte{1};
          b.post(0, p0);
          b.post(1, shared->refs()[0]);
          b.take(2);
          CHECK(shared->bytes()[100] == std::byte{0});
          // The binder's port was pending since the bind; the unmap's event is the same port.
          CHECK(OK(h->wait(5s)) == p0);
          b.post(3);
        }}});
  expect_clean();
}

// A sharer's process killed (SIGKILL: no destructor runs) fires its share's unmap-notify: the byte
// is cleared and the mapper's port signalled — how a peer learns we are gone even if we crash.
TEST_F(xen_seam_contract, AKilledSharerFiresItsUnmapNotify) {
  const pid_t sharer = spawn(1, [](transport& t, board& b) {
    auto h = OK(t.open_event_channel());
    const auto p1 = OK(h->bind_interdomain(0, b.take(0)));
    auto shared = OK(t.grants().share(0, 1, access::read_write, {.clear_byte = 5, .port = p1}));
    b.post(1, shared->refs()[0]);
    for (;;) ::pause();  // until killed
  });
  const pid_t mapper = spawn(0, [&](transport& t, board& b) {
    auto h = OK(t.open_event_channel());
    const auto p0 = OK(h->bind_unbound(1));
    b.post(0, p0);
    const grant_ref_t ref[] = {b.take(1)};
    auto mapped = OK(t.grants().map(1, ref, access::read_write));
    mapped->bytes()[5] = std::byte{1};
    b.post(2);
    b.take(3);  // the sharer's process is dead; the host releases what it held when it reads the hang-up
    CHECK(OK(h->wait(5s)) == p0);  // the notify's event, sent after the byte was cleared
    CHECK(mapped->bytes()[5] == std::byte{0});
  });
  board_->take(2);
  ASSERT_EQ(::kill(sharer, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(sharer, &status, 0), sharer);
  board_->post(3);
  ASSERT_EQ(::waitpid(mapper, &status, 0), mapper);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the mapper failed (status " << status << ")";
  expect_clean();
}

// VIRQ_DOM_EXC through xenevtchn_bind_virq, states through xc_domain_getinfo (the emulation's
// libxenctrl.so.4.17, found with dlopen as on a Xen 4.17 host).
TEST_F(xen_seam_contract, DomainWatchSeesAnOwnedDomainDieAndIsDom0Only) {
  const pid_t guest = spawn(1, [](transport& t, board& b) {
    CHECK_ERR(t.watch_domains(), errc::permission_denied);
    b.post(1);
  });
  const pid_t dom0 = spawn(0, [](transport& t, board& b) {
    auto w = OK(t.watch_domains());
    CHECK_ERR(t.watch_domains(), errc::invalid_argument);  // EEXIST: one binding per domain
    CHECK(OK(w->life(1)) == domain_life::running);
    CHECK(OK(w->life(77)) == domain_life::dead);
    b.post(0);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      pollfd p{w->fd(), POLLIN, 0};
      CHECK(::poll(&p, 1, 5000) == 1);
      CHECK(OK(w->consume()));
      const auto life = OK(w->life(1));
      if (life == domain_life::dead) break;
      CHECK(life == domain_life::dying);
      CHECK(std::chrono::steady_clock::now() < deadline);
    }
  });
  board_->take(0);
  board_->take(1);
  int status = 0;
  ASSERT_EQ(::waitpid(guest, &status, 0), guest);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the guest failed (status " << status << ")";
  // (Not by closing its owner connection: the forked dom0 process holds a copy of that socket.)
  ASSERT_TRUE(served_->host().destroy_domain(1));
  ASSERT_EQ(::waitpid(dom0, &status, 0), dom0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "dom0's watcher failed (status " << status << ")";
  expect_clean();
}

TEST(xen_errno_table, MapsByCallThenAnyAndPassesTheRestThrough) {
  EXPECT_EQ(errno_to_error(xen_call::map, EINVAL), errc::bad_grant_ref);
  EXPECT_EQ(errno_to_error(xen_call::share, EINVAL), errc::invalid_argument);
  EXPECT_EQ(errno_to_error(xen_call::share, ENOSPC), errc::grant_exhausted);
  EXPECT_EQ(errno_to_error(xen_call::bind_unbound, ENOSPC), errc::port_exhausted);
  EXPECT_EQ(errno_to_error(xen_call::notify, ENOTCONN), errc::bad_port);
  EXPECT_EQ(errno_to_error(xen_call::map, ESRCH), errc::no_such_domain);
  EXPECT_EQ(errno_to_error(xen_call::open, ENOENT), errc::not_supported);
  EXPECT_EQ(errno_to_error(xen_call::map, EMFILE), std::error_code(EMFILE, std::generic_category()));
}

TEST(xen_domid, ComesFromTheEnvironmentAndRejectsGarbage) {
  ::setenv("XENWIRE_DOMID", "7", 1);
  EXPECT_EQ(discover_domid().value(), 7);
  ::setenv("XENWIRE_DOMID", "7x", 1);
  EXPECT_EQ(error_of(discover_domid()), errc::invalid_argument);
  ::setenv("XENWIRE_DOMID", "32752", 1);  // DOMID_FIRST_RESERVED
  EXPECT_EQ(error_of(discover_domid()), errc::invalid_argument);
  ::unsetenv("XENWIRE_DOMID");
}

}  // namespace
}  // namespace xenwire::xen
