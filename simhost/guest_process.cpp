#include "guest_process.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string_view>
#include <vector>

#include "guest.hpp"

namespace xenwire::simhost {

namespace {
constexpr int report_fd = 3;
}

guest_process::guest_process(guest_plan plan, report& out, std::filesystem::path host_socket,
                             std::vector<std::string> args)
    : plan_(plan), out_(out), host_socket_(std::move(host_socket)), args_(std::move(args)) {}

guest_process::~guest_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    join();
  }
  if (sock_ >= 0) ::close(sock_);
}

// The toolstack has threads (xenstore readers, watches), so the child of fork() may only make
// async-signal-safe calls until it execs: argv and the environment are built before the fork.
void guest_process::start() {
  std::vector<std::string> argv = {"/proc/self/exe", "--guest-process", std::to_string(plan_.domid)};
  argv.insert(argv.end(), args_.begin(), args_.end());
  std::vector<std::string> env = {"XENWIRE_HOST=" + host_socket_.string(),
                                  "XENWIRE_DOMID=" + std::to_string(plan_.domid)};
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv(*e);
    if (!kv.starts_with("XENWIRE_HOST=") && !kv.starts_with("XENWIRE_DOMID=")) env.emplace_back(kv);
  }
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(sv[1], report_fd);  // dup2 clears close-on-exec on the copy
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(sv[1]);
  sock_ = sv[0];
}

void guest_process::wait_done() {
  std::string line;
  char c = 0;
  while (::read(sock_, &c, 1) == 1 && c != '\n') line += c;
  std::istringstream in(line);
  std::string word;
  int ok = 0;
  std::uint64_t ops = 0, events = 0, txs = 0, retries = 0, entropy = 0, limited = 0, failures = 0;
  if (in >> word >> ok >> ops >> events >> txs >> retries >> entropy >> limited >> failures && word == "done") {
    reported_ok_ = ok == 1;
    out_.xs_ops += ops;
    out_.watch_events += events;
    out_.transactions += txs;
    out_.retries += retries;
    out_.entropy_bytes += entropy;
    out_.rate_limited += limited;
    out_.failures += failures;
  }
}

void guest_process::let_exit() {
  const char go = 'x';
  static_cast<void>(::send(sock_, &go, 1, MSG_NOSIGNAL));  // a crashed guest is gone: no SIGPIPE
}

void guest_process::join() {
  if (pid_ <= 0) return;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (plan_.crashes) {
    ok_ = killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0 && reported_ok_);
  } else {
    ok_ = WIFEXITED(status) && WEXITSTATUS(status) == 0 && reported_ok_;
    if (!ok_) out_.line(plan_.domid, "guest process ended badly (status " + std::to_string(status) + ")");
  }
}

int run_guest_process(const guest_plan& plan, report& out) {
  guest g(own_process_env(plan.domid), plan, out);
  const bool ok = g.work();
  char line[256];
  const int n = std::snprintf(line, sizeof line, "done %d %llu %llu %llu %llu %llu %llu %llu\n", ok ? 1 : 0,
                              static_cast<unsigned long long>(out.xs_ops.get()),
                              static_cast<unsigned long long>(out.watch_events.get()),
                              static_cast<unsigned long long>(out.transactions.get()),
                              static_cast<unsigned long long>(out.retries.get()),
                              static_cast<unsigned long long>(out.entropy_bytes.get()),
                              static_cast<unsigned long long>(out.rate_limited.get()),
                              static_cast<unsigned long long>(out.failures.get()));
  std::fflush(stdout);
  if (::send(report_fd, line, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return 1;
  char go = 0;
  static_cast<void>(::read(report_fd, &go, 1));  // until the toolstack is done with us
  g.close();
  return ok ? 0 : 1;
}

}  // namespace xenwire::simhost
