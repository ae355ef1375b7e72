// What xenwire-xenstored does as a process to stand in for C xenstored under Xen's start scripts:
// detach (fork, setsid, fork) with the starting process waiting until the daemon serves, a pid file,
// systemd's readiness notification (without libsystemd) and C xenstored's trace file.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "xenwire/base/error.hpp"
#include "xenwire/base/unique_fd.hpp"

namespace xenwire::xenstore {

// C xenstored forks and detaches before it serves, so its parent's exit says nothing about whether
// it serves. Here the starting process waits: begin() forks twice (setsid in between, so the daemon
// is no session leader and never regains a terminal) and returns only in the daemon; the original
// process stays inside begin() until the daemon calls report() and then exits with that code (0:
// serving), or exits 1 if the daemon dies without reporting. Call before any thread is started.
class detached_start {
 public:
  static result<detached_start> begin();

  detached_start(detached_start&&) noexcept = default;
  detached_start& operator=(detached_start&&) noexcept = default;
  ~detached_start() = default;  // not reported: the waiting process sees EOF and exits 1

  // In the daemon, once: the waiting process exits with `code`.
  void report(int code) noexcept;

 private:
  explicit detached_start(unique_fd to_parent) noexcept : to_parent_(std::move(to_parent)) {}
  unique_fd to_parent_;
};

// Points stdin, stdout and stderr at /dev/null (C's finish_daemonize), and changes directory to /
// if `change_dir` (so the daemon does not keep a mount point busy).
result<void> detach_stdio(bool change_dir);

// A pid file: the calling process's pid and a newline, written to a temporary name and renamed, so
// a reader never sees a partial file. Mode 0644. The destructor removes the file if it still names
// this process (a later daemon may have replaced it).
class pid_file {
 public:
  static result<pid_file> write(std::string path);
  pid_file(pid_file&& other) noexcept;
  pid_file& operator=(pid_file&& other) noexcept;
  ~pid_file();

  const std::string& path() const noexcept { return path_; }

 private:
  pid_file(std::string path, pid_t pid) noexcept : path_(std::move(path)), pid_(pid) {}
  void remove_if_ours() noexcept;
  std::string path_;
  pid_t pid_ = 0;
};

// sd_notify(3) without libsystemd: sends `state` (e.g. "READY=1") as one datagram to
// $NOTIFY_SOCKET (a path, or an abstract address starting with '@'). False when the variable is
// unset or empty (not started by systemd); an error when it is set but unusable.
result<bool> notify_systemd(std::string_view state);

// -T/--trace-file: C xenstored's trace file. Opened for appending (created 0600) with C's "\n***\n"
// marker; each --trace line ("conn 3 < WRITE ...") is written as one line in C's order: direction
// (IN/OUT), connection, local date and time, then the message ("IN conn 3 20261130 15:40:00 WRITE
// req 0 tx 0 len 9 "/a\0b""). reopen() (on SIGHUP) starts a new file at the same path, as after a
// log rotation. write() and reopen() may run on different threads.
class trace_file {
 public:
  static result<std::unique_ptr<trace_file>> open(std::string path);
  void write(std::string_view trace_line);
  result<void> reopen();
  const std::string& path() const noexcept { return path_; }

  // The line write() appends for `trace_line` at `now` (without the newline); for tests.
  static std::string format(std::string_view trace_line, std::time_t now);

 private:
  explicit trace_file(std::string path) : path_(std::move(path)) {}
  result<void> open_file();
  std::string path_;
  std::mutex mutex_;
  unique_fd fd_;
};

// C xenstored reopens its trace file on SIGHUP (for log rotation). SIGHUP must be blocked in every
// thread (block it before starting any, as for the stop signals); a thread of this object waits for
// it with sigwait() and reopens `file`, reporting the outcome through `on_reopen` (an error code, or
// none on success). The destructor stops and joins the thread.
class sighup_reopener {
 public:
  sighup_reopener(trace_file& file, std::function<void(std::error_code)> on_reopen);
  ~sighup_reopener();
  sighup_reopener(const sighup_reopener&) = delete;
  sighup_reopener& operator=(const sighup_reopener&) = delete;

 private:
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace xenwire::xenstore
