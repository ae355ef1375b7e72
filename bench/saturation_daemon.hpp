// The daemons bench_xenstore_saturation and bench_xenstore_boot_storm measure: one spawned by the
// bench itself (xenwire-xenstored, the floor), one started as dom0's xenstored of a fresh
// cross-process host (Xen's C xenstored on the libxen emulation), or one already running on a
// socket. Each is known by its socket and the pid whose CPU time is charged to it; and what such a
// bench needs around them (pinning, medians, counting a daemon's syscalls).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <sys/types.h>
#include <vector>

namespace xenwire::bench {

class measured_daemon {
 public:
  // `argv` run directly with "--socket PATH" appended (it must serve there in the foreground).
  static measured_daemon spawn(std::string name, std::vector<std::string> argv, const std::string& socket);
  // `argv` started by `host_bin start --xenstored argv...` on a host of its own (C xenstored: -N),
  // with `preload` (the emulated libraries, ':'-separated) in LD_PRELOAD if not empty.
  static measured_daemon on_host(std::string name, const std::string& host_bin, std::vector<std::string> argv,
                                 const std::string& preload);
  // A daemon already serving `socket`; its pid is the socket's listener (SO_PEERCRED).
  static measured_daemon external(std::string name, const std::string& socket);

  measured_daemon(measured_daemon&& other) noexcept;
  measured_daemon& operator=(measured_daemon&&) = delete;
  measured_daemon(const measured_daemon&) = delete;
  ~measured_daemon();

  const std::string& name() const { return name_; }
  const std::string& socket() const { return socket_; }
  pid_t pid() const { return pid_; }
  // The socket of the host it runs on (on_host), where domains can be created; empty otherwise.
  std::string host_socket() const { return host_bin_.empty() ? std::string() : run_dir_ + "/" + host_name_ + "/host.sock"; }
  // utime and stime of the daemon's process (all its threads), in seconds.
  struct cpu_times {
    double user = 0;
    double system = 0;
  };
  cpu_times cpu() const;
  // Voluntary context switches of all its threads (/proc/PID/task/*/status): its wake-ups.
  std::uint64_t voluntary_switches() const;

 private:
  measured_daemon() = default;
  void wait_until_up();

  std::string name_;
  std::string socket_;
  pid_t pid_ = -1;
  pid_t child_ = -1;          // ours to SIGTERM and reap
  std::string host_bin_;      // set when a host of ours runs it: stopped on destruction
  std::string host_name_;
  std::string run_dir_;
};

// The daemon choices every such bench takes: --pin=one|none, --no-xenwire, --xenwire-epoll,
// --host-bin PATH and
// --daemon NAME=SPEC (SPEC an existing socket, or a program started as dom0's xenstored of a host of
// its own with -N, the emulated libraries preloaded). Defaults come from the build (xenstore.cmake).
struct daemon_options {
  daemon_options();
  // Takes argv[i] (and its value, advancing i) if it is one of the options above.
  bool parse(int argc, char** argv, int& i);
  // xenwire-xenstored of the build (-N --log-level warn --no-rate-limit) on `socket`, if wanted;
  // with --xenwire-epoll also as "xenwire-epoll" (--socket-io epoll, the A/B of io_uring).
  void start_xenwire(std::vector<measured_daemon>& out, const std::string& socket) const;
  // Every --daemon, in command-line order.
  void start_others(std::vector<measured_daemon>& out) const;

  bool pin = true;
  bool xenwire = true;
  bool xenwire_epoll = false;
  std::string host_bin;
  std::string preload;  // the emulated libraries, ':'-separated
  std::vector<std::pair<std::string, std::string>> others;  // NAME, SPEC
};

// Connects to a Unix socket; -1 if nobody accepts.
int connect_unix(const std::string& path);

[[noreturn]] void fail(const std::string& what);

// Waits for a child; its exit status, or 128 + the signal that ended it.
int wait_exit(pid_t pid);

// Pins the calling process, and every process it starts from then on, to its first allowed CPU.
void pin_to_one_cpu();

// The median (the mean of the middle two for an even count); `v` not empty. Not bench_support.hpp's
// median (the upper middle): a bench may include both.
double median_of_rounds(std::vector<double> v);

// The syscalls a process makes between start() and stop(), counted by
// `perf stat -e raw_syscalls:sys_enter -p PID` (the tracepoint costs the process CPU meanwhile).
class syscall_counter {
 public:
  // Attaches `perf` (a perf binary) to `pid`; waits until it is attached.
  syscall_counter(const std::string& perf, pid_t pid);
  syscall_counter(const syscall_counter&) = delete;
  syscall_counter& operator=(const syscall_counter&) = delete;
  ~syscall_counter();
  // Detaches perf; the count, or -1 if perf counted nothing.
  double stop();

 private:
  pid_t perf_ = -1;
  std::string out_;
};

}  // namespace xenwire::bench
