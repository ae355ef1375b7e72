#include "saturation_daemon.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iterator>
#include <thread>
#include <vector>

#include <sched.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>


namespace xenwire::bench {

namespace {

// fork+exec of argv, stdout to /dev/null (tools log to stderr); `env` entries are set in the child.
pid_t launch(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "%s: exec %s: %s\n", program_invocation_short_name, args[0], std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

pid_t listener_pid(const std::string& socket) {
  const int fd = connect_unix(socket);
  if (fd < 0) fail("cannot connect to " + socket);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) fail("SO_PEERCRED on " + socket);
  ::close(fd);
  return cred.pid;
}

}  // namespace

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "%s: %s%s%s\n", program_invocation_short_name, what.c_str(), errno != 0 ? ": " : "",
               errno != 0 ? std::strerror(errno) : "");
  std::exit(1);
}

int connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

measured_daemon measured_daemon::spawn(std::string name, std::vector<std::string> argv, const std::string& socket) {
  measured_daemon d;
  d.name_ = std::move(name);
  d.socket_ = socket;
  argv.push_back("--socket");
  argv.push_back(socket);
  d.child_ = d.pid_ = launch(argv);
  d.wait_until_up();
  return d;
}

measured_daemon measured_daemon::on_host(std::string name, const std::string& host_bin, std::vector<std::string> argv,
                                         const std::string& preload) {
  measured_daemon d;
  d.name_ = std::move(name);
  d.host_bin_ = host_bin;
  char dir[] = "/tmp/xenwire-sat-XXXXXX";
  if (::mkdtemp(dir) == nullptr) fail("mkdtemp");
  d.run_dir_ = dir;
  // Unique: a host's shared-memory object is named after the host, whatever its run directory.
  d.host_name_ = "sat-" + std::to_string(::getpid()) + "-";
  for (char c : d.name_) d.host_name_ += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  d.host_name_.resize(std::min<std::size_t>(d.host_name_.size(), 32));
  std::vector<std::string> start = {host_bin, "--host", d.host_name_, "start", "--xenstored"};
  start.insert(start.end(), argv.begin(), argv.end());
  std::vector<std::string> env = {"XENWIRE_RUN_DIR=" + d.run_dir_};
  if (!preload.empty()) env.push_back("LD_PRELOAD=" + preload);  // the host passes it on, after its own
  if (wait_exit(launch(start, env)) != 0)
    fail("xenwire-host did not start " + argv[0] + " (its log: " + d.run_dir_ + "/" + d.host_name_ + "/host.log)");
  d.socket_ = d.run_dir_ + "/" + d.host_name_ + "/xenstored.sock";
  d.wait_until_up();
  d.pid_ = listener_pid(d.socket_);
  return d;
}

measured_daemon measured_daemon::external(std::string name, const std::string& socket) {
  measured_daemon d;
  d.name_ = std::move(name);
  d.socket_ = socket;
  d.wait_until_up();
  d.pid_ = listener_pid(socket);
  return d;
}

measured_daemon::measured_daemon(measured_daemon&& o) noexcept
    : name_(std::move(o.name_)), socket_(std::move(o.socket_)), pid_(o.pid_), child_(o.child_),
      host_bin_(std::move(o.host_bin_)), host_name_(std::move(o.host_name_)), run_dir_(std::move(o.run_dir_)) {
  o.child_ = -1;
  o.host_bin_.clear();
  o.run_dir_.clear();
}

measured_daemon::~measured_daemon() {
  if (child_ > 0) {
    ::kill(child_, SIGTERM);
    wait_exit(child_);
    ::unlink(socket_.c_str());
  }
  if (!host_bin_.empty()) {
    const int rc = wait_exit(launch({host_bin_, "--host", host_name_, "stop"}, {"XENWIRE_RUN_DIR=" + run_dir_}));
    if (rc != 0)
      std::fprintf(stderr, "%s: stopping %s's host: status %d\n", program_invocation_short_name, name_.c_str(), rc);
  }
  if (!run_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(run_dir_, ec);
  }
}

