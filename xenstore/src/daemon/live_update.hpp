// Live update's session, as C xenstored 4.17 runs it for xenstore-control: `-f FILE` opens the one
// session (owned by that connection), `-c CMDLINE` sets the new command line, `-s [-t N] [-F]`
// starts, `-a` ends it. A start waits (its request unanswered, as C delays it) while transactions
// are open, up to the timeout; then `-F` goes ahead without them, and otherwise it is refused with
// C's reason. A new binary that carries transactions over (xenwire's) does not wait: they go into
// the state. The rules only: time, open transactions and the binary check come from the daemon,
// which carries out a start (dump the state, exec) and reports back.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <system_error>
#include <string>
#include <variant>
#include <vector>

#include "xenwire/base/unique_fd.hpp"
#include "xenwire/xenstore/daemon/live_update_state.hpp"
#include "xenwire/xenstore/server/core.hpp"

namespace xenwire::xenstore {

class live_update_session {
 public:
  // "" when `path` can be exec'd; else C's sentence ("File not accessible.", "File not executable.").
  using binary_check = std::function<std::string(const std::string& path)>;
  // Whether the binary reads open transactions from the state (a xenwire-xenstored).
  using carrier_check = std::function<bool(const std::string& path)>;

  struct answer {
    live_update_token token;
    std::string text;
  };
  // What the daemon does next.
  struct start_now {
    live_update_token token;    // answered "OK" inside the state (or with the failure)
    bool drop_transactions;     // -F with transactions still open: they are left behind
    bool keep_transactions;     // the new binary carries them over: export them
  };

  // A command from the core: the answers to send now. A start gets none: it waits (see poll). An
  // abort also answers a waiting start ("Cancellation was requested", as C's).
  // `carries` is asked once per start, about the session's binary.
  std::vector<answer> handle(const effect::live_update& e, time_point now, const binary_check& check,
                             const carrier_check& carries = {});
  // A waiting start, decided: nothing yet, an answer (refused), or go.
  using outcome = std::variant<std::monostate, answer, start_now>;
  outcome poll(time_point now, const std::vector<open_transaction_info>& open);
  // When poll() must run again at the latest, if a start waits.
  std::optional<time_point> deadline() const;
  // The start failed (state not written, exec failed): the session ends, as in C.
  void end() { session_.reset(); }
  // A session is open (not aborted, its owner still connected).
  bool active() const noexcept { return session_.has_value(); }
  // The owner went away: its session ends with it (C's talloc parent).
  void connection_closed(conn_id conn);

  const std::string& binary() const { return session_->binary; }
  const std::optional<std::string>& cmdline() const { return session_->cmdline; }

 private:
  struct waiting_start {
    live_update_token token;
    time_point since;
    std::uint32_t timeout;
    bool force;
    bool keep;  // the new binary carries transactions over: no waiting for them
  };
  struct session {
    conn_id owner;
    std::string binary;
    std::optional<std::string> cmdline;
    std::optional<waiting_start> start;
  };
  std::optional<session> session_;
};

// The new process's argv, as C's lu_activate_binary builds it: the binary, then the -c command line
// split at blanks, or else our own arguments; "-U" appended unless present.
std::vector<std::string> live_update_argv(const std::vector<std::string>& own_argv, const std::string& binary,
                                          const std::optional<std::string>& cmdline);

// Replaces this process with argv[0] (execv); returns only on failure, with why.
std::error_code exec_live_update(const std::vector<std::string>& argv);

// Does the file carry live_update_check_marker (every xenwire-xenstored does, C xenstored not)?
bool takes_live_update_check(const std::string& binary);
// Does the file carry live_update_transactions_marker (it reads open transactions from the state)?
bool carries_live_update_transactions(const std::string& binary);
// The new binary's dry run (argv plus --live-update-check STATE), running beside the daemon, which
// serves on meanwhile: the daemon polls fd() and calls read() when it is readable, until read()
// says the check has closed its output; then finish() reaps it.
class live_update_check {
 public:
  static result<live_update_check> start(const std::vector<std::string>& argv);
  live_update_check(live_update_check&&) noexcept;
  live_update_check& operator=(live_update_check&&) = delete;
  ~live_update_check();  // kills and reaps a check still running

  int fd() const noexcept { return out_.get(); }
  // Takes what the check said; false once it closed its output (it is exiting).
  bool read();
  // Waits for the check to exit (killed first if `timed_out`, after `limit`): "" if it exited 0,
  // else what it said and how it ended.
  std::string finish(bool timed_out, std::chrono::milliseconds limit);

 private:
  live_update_check(pid_t pid, unique_fd out) noexcept : pid_(pid), out_(std::move(out)) {}
  pid_t pid_;
  unique_fd out_;
  std::string said_;
};

// "" or C's sentence for a binary that cannot be exec'd.
std::string check_live_update_binary(const std::string& path);

}  // namespace xenwire::xenstore
