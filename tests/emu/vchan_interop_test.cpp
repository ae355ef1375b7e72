// xenwire's vchan endpoint against Debian's libxenvchan, each in its own domain process of a
// cross-process simulated host: tests/interop/vchan_peer.cpp (xenwire) and tests/emu/vchan_peer.c
// (libxenvchan on the libxen emulation) take the same arguments, so either can be either end.
//
//  * Transfers: each side once server (dom1), once client (dom2); in-page rings (1 KiB and 2 KiB:
//    libxenvchan's server sizing puts the left ring at order 10 or 11 inside the control page) and
//    granted rings (64 KiB, 1 MiB) with 64 MiB each way; byte-exact, MiB/s printed.
//  * Sizing: for each RING_BYTES, libxenvchan's server lays out its control page (ring orders, hence
//    in-page or granted rings) exactly as xenwire's vchan::server_plan does.
//  * Death: either side SIGKILLed mid-transfer; the survivor must exit with status 1 (a clean error,
//    not its 120 s alarm) within a few seconds, and `stop` must report nothing leaked.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "emu_host_support.hpp"
#include "xenwire/ring/vchan_placement.hpp"
#include "xenwire/sim/remote.hpp"
#include "xenwire/vchan/xenstore_rendezvous.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/client/connection.hpp"

