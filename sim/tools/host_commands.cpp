#include "host_commands.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "xenwire/base/event_loop.hpp"
#include "xenwire/sim/host_server.hpp"
#include "xenwire/sim/remote.hpp"
#include "xenwire/testbed/simulated_host.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::simhost_cli {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

template <class... A>
int failed(const char* fmt, A... a) {
  std::fprintf(stderr, "xenwire-host: ");
  std::fprintf(stderr, fmt, a...);  // NOLINT(cppcoreguidelines-pro-type-vararg)
  std::fprintf(stderr, "\n");
  return 1;
}

fs::path self_dir() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path(".") : p.parent_path();
}

// xenwire-xenstored: $XENWIRE_XENSTORED, beside us, in the build tree's xenstore/, or on PATH.
std::string find_xenstored() {
  if (const char* e = std::getenv("XENWIRE_XENSTORED"); e != nullptr && *e != '\0') return e;
  for (const fs::path& p : {self_dir() / "xenwire-xenstored", self_dir() / ".." / "xenstore" / "xenwire-xenstored"}) {
    if (::access(p.c_str(), X_OK) == 0) return p.lexically_normal();
  }
  return "xenwire-xenstored";
}

// The libxen emulation's libraries: $XENWIRE_EMU_LIB, else the build tree's emu/lib, else the
// installed lib/xenwire/emu. Empty when none exists.
std::string find_emulation() {
  if (const char* e = std::getenv("XENWIRE_EMU_LIB"); e != nullptr && *e != '\0') return e;
  for (const fs::path& p : {self_dir() / ".." / "emu" / "lib", self_dir() / ".." / "lib" / "xenwire" / "emu"}) {
    if (fs::is_directory(p)) return p.lexically_normal();
  }
  return {};
}

// What every program on the host finds in its environment.
void set_host_environment(const sim::host_paths& paths, domid_t domid) {
  ::setenv("XENWIRE_HOST", paths.socket.c_str(), 1);
  ::setenv("XENWIRE_DOMID", std::to_string(domid).c_str(), 1);
  ::setenv("XENWIRE_BACKEND", "sim", 1);
  ::setenv("XENSTORED_RUNDIR", paths.run_dir.c_str(), 1);
  if (domid == 0) ::setenv("XENSTORED_PATH", paths.xenstored_socket.c_str(), 1);
  if (auto emu = find_emulation(); !emu.empty()) {
    const char* old = std::getenv("LD_LIBRARY_PATH");
    ::setenv("LD_LIBRARY_PATH", (old != nullptr && *old != '\0' ? emu + ":" + old : emu).c_str(), 1);
  }
}

bool can_connect(const fs::path& path, int type) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const int s = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  const bool ok = ::connect(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(s);
  return ok;
}

