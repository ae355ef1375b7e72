#include "xenwire/xenstore/daemon/process.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace xenwire::xenstore {
namespace {

tl::unexpected<std::error_code> fail_errno() { return fail(std::error_code(errno, std::generic_category())); }

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The original process: wait for the daemon's verdict, then leave without running any of the
// state it shares with the daemon (atexit handlers, static destructors, stdio buffers).
[[noreturn]] void wait_for_daemon(unique_fd from_daemon, pid_t middle) {
  unsigned char code = 1;
  for (;;) {
    const ssize_t n = ::read(from_daemon.get(), &code, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 1) code = 1;  // EOF: it died (or gave up) before serving
    break;
  }
  while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
  }
  ::_exit(code);
}

}  // namespace

// ---- detached_start ----

result<detached_start> detached_start::begin() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno();
  unique_fd read_end(fds[0]), write_end(fds[1]);
  std::fflush(nullptr);  // nothing buffered may be written twice
  const pid_t middle = ::fork();
  if (middle < 0) return fail_errno();
  if (middle > 0) {
    write_end.reset();
    wait_for_daemon(std::move(read_end), middle);
  }
  // The middle process: a new session, then a child that is not its leader.
  read_end.reset();
  if (::setsid() < 0) ::_exit(1);
  const pid_t daemon = ::fork();
  if (daemon < 0) ::_exit(1);
  if (daemon > 0) ::_exit(0);
  return detached_start(std::move(write_end));
}

void detached_start::report(int code) noexcept {
  if (!to_parent_) return;
  const auto byte = static_cast<char>(code < 0 || code > 255 ? 1 : code);
  (void)write_all(to_parent_.get(), std::string_view(&byte, 1));
  to_parent_.reset();
}

result<void> detach_stdio(bool change_dir) {
  std::fflush(nullptr);
  unique_fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) return fail_errno();
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    if (::dup2(null.get(), fd) < 0) return fail_errno();
  }
  if (change_dir && ::chdir("/") != 0) return fail_errno();
  return {};
}

// ---- pid_file ----

result<pid_file> pid_file::write(std::string path) {
  const pid_t pid = ::getpid();
  const std::string temp = path + ".tmp." + std::to_string(pid);
  unique_fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return fail_errno();
  const std::string text = std::to_string(pid) + "\n";
  if (::fchmod(fd.get(), 0644) != 0 || !write_all(fd.get(), text) || ::close(fd.release()) != 0 ||
      ::rename(temp.c_str(), path.c_str()) != 0) {
    const auto err = fail_errno();
    ::unlink(temp.c_str());
    return err;
  }
  return pid_file(std::move(path), pid);
}

pid_file::pid_file(pid_file&& other) noexcept : path_(std::move(other.path_)), pid_(std::exchange(other.pid_, 0)) {}

pid_file& pid_file::operator=(pid_file&& other) noexcept {
  if (this != &other) {
    remove_if_ours();
    path_ = std::move(other.path_);
    pid_ = std::exchange(other.pid_, 0);
  }
  return *this;
}

pid_file::~pid_file() { remove_if_ours(); }

void pid_file::remove_if_ours() noexcept {
  if (pid_ == 0 || pid_ != ::getpid()) return;  // moved from, or a forked child's copy
  pid_ = 0;
  unique_fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return;
  char buf[32] = {};
  const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return;
  if (std::strtol(buf, nullptr, 10) == static_cast<long>(::getpid())) ::unlink(path_.c_str());
}

// ---- systemd ----

result<bool> notify_systemd(std::string_view state) {
  const char* where = std::getenv("NOTIFY_SOCKET");
  if (where == nullptr || *where == '\0') return false;
  const std::string_view name(where);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if ((name[0] != '/' && name[0] != '@') || name.size() >= sizeof addr.sun_path) return fail(errc::invalid_argument);
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '/' ? 1 : 0));
  unique_fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno();
  if (::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, static_cast<const sockaddr*>(static_cast<void*>(&addr)),
               len) < 0)
    return fail_errno();
  return true;
}

// ---- trace_file ----

result<std::unique_ptr<trace_file>> trace_file::open(std::string path) {
  std::unique_ptr<trace_file> t(new trace_file(std::move(path)));
  if (auto r = t->open_file(); !r) return fail(r.error());
  return t;
}

result<void> trace_file::open_file() {
  unique_fd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return fail_errno();
  (void)write_all(fd.get(), "\n***\n");  // C's marker for a (re)opened trace
  fd_ = std::move(fd);
  return {};
}

result<void> trace_file::reopen() {
  std::lock_guard lock(mutex_);
  fd_.reset();
  return open_file();  // on failure tracing stops until the next successful reopen, as in C
}

std::string trace_file::format(std::string_view line, std::time_t now) {
  // "conn 3 < WRITE ..." → "IN conn 3 <time> WRITE ..."; any other line: "<time> line".
  std::string_view who, what = line;
  const char* dir = nullptr;
  if (line.starts_with("conn ")) {
    const auto space = line.find(' ', 5);
    if (space != std::string_view::npos && space + 2 < line.size() && line[space + 2] == ' ' &&
        (line[space + 1] == '<' || line[space + 1] == '>')) {
      dir = line[space + 1] == '<' ? "IN" : "OUT";
      who = line.substr(0, space);
      what = line.substr(space + 3);
    }
  }
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d%02d%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out;
  out.reserve(line.size() + 32);
  if (dir != nullptr) {
    out += dir;
    out += ' ';
    out += who;
    out += ' ';
  }
  out += stamp;
  out += ' ';
  out += what;
  return out;
}

void trace_file::write(std::string_view trace_line) {
  std::string text = format(trace_line, std::time(nullptr));
  text += '\n';
  std::lock_guard lock(mutex_);
  if (fd_) (void)write_all(fd_.get(), text);  // one write per line: O_APPEND keeps lines whole
}

// ---- sighup_reopener ----

sighup_reopener::sighup_reopener(trace_file& file, std::function<void(std::error_code)> on_reopen)
    : thread_([this, &file, on_reopen = std::move(on_reopen)] {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGHUP);
        for (;;) {
          int sig = 0;
          if (::sigwait(&set, &sig) != 0) return;
          if (stopping_.load()) return;
          auto r = file.reopen();
          if (on_reopen) on_reopen(r ? std::error_code() : r.error());
        }
      }) {}

sighup_reopener::~sighup_reopener() {
  stopping_.store(true);
  ::pthread_kill(thread_.native_handle(), SIGHUP);  // blocked, so it wakes sigwait() only
  thread_.join();
}

}  // namespace xenwire::xenstore