namespace {

using namespace xenwire::emu_test;

enum class xenwire_is : std::uint8_t { server, client };

const char* program_of(bool xenwire) { return xenwire ? XENWIRE_INTEROP_PEER_BIN : XENWIRE_VCHAN_PEER_BIN; }
const char* name_of(bool xenwire) { return xenwire ? "xenwire" : "libxenvchan"; }

struct transfer_case {
  xenwire_is role;
  const char* ring;
  const char* mode;  // blocking | poll
  std::uint64_t bytes;
};

std::string case_name(const transfer_case& c) {
  return std::string(c.role == xenwire_is::server ? "XenwireServer" : "XenwireClient") + "_Ring" + c.ring + "_" +
         c.mode;
}

class VchanInterop : public EmuHost, public ::testing::WithParamInterface<transfer_case> {};

TEST_P(VchanInterop, ByteExactEachWay) {
  const auto& c = GetParam();
  const bool xenwire_server = c.role == xenwire_is::server;
  const std::string path = "/local/domain/1/data/vchan/2/" + std::string(c.ring);
  const std::string bytes = std::to_string(c.bytes);
  const auto t0 = clock_type::now();
  const pid_t server = start_in_domain(1, program_of(xenwire_server), {"server", "2", path, bytes, c.ring, c.mode});
  ASSERT_GT(server, 0);
  const pid_t client = start_in_domain(2, program_of(!xenwire_server), {"client", "1", path, bytes, c.ring, c.mode});
  ASSERT_GT(client, 0);
  EXPECT_EQ(wait_for(client, 150s), 0) << "client (" << name_of(!xenwire_server) << ")";
  EXPECT_EQ(wait_for(server, 150s), 0) << "server (" << name_of(xenwire_server) << ")";
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  // Both directions and the processes' start-up (joining the host, Xenstore, rendezvous) included.
  const double mib_s = 2.0 * static_cast<double>(c.bytes) / (1024.0 * 1024.0) / secs;
  std::printf("[ interop  ] %s server, %s client, ring %s, %s: %.1f MiB each way in %.2f s: %.1f MiB/s\n",
              name_of(xenwire_server), name_of(!xenwire_server), c.ring, c.mode,
              static_cast<double>(c.bytes) / (1024.0 * 1024.0), secs, mib_s);
  RecordProperty("mib_per_s", std::to_string(mib_s));
}

constexpr std::uint64_t in_page_bytes = 4ull << 20;  // in-page rings move ~1 KiB per hand-off: slower
constexpr std::uint64_t big_bytes = 64ull << 20;

INSTANTIATE_TEST_SUITE_P(Emu, VchanInterop,
                         ::testing::Values(transfer_case{xenwire_is::server, "1024", "poll", in_page_bytes},
                                           transfer_case{xenwire_is::client, "1024", "poll", in_page_bytes},
                                           transfer_case{xenwire_is::server, "2048", "blocking", in_page_bytes},
                                           transfer_case{xenwire_is::client, "2048", "blocking", in_page_bytes},
                                           transfer_case{xenwire_is::server, "65536", "poll", big_bytes},
                                           transfer_case{xenwire_is::client, "65536", "poll", big_bytes},
                                           transfer_case{xenwire_is::server, "1048576", "blocking", big_bytes},
                                           transfer_case{xenwire_is::client, "1048576", "blocking", big_bytes}),
                         [](const auto& tp) { return case_name(tp.param); });

// --- the servers size their rings alike --------------------------------------------------------------

class VchanInteropSizing : public EmuHost, public ::testing::WithParamInterface<const char*> {};

// A libxenvchan server in dom1 publishes its keys; this test, as a process of dom2 (the grantee),
// maps the control page read-only and compares its orders with server_plan(RING, RING), then lets a
// xenwire client complete the (one-byte) channel.
TEST_P(VchanInteropSizing, LibxenvchanServerLaysOutRingsAsXenwire) {
  namespace vchan = xenwire::vchan;
  namespace xs = xenwire::xenstore;
  const std::string ring = GetParam();
  const std::string path = "/local/domain/1/data/vchan/2/" + ring;
  const pid_t server = start_in_domain(1, XENWIRE_VCHAN_PEER_BIN, {"server", "2", path, "1", ring, "blocking"});
  ASSERT_GT(server, 0);
  {
    auto t = xenwire::sim::remote_transport::connect({.socket = paths_.socket, .domid = 2});
    ASSERT_TRUE(t) << t.error().message();
    auto conn = xs::connect_unix_socket(guest_socket(2));
    ASSERT_TRUE(conn) << conn.error().message();
    auto store = xs::client::open(std::move(*conn), {.timeout = 10s});
    ASSERT_TRUE(store);
    vchan::xenstore_rendezvous rdv(*store);
    auto wait = rdv.wait_for_keys(path);
    ASSERT_TRUE(wait) << wait.error().message();
    std::optional<vchan::keys> k;
    const auto deadline = clock_type::now() + 20s;
    while (!k) {
      ASSERT_LT(clock_type::now(), deadline) << "libxenvchan's server never published " << path;
      auto got = (*wait)->poll();
      ASSERT_TRUE(got) << got.error().message();
      if (*got) {
        k = *got;
      } else {
        std::this_thread::sleep_for(5ms);
      }
    }
    const xenwire::grant_ref_t ref = k->ring_ref;
    auto page = (*t)->grants().map(1, std::span(&ref, 1), xenwire::access::read_only);
    ASSERT_TRUE(page) << page.error().message();
    auto theirs = vchan::read_plan((*page)->bytes());
    ASSERT_TRUE(theirs) << theirs.error().message();
    const auto ring_bytes = static_cast<std::size_t>(std::stoull(ring));
    auto ours = vchan::server_plan(ring_bytes, ring_bytes);
    ASSERT_TRUE(ours);
    EXPECT_EQ(theirs->left.order, ours->left.order) << "client -> server ring";
    EXPECT_EQ(theirs->right.order, ours->right.order) << "server -> client ring";
    std::printf("[ interop  ] RING_BYTES %s: libxenvchan's server chose orders %u/%u (xenwire: %u/%u)\n", ring.c_str(),
                theirs->left.order, theirs->right.order, ours->left.order, ours->right.order);
  }
  const pid_t client = start_in_domain(2, XENWIRE_INTEROP_PEER_BIN, {"client", "1", path, "1", ring, "blocking"});
  ASSERT_GT(client, 0);
  EXPECT_EQ(wait_for(client, 30s), 0);
  EXPECT_EQ(wait_for(server, 30s), 0);
}

INSTANTIATE_TEST_SUITE_P(Emu, VchanInteropSizing,
                         ::testing::Values("1", "1024", "1025", "2048", "2049", "4096", "4097", "65536", "1048576"),
                         [](const auto& tp) { return std::string("Ring") + tp.param; });

// --- a side SIGKILLed mid-transfer ------------------------------------------------------------------

struct kill_case {
  xenwire_is role;
  bool kill_server;  // the victim: the server's process, else the client's
  const char* mode;
};

std::string kill_name(const kill_case& c) {
  return std::string(c.role == xenwire_is::server ? "XenwireServer" : "XenwireClient") +
         (c.kill_server ? "_KillServer_" : "_KillClient_") + c.mode;
}

class VchanInteropDeath : public EmuHost, public ::testing::WithParamInterface<kill_case> {};

TEST_P(VchanInteropDeath, SurvivorFailsCleanlyAndPromptly) {
  const auto& c = GetParam();
  const bool xenwire_server = c.role == xenwire_is::server;
  const std::string path = "/local/domain/1/data/vchan/2/0";
  const std::string endless = std::to_string(1ull << 40);  // never finishes: the kill comes mid-transfer
  const std::string ring = "65536";
  const auto survivor_log = (dir_ / "survivor.err").string();
  const pid_t server = start_in_domain(1, program_of(xenwire_server), {"server", "2", path, endless, ring, c.mode},
                                       c.kill_server ? std::string{} : survivor_log);
  ASSERT_GT(server, 0);
  const pid_t client = start_in_domain(2, program_of(!xenwire_server), {"client", "1", path, endless, ring, c.mode},
                                       c.kill_server ? survivor_log : std::string{});
  ASSERT_GT(client, 0);
  const pid_t victim_launcher = c.kill_server ? server : client;
  const pid_t survivor = c.kill_server ? client : server;

  // Mid-transfer: both peer processes have spent CPU time moving bytes (connecting and waiting take
  // next to none; a blocked peer sleeps on its event channel).
  std::optional<pid_t> victim, other;
  const auto deadline = clock_type::now() + 30s;
  for (;;) {
    ASSERT_LT(clock_type::now(), deadline) << "the transfer never got going";
    if (!victim) victim = child_of(victim_launcher);
    if (!other) other = child_of(survivor);
    if (victim && other && cpu_ticks(*victim) >= 20 && cpu_ticks(*other) >= 20) break;
    std::this_thread::sleep_for(10ms);
  }

  const auto killed_at = clock_type::now();
  ASSERT_EQ(::kill(*victim, SIGKILL), 0);
  const int survivor_status = wait_for(survivor, 30s);
  const double latency_ms = std::chrono::duration<double, std::milli>(clock_type::now() - killed_at).count();
  EXPECT_EQ(wait_for(victim_launcher, 10s), 128 + SIGKILL) << "the victim's `xenwire-host run`";

  const std::string err = read_text(survivor_log);
  EXPECT_EQ(survivor_status, 1) << "survivor (" << name_of(c.kill_server ? !xenwire_server : xenwire_server)
                                << ") should fail with status 1; its stderr:\n"
                                << err;
  EXPECT_LT(latency_ms, 3000.0) << "survivor took too long to notice";
  // Its message names how far it got: more than nothing, i.e. the kill was mid-transfer.
  EXPECT_NE(err.find("failed after "), std::string::npos) << err;
  EXPECT_EQ(err.find("failed after 0 "), std::string::npos) << err;
  const auto last = err.rfind("vchan_peer:");
  std::printf("[ interop  ] %s server, %s client, %s killed: survivor exited %d after %.0f ms: %s",
              name_of(xenwire_server), name_of(!xenwire_server), c.kill_server ? "server" : "client", survivor_status,
              latency_ms, err.substr(last == std::string::npos ? 0 : last).c_str());
  RecordProperty("kill_to_exit_ms", std::to_string(latency_ms));
}

INSTANTIATE_TEST_SUITE_P(Emu, VchanInteropDeath,
                         ::testing::Values(kill_case{xenwire_is::server, true, "blocking"},
                                           kill_case{xenwire_is::server, false, "poll"},
                                           kill_case{xenwire_is::client, true, "poll"},
                                           kill_case{xenwire_is::client, false, "blocking"}),
                         [](const auto& tp) { return kill_name(tp.param); });

}  // namespace
