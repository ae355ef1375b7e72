#include "daemon/live_update.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

#include <cstdlib>
#include <string_view>
#include <utility>

#include "xenwire/base/unique_fd.hpp"
#include "xenwire/xenstore/migration/stream.hpp"

namespace xenwire::xenstore {

std::vector<live_update_session::answer> live_update_session::handle(const effect::live_update& e, time_point now,
                                                                     const binary_check& check,
                                                                     const carrier_check& carries) {
  using cmd = effect::live_update::command;
  std::vector<answer> out;
  auto say = [&](std::string text) {
    out.push_back({e.token, std::move(text)});
    return out;
  };
  switch (e.cmd) {
    case cmd::abort:
      if (!session_) return say("No live-update session active.");
      if (session_->start) out.push_back({session_->start->token, "Cancellation was requested"});
      session_.reset();
      return say("OK");
    case cmd::cmdline:
      if (!session_ || session_->owner != e.conn) return say("Not in live-update session.");
      session_->cmdline = e.value;
      return say("OK");
    case cmd::binary:
      if (std::string why = check(e.value); !why.empty()) return say(std::move(why));
      if (session_) return say("live-update session already active.");
      session_ = session{e.conn, e.value, std::nullopt, std::nullopt};
      return say("OK");
    case cmd::start:
      if (!session_ || session_->owner != e.conn) return say("Not in live-update session.");
      session_->start = waiting_start{e.token, now, e.timeout, e.force, carries && carries(session_->binary)};
      return out;
  }
  return say("Unknown live-update command.");
}

live_update_session::outcome live_update_session::poll(time_point now, const std::vector<open_transaction_info>& open) {
  if (!session_ || !session_->start) return std::monostate{};
  const waiting_start w = *session_->start;
  if (w.keep) {
    session_->start.reset();
    return start_now{w.token, false, true};
  }
  const auto limit = std::chrono::seconds(w.timeout);
  std::size_t long_running = 0;
  for (const auto& t : open)
    if (now - t.started >= limit) ++long_running;
  // C's lu_check_lu_allowed: no transaction, or -F and every one has run for the timeout.
  const bool allowed = open.empty() || (w.force && long_running == open.size());
  if (!allowed) {
    if (now < w.since + limit) return std::monostate{};
    if (!w.force) {
      std::string why;
      for (const auto& t : open) {
        if (now - t.started < limit) continue;
        why += why.empty() ? "Domains with long running transactions:" : "";
        why += "\nDomain " + std::to_string(t.domid) + ": " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - t.started).count()) + " s";
      }
      session_.reset();
      return answer{w.token, why.empty() ? "Overlapping transactions" : why};
    }
  }
  session_->start.reset();  // the daemon reports a failure with end()
  return start_now{w.token, !open.empty(), false};
}

std::optional<time_point> live_update_session::deadline() const {
  if (!session_ || !session_->start) return std::nullopt;
  return session_->start->since + std::chrono::seconds(session_->start->timeout);
}

void live_update_session::connection_closed(conn_id conn) {
  if (session_ && session_->owner == conn) session_.reset();
}

std::vector<std::string> live_update_argv(const std::vector<std::string>& own_argv, const std::string& binary,
                                          const std::optional<std::string>& cmdline) {
  std::vector<std::string> argv{binary};
  if (cmdline) {
    std::string_view rest = *cmdline;
    while (!rest.empty()) {
      const auto start = rest.find_first_not_of(" \t");
      if (start == std::string_view::npos) break;
      rest.remove_prefix(start);
      const auto end = rest.find_first_of(" \t");
      argv.emplace_back(rest.substr(0, end));
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    }
  } else if (!own_argv.empty()) {
    argv.insert(argv.end(), own_argv.begin() + 1, own_argv.end());
  }
  bool has_u = false;
  for (std::size_t i = 1; i < argv.size(); ++i) has_u = has_u || argv[i] == "-U";
  if (!has_u) argv.emplace_back("-U");
  return argv;
}