// Is a host of this name running? Its lock is held exactly while it runs.
bool host_running(const sim::host_paths& paths) {
  const int fd = ::open(paths.lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

// Removes what a crashed host left; true if there was something.
bool remove_leftovers(const sim::host_paths& paths) {
  bool found = false;
  for (const fs::path& p : {paths.socket, paths.xenstored_socket, paths.lock}) {
    std::error_code ec;
    found = fs::remove(p, ec) || found;
  }
  found = boost::interprocess::shared_memory_object::remove(paths.pages_object.c_str()) || found;
  std::error_code ec;
  fs::remove(paths.run_dir, ec);
  return found;
}

pid_t spawn(const std::vector<std::string>& argv, bool die_with_parent) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execvp's API
  cargv.push_back(nullptr);
  ::execvp(cargv[0], cargv.data());
  std::fprintf(stderr, "xenwire-host: cannot run %s: %s\n", argv[0].c_str(), std::strerror(errno));
  ::_exit(127);
}

int exit_status_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// The host process: serves until asked to stop (or SIGTERM/SIGINT). `ready` gets one byte once
// the host and xenstored are up, and is closed without it otherwise.
int serve(const sim::host_paths& paths, std::vector<std::string> xenstored, int ready) {
  static constexpr int stop_signals[] = {SIGTERM, SIGINT};
  if (auto r = block_signals(stop_signals); !r) return failed("blocking signals: %s", r.error().message().c_str());
  auto loop = event_loop::create();
  if (!loop) return failed("event loop: %s", loop.error().message().c_str());
  static_cast<void>((*loop)->stop_on_signals(stop_signals));
  sim::host_server_options opts;
  opts.name = paths.name;
  opts.log = [](std::string_view line) {
    std::fprintf(stderr, "xenwire-host: %.*s\n", static_cast<int>(line.size()), line.data());
  };
  auto server = sim::host_server::start(opts, **loop);
  if (!server) {
    if (server.error() == std::errc::device_or_resource_busy) return failed("host '%s' is already running", paths.name.c_str());
    return failed("cannot start host '%s': %s", paths.name.c_str(), server.error().message().c_str());
  }
  set_host_environment(paths, 0);
  const bool ours = xenstored.empty();
  if (ours) xenstored = {find_xenstored(), "--backend", "sim", "--socket", paths.xenstored_socket.string()};
  const pid_t xs_pid = spawn(xenstored, true);
  (*server)->add_companion(xs_pid);
  std::fprintf(stderr, "xenwire-host: host '%s' up at %s; dom0's xenstored (%s, pid %d) at %s\n", paths.name.c_str(),
               paths.socket.c_str(), xenstored[0].c_str(), xs_pid, paths.xenstored_socket.c_str());

  // Serve while xenstored starts (it joins the host first), then tell whoever started us.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool up = false;
  while (!up && !(*loop)->stopping() && std::chrono::steady_clock::now() < deadline) {
    static_cast<void>((*loop)->run_once(20ms));
    int status = 0;
    if (::waitpid(xs_pid, &status, WNOHANG) == xs_pid) {
      return failed("xenstored (%s) exited with status %d before serving", xenstored[0].c_str(), exit_status_of(status));
    }
    up = can_connect(paths.xenstored_socket, SOCK_STREAM);
  }
  if (!up) {
    ::kill(xs_pid, SIGKILL);
    return failed("xenstored (%s) did not open %s within 10 s", xenstored[0].c_str(), paths.xenstored_socket.c_str());
  }
  if (ready >= 0) {
    const char one = 1;
    static_cast<void>(::write(ready, &one, 1));
    ::close(ready);
  }
  while (!(*server)->finished() && !(*loop)->stopping()) {
    if (auto r = (*loop)->run_once(std::chrono::milliseconds(-1)); !r) return failed("event loop: %s", r.error().message().c_str());
  }
  if (!(*server)->finished()) {  // a signal: stop xenstored ourselves
    ::kill(xs_pid, SIGTERM);
    int status = 0;
    ::waitpid(xs_pid, &status, 0);
  }
  std::fprintf(stderr, "xenwire-host: host '%s' stopped\n", paths.name.c_str());
  return 0;
}

result<std::unique_ptr<sim::remote_transport>> join_dom0(const sim::host_paths& paths) {
  return sim::remote_transport::connect({.socket = paths.socket, .domid = 0, .mode = sim::membership::member});
}

int not_running(const sim::host_paths& paths) {
  if (!host_running(paths) && remove_leftovers(paths)) {
    return failed("host '%s' is not running; removed what a crashed run left in %s and /dev/shm", paths.name.c_str(),
                  paths.run_dir.c_str());
  }
  return failed("host '%s' is not running (no %s)", paths.name.c_str(), paths.socket.c_str());
}

}  // namespace

int start(const sim::host_paths& paths, bool foreground, std::vector<std::string> xenstored) {
  if (host_running(paths)) return failed("host '%s' is already running at %s", paths.name.c_str(), paths.socket.c_str());
  if (remove_leftovers(paths)) {
    std::fprintf(stderr, "xenwire-host: removed what a crashed run of host '%s' left\n", paths.name.c_str());
  }
  if (foreground) {
    std::printf("%s\n", paths.socket.c_str());
    std::fflush(stdout);
    return serve(paths, std::move(xenstored), -1);
  }
  std::error_code ec;
  fs::create_directories(paths.run_dir, ec);
  if (ec) return failed("cannot create %s: %s", paths.run_dir.c_str(), ec.message().c_str());
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return failed("pipe: %s", std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return failed("fork: %s", std::strerror(errno));
  if (pid == 0) {
    ::close(pipefd[0]);
    ::setsid();
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    const int log = ::open(paths.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    if (log >= 0) ::dup2(log, STDERR_FILENO);
    ::_exit(serve(paths, std::move(xenstored), pipefd[1]));
  }
  ::close(pipefd[1]);
  char byte = 0;
  ssize_t n = 0;
  do {
    n = ::read(pipefd[0], &byte, 1);
  } while (n < 0 && errno == EINTR);
  ::close(pipefd[0]);
  if (n != 1) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return failed("host '%s' did not start (see %s)", paths.name.c_str(), paths.log.c_str());
  }
  std::printf("%s\n", paths.socket.c_str());
  return 0;
}

int stop(const sim::host_paths& paths) {
  auto t = join_dom0(paths);
  if (!t) return not_running(paths);
  auto report = (*t)->shutdown_host();
  if (!report) return failed("host '%s' did not stop cleanly: %s", paths.name.c_str(), report.error().message().c_str());
  t->reset();
  // The host removes its files on the way out; wait for it so that a start right after works.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (host_running(paths) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  if (report->ok()) {
    // A clean run leaves nothing behind, its log included.
    std::error_code ec;
    fs::remove(paths.log, ec);
    fs::remove(paths.run_dir, ec);
    std::fprintf(stderr, "xenwire-host: host '%s' stopped, nothing leaked\n", paths.name.c_str());
    return 0;
  }
  for (const auto& line : report->leaks()) std::printf("%s\n", line.c_str());
  return failed("host '%s' stopped with %zu leaks (its log: %s)", paths.name.c_str(), report->leaks().size(),
                paths.log.c_str());
}

