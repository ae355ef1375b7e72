// The daemons bench_xenstore_saturation measures: one it spawns itself (xenwire-xenstored, the
// floor), one it starts as dom0's xenstored of a fresh cross-process host (Xen's C xenstored on the
// libxen emulation), or one already running on a socket. Each is known by its socket and the pid
// whose CPU time is charged to it.
#pragma once

#include <string>
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
  // utime and stime of the daemon's process (all its threads), in seconds.
  struct cpu_times {
    double user = 0;
    double system = 0;
  };
  cpu_times cpu() const;

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

// Connects to a Unix socket; -1 if nobody accepts.
int connect_unix(const std::string& path);

[[noreturn]] void fail(const std::string& what);

}  // namespace xenwire::bench