std::string live_update_state_path() {
  const char* dir = std::getenv("XENSTORED_RUNDIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : "/var/run/xenstored") + "/state_dump";
}

tl::expected<migration::stream, std::string> read_live_update_state(const std::string& path) {
  auto os_error = [] { return tl::unexpected<std::string>(std::error_code(errno, std::generic_category()).message()); };
  unique_fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) return os_error();
  std::string bytes;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(f.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error();
    if (n == 0) break;
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  auto s = migration::read_stream(bytes);
  if (!s) return tl::unexpected<std::string>(s.error().message());
  return std::move(*s);
}

tl::expected<std::vector<imported_connection>, std::string> import_live_update_state(migration::stream& state,
                                                                                     server_core& core,
                                                                                     bool serves_rings) {
  using refusal = tl::unexpected<std::string>;
  for (const auto& r : state.records) {
    const auto* c = std::get_if<migration::connection_record>(&r);
    if (c != nullptr && std::holds_alternative<migration::ring_spec>(c->spec) && !serves_rings)
      return refusal("the state has domains' ring connections, and this command line serves no rings (--backend none)");
  }
  auto opened = core.import_state(std::move(state), clock::now());
  if (!opened) return refusal("the state was refused: " + opened.error().message());
  return std::move(*opened);
}

namespace {

// execv's argv: pointers into `argv`, which must outlive them. Built before any fork (the daemon
// has other threads).
std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> raw;
  for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
  raw.push_back(nullptr);
  return raw;
}

}  // namespace

std::error_code exec_live_update(const std::vector<std::string>& argv) {
  std::vector<char*> raw = c_argv(argv);
  ::execv(raw[0], raw.data());
  return {errno, std::generic_category()};
}

namespace {

bool file_holds(const std::string& binary, std::string_view marker) {
  unique_fd f(::open(binary.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) return false;
  std::string window;  // the tail of the last block, so a marker across two reads is found
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(f.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    window.append(buf, static_cast<std::size_t>(n));
    if (window.find(marker) != std::string::npos) return true;
    window.erase(0, window.size() - std::min(window.size(), marker.size() - 1));
  }
}

}  // namespace

bool takes_live_update_check(const std::string& binary) { return file_holds(binary, live_update_check_marker); }

bool carries_live_update_transactions(const std::string& binary) {
  return file_holds(binary, live_update_transactions_marker);
}

result<live_update_check> live_update_check::start(const std::vector<std::string>& argv) {
  std::vector<char*> raw = c_argv(argv);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail(std::error_code(errno, std::generic_category()));
  unique_fd rd(fds[0]), wr(fds[1]);
  const pid_t pid = ::fork();
  if (pid < 0) return fail(std::error_code(errno, std::generic_category()));
  if (pid == 0) {
    ::dup2(wr.get(), 1);
    ::dup2(wr.get(), 2);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  ::fcntl(rd.get(), F_SETFL, O_NONBLOCK);
  return live_update_check(pid, std::move(rd));
}

live_update_check::live_update_check(live_update_check&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), out_(std::move(o.out_)), said_(std::move(o.said_)) {}

live_update_check::~live_update_check() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

bool live_update_check::read() {
  for (;;) {
    char buf[512];
    const ssize_t n = ::read(out_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN;
    if (n == 0) return false;
    if (said_.size() < 4096) said_.append(buf, static_cast<std::size_t>(n));
  }
}

std::string live_update_check::finish(bool timed_out, std::chrono::milliseconds limit) {
  if (timed_out) ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  std::string said = said_;
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  std::string how = timed_out ? "no answer within " + std::to_string(limit.count()) + " ms"
                    : WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                        : "signal " + std::to_string(WTERMSIG(status));
  return said.empty() ? how : said + " (" + how + ")";
}

std::string check_live_update_binary(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return "File not accessible.";
  if ((st.st_mode & (S_IXOTH | S_IXGRP | S_IXUSR)) == 0) return "File not executable.";
  return {};
}

}  // namespace xenwire::xenstore
