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
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stop_token>
#include <thread>

#include "xenwire/base/event_loop.hpp"
#include "xenwire/sim/host.hpp"
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
  found = fs::remove_all(paths.proc_xen, ec) > 0 || found;
  fs::remove(paths.run_dir, ec);
  return found;
}

// argv is built before the fork: the child may only make async-signal-safe calls until it execs.
pid_t spawn(const std::vector<std::string>& argv, bool die_with_parent) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execvp's API
  cargv.push_back(nullptr);
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
  ::execvp(cargv[0], cargv.data());
  const char* parts[] = {"xenwire-host: cannot run ", cargv[0], ": ", std::strerror(errno), "\n"};
  for (const char* p : parts) static_cast<void>(::write(STDERR_FILENO, p, std::strlen(p)));
  ::_exit(127);
}

int exit_status_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// dom0's kernel, as far as its xenstored sees it. Linux's xenbus driver in dom0 allocates a page
// for dom0's own Xenstore ring and binds an event-channel port unbound for dom0 itself
// (xenstored_local_init); xenfs shows them as /proc/xen/xsd_kva (mmap-able) and /proc/xen/xsd_port.
// The host process plays that kernel: the page is the file proc-xen/xsd_kva, the port is bound by
// a handle of the host's own dom0, and proc-xen/ is what libxenwire-procxen.so shows a Xen
// xenstored as /proc/xen. The kernel never uses the ring itself (its xenbus clients, such as
// kernel backends, do not exist here); it keeps the port until the host stops.
struct dom0_kernel {
  std::unique_ptr<sim::domain_transport> transport;
  std::unique_ptr<event_channel> xenbus_events;
  evtchn_port_t xenbus_port = 0;

  void release() {
    xenbus_events.reset();
    transport.reset();
  }
};

result<void> start_dom0_kernel(sim::host& host, const fs::path& dir, dom0_kernel& k) {
  auto t = host.transport(0);
  if (!t) return fail(t.error());
  auto events = (*t)->open_event_channel();
  if (!events) return fail(events.error());
  auto port = (*events)->bind_unbound(0);
  if (!port) return fail(port.error());
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return fail(ec);
  auto put = [&](const char* name, const std::string& bytes) {
    std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(f.flush());
  };
  // The ring page (zeroed, one page as the kernel's mmap handler insists), the port as Linux's
  // xsd_port_read prints it, and dom0's capabilities.
  if (!put("xsd_kva", std::string(4096, '\0')) || !put("xsd_port", std::to_string(*port)) ||
      !put("capabilities", "control_d\n")) {
    return fail(std::make_error_code(std::errc::io_error));
  }
  k.transport = std::move(*t);
  k.xenbus_events = std::move(*events);
  k.xenbus_port = *port;
  return {};
}

// Is dom0's xenstored serving? It answers a request. (A socket that accepts is not enough: C
// xenstored listens before it sets up dom0, and answers only once it has.)
bool xenstored_answers(const fs::path& socket) {
  if (!can_connect(socket, SOCK_STREAM)) return false;
  auto conn = xenstore::connect_unix_socket(socket.string());
  if (!conn) return false;
  auto c = xenstore::client::open(std::move(*conn), {.timeout = 2s});
  return c && c->get_domain_path(0).has_value();
}