void measured_daemon::wait_until_up() {
  for (int i = 0; i < 500; ++i) {
    if (const int fd = connect_unix(socket_); fd >= 0) {
      ::close(fd);
      return;
    }
    if (child_ > 0 && ::waitpid(child_, nullptr, WNOHANG) == child_) {
      child_ = -1;
      fail(name_ + " exited before serving " + socket_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  fail(name_ + " did not come up on " + socket_);
}

measured_daemon::cpu_times measured_daemon::cpu() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = all.rfind(')');
  if (paren == std::string::npos) fail("reading /proc/" + std::to_string(pid_) + "/stat (" + name_ + " gone?)");
  std::istringstream fields(all.substr(paren + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt: fields 3-13 of proc(5)
  unsigned long long utime = 0, stime = 0;
  fields >> utime >> stime;
  const auto hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return {static_cast<double>(utime) / hz, static_cast<double>(stime) / hz};
}

std::uint64_t measured_daemon::voluntary_switches() const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/task", ec)) {
    std::ifstream in(task.path() / "status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) total += std::stoull(line.substr(line.find(':') + 1));
  }
  if (ec) fail("reading /proc/" + std::to_string(pid_) + "/task (" + name_ + " gone?)");
  return total;
}

daemon_options::daemon_options() {
#ifdef XENWIRE_HOST_BINARY
  host_bin = XENWIRE_HOST_BINARY;
#endif
#ifdef XENWIRE_EMU_PRELOAD
  preload = XENWIRE_EMU_PRELOAD;
#endif
}

bool daemon_options::parse(int argc, char** argv, int& i) {
  const std::string a = argv[i];
  auto next = [&]() -> std::string {
    if (i + 1 >= argc) fail("missing value for " + a);
    return argv[++i];
  };
  if (a == "--pin=one") pin = true;
  else if (a == "--pin=none") pin = false;
  else if (a == "--no-xenwire") xenwire = false;
  else if (a == "--xenwire-epoll") xenwire_epoll = true;
  else if (a == "--host-bin") host_bin = next();
  else if (a == "--daemon") {
    const std::string spec = next();
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) fail("--daemon takes NAME=SOCKET or NAME=PROGRAM");
    others.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
  } else {
    return false;
  }
  return true;
}

void daemon_options::start_xenwire(std::vector<measured_daemon>& out, const std::string& socket) const {
  if (!xenwire) return;
#ifdef XENWIRE_XENSTORED_BINARY
  out.push_back(measured_daemon::spawn("xenwire",
                                       {XENWIRE_XENSTORED_BINARY, "-N", "--log-level", "warn", "--no-rate-limit"}, socket));
  if (xenwire_epoll)
    out.push_back(measured_daemon::spawn("xenwire-epoll",
                                         {XENWIRE_XENSTORED_BINARY, "-N", "--log-level", "warn", "--no-rate-limit",
                                          "--socket-io", "epoll"},
                                         socket + "-epoll"));
#else
  (void)out;
  (void)socket;
  fail("xenwire-xenstored was not built with this bench (--no-xenwire)");
#endif
}

void daemon_options::start_others(std::vector<measured_daemon>& out) const {
  for (const auto& [name, spec] : others) {
    struct stat st{};
    if (::stat(spec.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      out.push_back(measured_daemon::external(name, spec));
    } else {
      if (host_bin.empty()) fail("no xenwire-host to start " + spec + " on (--host-bin)");
      out.push_back(measured_daemon::on_host(name, host_bin, {spec, "-N"}, preload));
    }
  }
}

void pin_to_one_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) fail("sched_getaffinity");
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &set)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(c, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) fail("sched_setaffinity");
    return;
  }
}

double median_of_rounds(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

syscall_counter::syscall_counter(const std::string& perf, pid_t pid)
    : out_("/tmp/xenwire-bench-perf-" + std::to_string(::getpid())) {
  perf_ = ::fork();
  if (perf_ < 0) fail("fork");
  if (perf_ == 0) {
    const std::string target = std::to_string(pid);
    ::execlp(perf.c_str(), perf.c_str(), "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", target.c_str(), "-o",
             out_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // attached before the run starts
}

syscall_counter::~syscall_counter() { stop(); }

double syscall_counter::stop() {
  if (perf_ < 0) return -1;
  ::kill(perf_, SIGINT);
  wait_exit(perf_);
  perf_ = -1;
  std::ifstream in(out_);
  std::string line;
  double count = -1;
  while (std::getline(in, line))
    if (line.find("raw_syscalls:sys_enter") != std::string::npos) count = std::strtod(line.c_str(), nullptr);
  ::unlink(out_.c_str());
  return count;
}

}  // namespace xenwire::bench
