// Debian's libxenvchan between two guest domains of a cross-process simulated host, on the libxen
// emulation: `xenwire-host start` (dom0's xenwire-xenstored also serving one unprivileged socket
// per guest, where the guests' libxenstore finds it through XENSTORED_PATH), `build` of dom1 and
// dom2, then vchan_peer as server in dom1 and client in dom2 moving megabytes each way byte-exact,
// and `stop` reporting nothing leaked.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "xenwire/sim/host_paths.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

pid_t spawn(const std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, cargv[0], nullptr, nullptr, cargv.data(), environ) != 0) return -1;
  return pid;
}

// Exit status, or -1 if it had to be killed after `limit`.
int wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(10ms);
  }
}

int run(const std::vector<std::string>& argv, std::chrono::seconds limit = 30s) {
  const pid_t pid = spawn(argv);
  return pid < 0 ? -1 : wait_for(pid, limit);
}

class VchanOnEmulation : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xenwire-emu-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::setenv("XENWIRE_RUN_DIR", dir_.c_str(), 1);
    ::setenv("XENWIRE_EMU_LIB", XENWIRE_EMU_LIB_DIR, 1);
    name_ = "emu" + std::to_string(::getpid());
    auto paths = xenwire::sim::paths_for(name_);
    ASSERT_TRUE(paths);
    paths_ = *paths;
    ASSERT_EQ(run({XENWIRE_HOST_BIN, "--host", name_, "start", "--xenstored", XENWIRE_XENSTORED_BIN, "--backend", "sim",
                   "--socket", paths_.xenstored_socket.string(), "--guest-socket", "1=" + guest_socket(1),
                   "--guest-socket", "2=" + guest_socket(2)}),
              0);
    started_ = true;
    ASSERT_EQ(run({XENWIRE_HOST_BIN, "--host", name_, "build", "--domid", "1"}), 0);
    ASSERT_EQ(run({XENWIRE_HOST_BIN, "--host", name_, "build", "--domid", "2"}), 0);
  }
  void TearDown() override {
    if (started_) {
      EXPECT_EQ(run({XENWIRE_HOST_BIN, "--host", name_, "stop"}), 0) << "the host leaked (see its report)";
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
    ::unsetenv("XENSTORED_PATH");
  }

  std::string guest_socket(int domid) const { return (dir_ / ("guest" + std::to_string(domid) + ".sock")).string(); }

  // `xenwire-host run --domid D -- vchan_peer ...` with the guest's Xenstore socket.
  pid_t start_peer(int domid, const std::vector<std::string>& peer_args) {
    ::setenv("XENSTORED_PATH", guest_socket(domid).c_str(), 1);
    std::vector<std::string> argv = {XENWIRE_HOST_BIN, "--host", name_, "run", "--domid", std::to_string(domid),
                                     "--", XENWIRE_VCHAN_PEER_BIN};
    argv.insert(argv.end(), peer_args.begin(), peer_args.end());
    const pid_t pid = spawn(argv);
    ::unsetenv("XENSTORED_PATH");
    return pid;
  }

  void transfer(const std::string& bytes, const std::string& ring, const std::string& mode) {
    const std::string path = "/local/domain/1/data/vchan/2/" + ring;
    const pid_t server = start_peer(1, {"server", "2", path, bytes, ring, mode});
    ASSERT_GT(server, 0);
    const pid_t client = start_peer(2, {"client", "1", path, bytes, ring, mode});
    ASSERT_GT(client, 0);
    EXPECT_EQ(wait_for(client, 150s), 0) << "client";
    EXPECT_EQ(wait_for(server, 150s), 0) << "server";
  }

  fs::path dir_;
  std::string name_;
  xenwire::sim::host_paths paths_;
  bool started_ = false;
};

}  // namespace

// 4 MiB each way through 16 KiB rings: separately granted ring pages (share_pages,
// map_domain_grant_refs), blocking reads and writes (xenevtchn_pending blocks).
TEST_F(VchanOnEmulation, FourMegabytesEachWayBlocking) { transfer("4194304", "16384", "blocking"); }

// In-page rings (order 10/11: only the control page is granted) and poll() on the evtchn fd.
TEST_F(VchanOnEmulation, OneMegabyteEachWayInPageRingsPolling) { transfer("1048576", "1024", "poll"); }