int list(const sim::host_paths& paths) {
  auto t = join_dom0(paths);
  if (!t) return not_running(paths);
  auto text = (*t)->describe();
  if (!text) return failed("ls: %s", text.error().message().c_str());
  std::fputs(text->c_str(), stdout);
  return 0;
}

int run(const sim::host_paths& paths, domid_t domid, const std::vector<std::string>& command) {
  // A domain that exists (dom0, or a guest built with `build`) lives on after CMD, which is one of
  // its processes; a domain that does not is created for CMD and owned by this connection, so it
  // dies when CMD ends (or we do).
  bool exists = domid == 0;
  if (!exists) {
    auto dom0 = join_dom0(paths);
    if (!dom0) return not_running(paths);
    auto list = (*dom0)->domains();
    if (!list) return failed("cannot list domains: %s", list.error().message().c_str());
    for (const auto& d : *list) exists = exists || (d.domid == domid && d.state == sim::domain_state::alive);
  }
  auto life = sim::remote_transport::connect(
      {.socket = paths.socket, .domid = domid, .mode = exists ? sim::membership::member : sim::membership::owner});
  if (!life) {
    if (!host_running(paths)) return not_running(paths);
    return failed("cannot run as dom%u: %s", domid, life.error().message().c_str());
  }
  set_host_environment(paths, domid);
  // Signals for CMD go to CMD; we follow it.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGHUP);
  ::sigprocmask(SIG_BLOCK, &stop, nullptr);
  std::fflush(nullptr);
  const pid_t pid = spawn(command, true);
  if (pid < 0) return failed("fork: %s", std::strerror(errno));
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return exit_status_of(status);
    timespec tick{0, 20'000'000};
    siginfo_t info{};
    if (::sigtimedwait(&stop, &info, &tick) > 0) ::kill(pid, info.si_signo);
  }
}

int build(const sim::host_paths& paths, domid_t domid) {
  auto t = join_dom0(paths);
  if (!t) return not_running(paths);
  auto info = (*t)->create_domain(domid, {.xenstore = true, .xenstore_domid = 0});
  if (!info) return failed("cannot create dom%u: %s", domid, info.error().message().c_str());
  auto conn = xenstore::connect_unix_socket(paths.xenstored_socket.string());
  std::optional<xenstore::client> toolstack;
  if (conn) {
    if (auto c = xenstore::client::open(std::move(*conn), {.timeout = 10s})) toolstack = std::move(*c);
  }
  if (!toolstack) {
    static_cast<void>((*t)->destroy_domain(domid));
    return failed("cannot reach xenstored at %s", paths.xenstored_socket.c_str());
  }
  testbed::domain_spec spec;
  spec.domid = domid;
  if (auto r = testbed::write_and_introduce(*toolstack, spec, *info->xenstore_port); !r) {
    static_cast<void>((*t)->destroy_domain(domid));
    return failed("introducing dom%u to xenstored: %s", domid, r.error().message().c_str());
  }
  std::fprintf(stderr, "xenwire-host: dom%u built: Xenstore page at grant ref %u, port %u, introduced\n", domid,
               *info->xenstore_ref, *info->xenstore_port);
  return 0;
}

int destroy(const sim::host_paths& paths, domid_t domid) {
  auto t = join_dom0(paths);
  if (!t) return not_running(paths);
  if (auto r = (*t)->destroy_domain(domid); !r) return failed("cannot destroy dom%u: %s", domid, r.error().message().c_str());
  return 0;
}

}  // namespace xenwire::simhost_cli
