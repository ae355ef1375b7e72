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

#include <fcntl.h>
#include <sys/socket.h>
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
    std::fprintf(stderr, "bench_xenstore_saturation: exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench_xenstore_saturation: %s%s%s\n", what.c_str(), errno != 0 ? ": " : "",
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
  if (wait_status(launch(start, env)) != 0)
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
    wait_status(child_);
    ::unlink(socket_.c_str());
  }
  if (!host_bin_.empty()) {
    const int rc = wait_status(launch({host_bin_, "--host", host_name_, "stop"}, {"XENWIRE_RUN_DIR=" + run_dir_}));
    if (rc != 0) std::fprintf(stderr, "bench_xenstore_saturation: stopping %s's host: status %d\n", name_.c_str(), rc);
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

}  // namespace xenwire::bench