// The host process: serves until asked to stop (or SIGTERM/SIGINT). `ready` gets one byte once
// the host and xenstored are up, and is closed without it otherwise.
int serve(const sim::host_paths& paths, std::vector<std::string> xenstored, int ready) {
  static constexpr int stop_signals[] = {SIGTERM, SIGINT};
  if (auto r = block_signals(stop_signals); !r) return failed("blocking signals: %s", r.error().message().c_str());
  auto loop = event_loop::create();
  if (!loop) return failed("event loop: %s", loop.error().message().c_str());
  static_cast<void>((*loop)->stop_on_signals(stop_signals));
  auto kernel = std::make_shared<dom0_kernel>();
  sim::host_server_options opts;
  opts.name = paths.name;
  opts.log = [](std::string_view line) {
    std::fprintf(stderr, "xenwire-host: %.*s\n", static_cast<int>(line.size()), line.data());
  };
  opts.before_leak_check = [kernel] { kernel->release(); };  // dom0's kernel powers off last
  auto server = sim::host_server::start(opts, **loop);
  if (!server) {
    if (server.error() == std::errc::device_or_resource_busy) return failed("host '%s' is already running", paths.name.c_str());
    return failed("cannot start host '%s': %s", paths.name.c_str(), server.error().message().c_str());
  }
  if (auto r = start_dom0_kernel((*server)->host(), paths.proc_xen, *kernel); !r) {
    return failed("dom0's xenbus page and port in %s: %s", paths.proc_xen.c_str(), r.error().message().c_str());
  }
  set_host_environment(paths, 0);
  const bool ours = xenstored.empty();
  if (ours) xenstored = {find_xenstored(), "-N", "--backend", "sim", "--socket", paths.xenstored_socket.string()};
  // A xenstored we were given (Xen's) sees dom0's /proc/xen through the preload library.
  const std::string old_preload = std::getenv("LD_PRELOAD") != nullptr ? std::getenv("LD_PRELOAD") : "";
  if (auto emu = find_emulation(); !ours && !emu.empty()) {
    const std::string shim = (fs::path(emu) / "libxenwire-procxen.so").string();
    ::setenv("LD_PRELOAD", (old_preload.empty() ? shim : shim + ":" + old_preload).c_str(), 1);
    ::setenv("XENWIRE_PROC_XEN", paths.proc_xen.c_str(), 1);
  }
  const pid_t xs_pid = spawn(xenstored, true);
  if (old_preload.empty()) {
    ::unsetenv("LD_PRELOAD");
  } else {
    ::setenv("LD_PRELOAD", old_preload.c_str(), 1);
  }
  (*server)->add_companion(xs_pid);
  std::fprintf(stderr, "xenwire-host: host '%s' up at %s; dom0's xenbus port %u; dom0's xenstored (%s, pid %d) at %s\n",
               paths.name.c_str(), paths.socket.c_str(), kernel->xenbus_port, xenstored[0].c_str(), xs_pid,
               paths.xenstored_socket.c_str());

  // Serve while xenstored starts (it joins the host first, and needs it to set up), then tell
  // whoever started us. A thread asks xenstored whether it serves while this one serves the host.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::atomic<bool> up{false};
  std::jthread probe([&](const std::stop_token& stop) {
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < deadline) {
      if (xenstored_answers(paths.xenstored_socket)) {
        up = true;
        return;
      }
      std::this_thread::sleep_for(20ms);  // the next attempt (the daemon is still starting)
    }
  });
  while (!up && !(*loop)->stopping() && std::chrono::steady_clock::now() < deadline) {
    static_cast<void>((*loop)->run_once(20ms));
    int status = 0;
    if (::waitpid(xs_pid, &status, WNOHANG) == xs_pid) {
      probe.request_stop();
      probe.join();
      const char* hint = ours || exit_status_of(status) != 0 ? "" : " (a daemon must not fork: C xenstored needs -N)";
      return failed("xenstored (%s) exited with status %d before serving%s", xenstored[0].c_str(),
                    exit_status_of(status), hint);
    }
  }
  probe.request_stop();
  probe.join();
  if (!up) {
    ::kill(xs_pid, SIGKILL);
    return failed("xenstored (%s) did not answer at %s within 10 s", xenstored[0].c_str(), paths.xenstored_socket.c_str());
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
  // What dom0 leaves on power-off: its /proc/xen, and the socket of a xenstored that died by
  // SIGTERM (C xenstored does not catch it). Removed while the host's lock is still held.
  kernel->release();
  std::error_code ec;
  fs::remove_all(paths.proc_xen, ec);
  fs::remove(paths.xenstored_socket, ec);
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
