// A cross-process simulated host for tests of the libxen emulation: `xenwire-host start` with dom0's
// xenwire-xenstored (--backend sim) also serving one unprivileged socket per guest (the guests'
// libxenstore finds it through XENSTORED_PATH), `build` of dom1 and dom2, programs run as domain
// processes (`xenwire-host run`), and `stop` in TearDown, which must report nothing leaked.
// Needs XENWIRE_EMU_LIB_DIR, XENWIRE_HOST_BIN and XENWIRE_XENSTORED_BIN.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "xenwire/sim/host_paths.hpp"

extern char** environ;

namespace xenwire::emu_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// posix_spawn of argv[0] with this process's environment; stderr to `stderr_path` if not empty.
inline pid_t spawn(const std::vector<std::string>& argv, const std::string& stderr_path = {}) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  if (!stderr_path.empty()) {
    ::posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Exit status (128 + signal for a signal), or -1 if it had to be killed after `limit`.
inline int wait_for(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = clock_type::now() + limit;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (clock_type::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(1ms);
  }
}

inline int run(const std::vector<std::string>& argv, std::chrono::milliseconds limit = 30s) {
  const pid_t pid = spawn(argv);
  return pid < 0 ? -1 : wait_for(pid, limit);
}

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The one child of `xenwire-host run` (pid `launcher`): the program it runs as the domain's process.
inline std::optional<pid_t> child_of(pid_t launcher) {
  const auto text = read_text("/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher) + "/children");
  std::istringstream in(text);
  pid_t pid = 0;
  if (in >> pid) return pid;
  return std::nullopt;
}

// CPU time (user + system, in clock ticks) a process has used so far; -1 if it is gone.
inline long cpu_ticks(pid_t pid) {
  const auto text = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream in(text.substr(paren + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {  // fields 3.. after "pid (comm)"; utime 14, stime 15
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

class EmuHost : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xenwire-emu-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::setenv("XENWIRE_RUN_DIR", dir_.c_str(), 1);
    ::setenv("XENWIRE_EMU_LIB", XENWIRE_EMU_LIB_DIR, 1);
    name_ = "emu" + std::to_string(::getpid());
    auto paths = xenwire::sim::paths_for(name_);
    ASSERT_TRUE(paths);
    paths_ = *paths;
    ASSERT_EQ(run({XENWIRE_HOST_BIN, "--host", name_, "start", "--xenstored", XENWIRE_XENSTORED_BIN, "-N", "--backend", "sim",
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

  // `xenwire-host run --domid D -- program args...` with the guest's Xenstore socket.
  pid_t start_in_domain(int domid, const std::string& program, const std::vector<std::string>& args,
                        const std::string& stderr_path = {}) {
    ::setenv("XENSTORED_PATH", guest_socket(domid).c_str(), 1);
    std::vector<std::string> argv = {XENWIRE_HOST_BIN,      "--host", name_,  "run", "--domid",
                                     std::to_string(domid), "--",     program};
    argv.insert(argv.end(), args.begin(), args.end());
    const pid_t pid = spawn(argv, stderr_path);
    ::unsetenv("XENSTORED_PATH");
    return pid;
  }

  fs::path dir_;
  std::string name_;
  xenwire::sim::host_paths paths_;
  bool started_ = false;
};

}  // namespace xenwire::emu_test
