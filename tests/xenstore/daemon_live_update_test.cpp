// Live update of the xenwire-xenstored binary, end to end: clients on the socket keep their
// connections while the daemon execs a new binary (itself) with -U. Requests in flight are
// answered, a half-sent frame completes, watches keep firing, the store is the same; a refused or
// failed update leaves the old daemon serving.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "xenwire/base/unique_fd.hpp"
#include "xenwire/xenstore/daemon/live_update_state.hpp"
#include "xenwire/xenstore/migration/stream.hpp"
#include "xenwire/xenstore/wire.hpp"

namespace xs = xenwire::xenstore;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string z(std::string_view s) { return std::string(s) + '\0'; }

struct frame {
  xs::header h{};
  std::string payload;
  std::string str() const { return payload.substr(0, payload.find('\0')); }
};

// A raw protocol client: it can send half a frame, and sorts replies from watch events.
class raw_client {
 public:
  explicit raw_client(const std::string& path) {
    fd_ = xenwire::unique_fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    for (int i = 0; i < 200; ++i) {
      if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "cannot connect to " << path;
  }
  static std::string encode(xs::msg_type t, std::uint32_t req, std::string_view payload, std::uint32_t tx = 0) {
    std::string out;
    (void)xs::encode(out, xs::header{static_cast<std::uint32_t>(t), req, tx, 0}, payload);
    return out;
  }
  void send_bytes(std::string_view b) { ASSERT_EQ(::send(fd_.get(), b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size())); }
  frame call(xs::msg_type t, std::string_view payload, std::uint32_t tx = 0, std::chrono::milliseconds wait = 10s) {
    const std::uint32_t req = next_++;
    send_bytes(encode(t, req, payload, tx));
    return reply(req, wait);
  }
  frame reply(std::uint32_t req, std::chrono::milliseconds wait = 10s) {
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
      for (auto it = replies_.begin(); it != replies_.end(); ++it) {
        if (it->h.req_id == req) {
          frame f = *it;
          replies_.erase(it);
          return f;
        }
      }
      if (!read_some(until)) return frame{xs::header{}, "<timeout>"};
    }
  }
  std::optional<frame> event(std::chrono::milliseconds wait = 5s) {
    const auto until = std::chrono::steady_clock::now() + wait;
    while (events_.empty())
      if (!read_some(until)) return std::nullopt;
    frame f = events_.front();
    events_.erase(events_.begin());
    return f;
  }
  std::uint32_t next_req() { return next_++; }
  std::size_t unclaimed_replies() const { return replies_.size(); }

 private:
  bool read_some(std::chrono::steady_clock::time_point until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n <= 0) return false;
    in_.append(buf, static_cast<std::size_t>(n));
    while (in_.size() >= xs::header_size) {
      frame f;
      std::memcpy(&f.h, in_.data(), xs::header_size);
      if (in_.size() < xs::header_size + f.h.len) break;
      f.payload = in_.substr(xs::header_size, f.h.len);
      in_.erase(0, xs::header_size + f.h.len);
      (f.h.type == static_cast<std::uint32_t>(xs::msg_type::watch_event) ? events_ : replies_).push_back(f);
    }
    return true;
  }
  xenwire::unique_fd fd_;
  std::string in_;
  std::vector<frame> replies_, events_;
  std::uint32_t next_ = 1;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class LiveUpdate : public ::testing::Test {
 protected:
  virtual const char* socket_io() const { return "auto"; }
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "xs-lu-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    socket_ = (dir_ / "socket").string();
    log_ = dir_ / "log";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setenv("XENSTORED_RUNDIR", dir_.c_str(), 1);
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 2);
      ::execl(XENWIRE_XENSTORED_BINARY, XENWIRE_XENSTORED_BINARY, "-N", "--socket", socket_.c_str(), "--log-level",
              "debug", "--socket-io", socket_io(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (HasFailure()) std::fprintf(stderr, "--- daemon log ---\n%s\n", slurp(log_).c_str());
    fs::remove_all(dir_);
  }
  std::string cmdline() const {
    std::string s = slurp("/proc/" + std::to_string(pid_) + "/cmdline");
    for (char& c : s)
      if (c == '\0') c = ' ';
    return s;
  }
  // A target that is not a xenwire binary (its file lacks the markers), as C xenstored would be: a
  // script that execs ours, so the state is still read after it.
  std::string foreign_binary() const {
    const fs::path p = dir_ / "c-xenstored";
    std::ofstream(p) << "#!/bin/sh\nexec " << XENWIRE_XENSTORED_BINARY << " \"$@\"\n";
    fs::permissions(p, fs::perms::owner_all);
    return p.string();
  }
  static std::string lu(std::vector<std::string> args) {
    std::string p = z("live-update");
    for (auto& a : args) p += z(a);
    return p;
  }
  // Every node below `path` with its value and perms, as a sorted listing.
  static void dump(raw_client& c, const std::string& path, std::map<std::string, std::string>& out) {
    out[path] = c.call(xs::msg_type::read, z(path)).payload + "|" + c.call(xs::msg_type::get_perms, z(path)).payload;
    const std::string kids = c.call(xs::msg_type::directory, z(path)).payload;
    for (std::size_t at = 0; at < kids.size();) {
      const auto end = kids.find('\0', at);
      const std::string name = kids.substr(at, end - at);
      at = end + 1;
      if (!name.empty()) dump(c, (path == "/" ? "/" : path + "/") + name, out);
    }
  }

  fs::path dir_, log_;
  std::string socket_;
  pid_t pid_ = -1;
};

TEST_F(LiveUpdate, ClientsKeepTheirConnectionsWatchesAndHalfSentFrames) {
  raw_client a(socket_), watcher(socket_), partial(socket_), control(socket_);
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(a.call(xs::msg_type::write, z("/tool/n/" + std::to_string(i)) + "v" + std::to_string(i)).str(), "OK");
  ASSERT_EQ(a.call(xs::msg_type::set_perms, z("/tool/n/7") + z("n0") + z("r3")).str(), "OK");
  ASSERT_EQ(watcher.call(xs::msg_type::watch, z("/tool/w") + z("tw")).str(), "OK");
  ASSERT_TRUE(watcher.event());  // the initial event
  std::map<std::string, std::string> before, after;
  dump(a, "/", before);

  // Half a WRITE before the update; the rest after it.
  const std::uint32_t preq = partial.next_req();
  const std::string pframe = raw_client::encode(xs::msg_type::write, preq, z("/tool/p") + "half");
  partial.send_bytes(std::string_view(pframe).substr(0, 21));
  std::this_thread::sleep_for(50ms);

  ASSERT_EQ(control.call(xs::msg_type::control, lu({"-f", XENWIRE_XENSTORED_BINARY})).str(), "OK");
  EXPECT_EQ(control.call(xs::msg_type::control, lu({"-f", XENWIRE_XENSTORED_BINARY})).str(),
            "live-update session already active.");
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(control.call(xs::msg_type::control, lu({"-s", "-t", "5"})).str(), "OK");
  const auto blackout = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(cmdline().find(" -U"), std::string::npos) << cmdline();  // the same pid, exec'd
  std::printf("live update with 200 nodes, 4 clients: %.1f ms until the OK\n",
              std::chrono::duration<double, std::milli>(blackout).count());

  partial.send_bytes(std::string_view(pframe).substr(21));
  EXPECT_EQ(partial.reply(preq).str(), "OK");
  ASSERT_EQ(a.call(xs::msg_type::write, z("/tool/w") + "x").str(), "OK");
  auto ev = watcher.event();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->payload, z("/tool/w") + z("tw"));
  ASSERT_EQ(a.call(xs::msg_type::rm, z("/tool/w")).str(), "OK");
  ASSERT_TRUE(watcher.event());
  ASSERT_EQ(a.call(xs::msg_type::rm, z("/tool/p")).str(), "OK");
  dump(a, "/", after);
  EXPECT_EQ(after, before);
  EXPECT_EQ(a.call(xs::msg_type::control, z("check")).str(), "OK");
  EXPECT_FALSE(fs::exists(dir_ / "state_dump"));

  // Again: -U is already in the argv and is not repeated; a new client is served too.
  raw_client late(socket_);
  ASSERT_EQ(control.call(xs::msg_type::control, lu({"-f", XENWIRE_XENSTORED_BINARY})).str(), "OK");
  ASSERT_EQ(control.call(xs::msg_type::control, lu({"-s"})).str(), "OK");
  const std::string cl = cmdline();
  EXPECT_EQ(cl.find(" -U"), cl.rfind(" -U")) << cl;
  EXPECT_EQ(late.call(xs::msg_type::read, z("/tool/n/199")).str(), "v199");
  EXPECT_EQ(watcher.call(xs::msg_type::write, z("/tool/w") + "y").str(), "OK");
  EXPECT_TRUE(watcher.event());
}

TEST_F(LiveUpdate, RefusedAndFailedUpdatesLeaveTheDaemonServing) {
  raw_client c(socket_), t(socket_);
  ASSERT_EQ(c.call(xs::msg_type::write, z("/keep") + "1").str(), "OK");
  EXPECT_EQ(c.call(xs::msg_type::control, lu({"-a"})).str(), "No live-update session active.");
  EXPECT_EQ(c.call(xs::msg_type::control, lu({"-s"})).str(), "Not in live-update session.");
  EXPECT_EQ(c.call(xs::msg_type::control, lu({"-f", (dir_ / "nothing").string()})).str(), "File not accessible.");
  std::ofstream(dir_ / "plain") << "x";
  EXPECT_EQ(c.call(xs::msg_type::control, lu({"-f", (dir_ / "plain").string()})).str(), "File not executable.");

  // An open transaction and a foreign binary: the start waits for it, then gives C's reason.
  const std::string tx = t.call(xs::msg_type::transaction_start, z("")).str();
  ASSERT_NE(tx, "");
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-f", foreign_binary()})).str(), "OK");
  const std::string why = c.call(xs::msg_type::control, lu({"-s", "-t", "1"})).str();
  EXPECT_EQ(why.rfind("Domains with long running transactions:\nDomain 0: ", 0), 0U) << why;
  EXPECT_EQ(cmdline().find(" -U"), std::string::npos);
  EXPECT_EQ(c.call(xs::msg_type::control, lu({"-a"})).str(), "No live-update session active.");  // it ended

  // A binary that cannot be exec'd: C's sentence, and everything still works.
  std::ofstream(dir_ / "garbage") << "not a program";
  fs::permissions(dir_ / "garbage", fs::perms::owner_all);
  ASSERT_EQ(t.call(xs::msg_type::transaction_end, z("F"), static_cast<std::uint32_t>(std::stoul(tx))).str(), "OK");
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-f", (dir_ / "garbage").string()})).str(), "OK");
  EXPECT_EQ(c.call(xs::msg_type::control, lu({"-s"})).str(), "Error activating new binary.");
  EXPECT_EQ(t.call(xs::msg_type::read, z("/keep")).str(), "1");
  EXPECT_FALSE(fs::exists(dir_ / "state_dump"));

  // A new binary that would refuse its command line (or the state) is tried first: nothing is lost.
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-f", XENWIRE_XENSTORED_BINARY})).str(), "OK");
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-c", "-N --no-such-option"})).str(), "OK");
  const std::string refused = c.call(xs::msg_type::control, lu({"-s"})).str();
  EXPECT_EQ(refused.rfind("The new binary refused the state: ", 0), 0U) << refused;
  EXPECT_NE(refused.find("exit 2"), std::string::npos) << refused;
  EXPECT_EQ(cmdline().find(" -U"), std::string::npos);
  EXPECT_EQ(t.call(xs::msg_type::read, z("/keep")).str(), "1");
  EXPECT_FALSE(fs::exists(dir_ / "state_dump"));

  // -F with a foreign binary: a transaction open past the timeout is left behind; the update goes
  // ahead, here with a command line of the operator's.
  const std::string tx2 = t.call(xs::msg_type::transaction_start, z("")).str();
  ASSERT_EQ(t.call(xs::msg_type::write, z("/in-tx") + "1", static_cast<std::uint32_t>(std::stoul(tx2))).str(), "OK");
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-f", foreign_binary()})).str(), "OK");
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-c", "-N  --socket " + socket_ + "\t--log-level debug"})).str(), "OK");
  EXPECT_EQ(c.call(xs::msg_type::control, lu({"-s", "-t", "1", "-F"})).str(), "OK");
  EXPECT_EQ(cmdline(), std::string(XENWIRE_XENSTORED_BINARY) + " -N --socket " + socket_ + " --log-level debug -U ");
  const frame end = t.call(xs::msg_type::transaction_end, z("T"), static_cast<std::uint32_t>(std::stoul(tx2)));
  EXPECT_EQ(end.h.type, static_cast<std::uint32_t>(xs::msg_type::error)) << end.str();
  EXPECT_EQ(t.call(xs::msg_type::read, z("/in-tx")).str(), "ENOENT");
  EXPECT_EQ(t.call(xs::msg_type::read, z("/keep")).str(), "1");
}

// To a xenwire binary, open transactions cross: the start does not wait for them, and the clients'
// next requests in them behave as if no update had happened.
TEST_F(LiveUpdate, OpenTransactionsCrossToAXenwireBinary) {
  raw_client c(socket_), t(socket_), loser(socket_);
  ASSERT_EQ(c.call(xs::msg_type::write, z("/keep") + "1").str(), "OK");
  ASSERT_EQ(c.call(xs::msg_type::write, z("/gone/child") + "x").str(), "OK");
  ASSERT_EQ(c.call(xs::msg_type::write, z("/dir") + "").str(), "OK");
  const auto tx = static_cast<std::uint32_t>(std::stoul(t.call(xs::msg_type::transaction_start, z("")).str()));
  ASSERT_EQ(t.call(xs::msg_type::read, z("/keep"), tx).str(), "1");
  ASSERT_EQ(t.call(xs::msg_type::write, z("/in-tx/a") + "1", tx).str(), "OK");
  ASSERT_EQ(t.call(xs::msg_type::rm, z("/gone"), tx).str(), "OK");
  // This one conflicts after the update.
  const auto lt = static_cast<std::uint32_t>(std::stoul(loser.call(xs::msg_type::transaction_start, z("")).str()));
  ASSERT_EQ(loser.call(xs::msg_type::read, z("/dir/watched"), lt).str(), "ENOENT");
  ASSERT_EQ(loser.call(xs::msg_type::write, z("/loser") + "1", lt).str(), "OK");

  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-f", XENWIRE_XENSTORED_BINARY})).str(), "OK");
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-s", "-t", "30"})).str(), "OK");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "no waiting for the transactions";
  EXPECT_NE(cmdline().find(" -U"), std::string::npos) << cmdline();
  EXPECT_FALSE(fs::exists(dir_ / "state_dump"));

  // Inside, the transaction's view; outside, the store as it was.
  EXPECT_EQ(t.call(xs::msg_type::read, z("/in-tx/a"), tx).str(), "1");
  EXPECT_EQ(t.call(xs::msg_type::read, z("/gone/child"), tx).str(), "ENOENT");
  EXPECT_EQ(c.call(xs::msg_type::read, z("/in-tx/a")).str(), "ENOENT");
  EXPECT_EQ(c.call(xs::msg_type::read, z("/gone/child")).str(), "x");
  // Not what t's transaction touched ("/" gained and lost children in it): /dir only gains one.
  ASSERT_EQ(c.call(xs::msg_type::write, z("/dir/watched") + "now").str(), "OK");
  EXPECT_EQ(t.call(xs::msg_type::transaction_end, z("T"), tx).str(), "OK");
  EXPECT_EQ(c.call(xs::msg_type::read, z("/in-tx/a")).str(), "1");
  EXPECT_EQ(c.call(xs::msg_type::read, z("/gone")).str(), "ENOENT");
  EXPECT_EQ(loser.call(xs::msg_type::transaction_end, z("T"), lt).str(), "EAGAIN");
  EXPECT_EQ(c.call(xs::msg_type::read, z("/loser")).str(), "ENOENT");
  // A new transaction gets an id of its own.
  const std::string fresh = t.call(xs::msg_type::transaction_start, z("")).str();
  EXPECT_NE(fresh, std::to_string(tx));
  EXPECT_NE(fresh, std::to_string(lt));
  EXPECT_EQ(t.call(xs::msg_type::transaction_end, z("T"), static_cast<std::uint32_t>(std::stoul(fresh))).str(), "OK");
  EXPECT_EQ(c.call(xs::msg_type::control, z("check")).str(), "OK");
}

// An older xenwire binary (it takes the dry run but does not read transactions: its file lacks the
// transactions marker) is waited for as a foreign one.
TEST_F(LiveUpdate, AnOlderXenwireBinaryIsWaitedForAsC) {
  raw_client c(socket_), t(socket_);
  const fs::path older = dir_ / "older-xenstored";
  std::ofstream(older) << "#!/bin/sh\n# " << xs::live_update_check_marker << "\nexec " << XENWIRE_XENSTORED_BINARY
                       << " \"$@\"\n";
  fs::permissions(older, fs::perms::owner_all);
  const auto tx = static_cast<std::uint32_t>(std::stoul(t.call(xs::msg_type::transaction_start, z("")).str()));
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-f", older.string()})).str(), "OK");
  const std::string why = c.call(xs::msg_type::control, lu({"-s", "-t", "1"})).str();
  EXPECT_EQ(why.rfind("Domains with long running transactions:\nDomain 0: ", 0), 0U) << why;
  EXPECT_EQ(cmdline().find(" -U"), std::string::npos);
  // Once the transaction ends, it goes ahead (dry run included).
  ASSERT_EQ(t.call(xs::msg_type::transaction_end, z("T"), tx).str(), "OK");
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-f", older.string()})).str(), "OK");
  EXPECT_EQ(c.call(xs::msg_type::control, lu({"-s"})).str(), "OK");
  EXPECT_NE(cmdline().find(" -U"), std::string::npos) << cmdline();
}

// A xenwire binary whose dry run takes a second (then runs ours): the daemon serves meanwhile.
std::string slow_checking_binary(const fs::path& dir) {
  const fs::path p = dir / "slow-xenstored";
  std::ofstream(p) << "#!/bin/sh\n# " << xs::live_update_check_marker << "\n# " << xs::live_update_transactions_marker
                   << "\ncase \" $* \" in *\" --live-update-check \"*) touch " << (dir / "checking").string()
                   << "; sleep 1;; esac\nexec " << XENWIRE_XENSTORED_BINARY << " \"$@\"\n";
  fs::permissions(p, fs::perms::owner_all);
  return p.string();
}

bool appears(const fs::path& p) {
  for (int i = 0; i < 500 && !fs::exists(p); ++i) std::this_thread::sleep_for(10ms);
  return fs::exists(p);
}

TEST_F(LiveUpdate, TheNewBinarysCheckRunsWhileTheDaemonServesAndTheLatestStateCrosses) {
  raw_client c(socket_), w(socket_);
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-f", slow_checking_binary(dir_)})).str(), "OK");
  const std::uint32_t start = c.next_req();
  c.send_bytes(raw_client::encode(xs::msg_type::control, start, lu({"-s"})));
  ASSERT_TRUE(appears(dir_ / "checking"));
  // Answered by the old daemon while the check runs, and carried in the state written after it.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(w.call(xs::msg_type::write, z("/during") + "check").str(), "OK");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  EXPECT_EQ(cmdline().find(" -U"), std::string::npos);
  EXPECT_EQ(c.reply(start).str(), "OK");
  EXPECT_NE(cmdline().find(" -U"), std::string::npos) << cmdline();
  EXPECT_EQ(w.call(xs::msg_type::read, z("/during")).payload, "check");
}

TEST_F(LiveUpdate, AnAbortDuringTheCheckCancelsTheStart) {
  raw_client c(socket_), other(socket_);
  ASSERT_EQ(c.call(xs::msg_type::control, lu({"-f", slow_checking_binary(dir_)})).str(), "OK");
  const std::uint32_t start = c.next_req();
  c.send_bytes(raw_client::encode(xs::msg_type::control, start, lu({"-s"})));
  ASSERT_TRUE(appears(dir_ / "checking"));
  EXPECT_EQ(other.call(xs::msg_type::control, lu({"-a"})).str(), "OK");
  EXPECT_EQ(c.reply(start).str(), "Cancellation was requested");
  EXPECT_EQ(cmdline().find(" -U"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "state_dump"));
  EXPECT_EQ(other.call(xs::msg_type::write, z("/after") + "1").str(), "OK");
}

// The binary's own checks of a state file: the dry run (--live-update-check) and -U refuse a broken
// one with a reason and exit 1, before serving anything.
// The same daemon serving its sockets with epoll and with io_uring (whose receives and sends in
// flight at the exec are cancelled and accounted for first).
class LiveUpdateIo : public LiveUpdate, public ::testing::WithParamInterface<const char*> {
 protected:
  const char* socket_io() const override { return GetParam(); }
};

TEST_P(LiveUpdateIo, PipelinedRequestsAcrossTheUpdateAreEachAnsweredOnceInOrder) {
  // Clients sending bursts of 8 pipelined WRITEs, each burst's replies read before the next, until
  // well after the update: some bursts are in the daemon's hands (received, being answered, or
  // still in the socket) when it execs.
  constexpr int clients = 4, burst = 8, bursts_after = 30;
  struct flood_client {
    explicit flood_client(const std::string& path) : c(path) {}
    raw_client c;
    int bursts = 0, after = 0;
    std::string failure;
  };
  std::vector<std::unique_ptr<flood_client>> flood;
  for (int i = 0; i < clients; ++i) flood.push_back(std::make_unique<flood_client>(socket_));
  raw_client control(socket_);
  std::atomic<bool> updated{false};
  std::vector<std::thread> senders;
  for (int k = 0; k < clients; ++k) {
    senders.emplace_back([&, k] {
      flood_client& f = *flood[static_cast<std::size_t>(k)];
      while (f.failure.empty() && f.after < bursts_after && f.bursts < 20000) {
        const bool was_updated = updated.load(std::memory_order_acquire);  // pairs with the store below
        std::string frames;
        std::vector<std::uint32_t> reqs;
        for (int i = 0; i < burst; ++i) {
          reqs.push_back(f.c.next_req());
          frames += raw_client::encode(xs::msg_type::write, reqs.back(),
                                       z("/flood/" + std::to_string(k) + "/" + std::to_string(i)) +
                                           std::to_string(f.bursts));
        }
        f.c.send_bytes(frames);
        for (auto req : reqs)
          if (const auto r = f.c.reply(req); r.str() != "OK") f.failure = "request " + std::to_string(req) + ": " + r.str();
        if (f.c.unclaimed_replies() != 0) f.failure = "a reply came twice, or for no request";
        ++f.bursts;
        if (was_updated) ++f.after;
      }
    });
  }
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(control.call(xs::msg_type::control, lu({"-f", XENWIRE_XENSTORED_BINARY})).str(), "OK");
  EXPECT_EQ(control.call(xs::msg_type::control, lu({"-s", "-t", "5"})).str(), "OK");
  updated.store(true, std::memory_order_release);
  for (auto& t : senders) t.join();
  EXPECT_NE(cmdline().find(" -U"), std::string::npos) << cmdline();
  for (int k = 0; k < clients; ++k) {
    const flood_client& f = *flood[static_cast<std::size_t>(k)];
    EXPECT_EQ(f.failure, "") << "client " << k;
    EXPECT_EQ(f.after, bursts_after) << "client " << k;
    EXPECT_EQ(control.call(xs::msg_type::read, z("/flood/" + std::to_string(k) + "/" + std::to_string(burst - 1))).str(),
              std::to_string(f.bursts - 1));
  }
  EXPECT_EQ(control.call(xs::msg_type::control, z("check")).str(), "OK");
}

INSTANTIATE_TEST_SUITE_P(SocketIo, LiveUpdateIo, ::testing::Values("epoll", "uring"));

TEST(LiveUpdateState, HostileStateFilesAreRefusedCleanly) {
  namespace mig = xs::migration;
  std::string tmpl = (fs::temp_directory_path() / "xs-lu-state-XXXXXX").string();
  const fs::path dir = ::mkdtemp(tmpl.data());
  auto run = [&](const std::vector<std::string>& args, std::string& said) {
    std::string cmd = "XENSTORED_RUNDIR=" + dir.string() + " " + XENWIRE_XENSTORED_BINARY;
    for (const auto& a : args) cmd += " " + a;
    cmd += " 2>&1";
    said.clear();
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) said += buf;
    const int st = ::pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  const mig::node_record root{0, 0, 0, {{0, xs::perm::none}}, "/", ""};
  auto stream_of = [](std::vector<mig::record> r) {
    r.push_back(mig::end_record{});
    return *mig::write_stream(mig::stream{{mig::stream_version::v1, mig::byte_order::little}, std::move(r)});
  };
  auto conn_rec = [](std::uint32_t id, std::variant<mig::ring_spec, mig::socket_spec> spec) {
    mig::connection_record c;
    c.conn_id = id;
    c.spec = spec;
    return c;
  };
  const std::string good = stream_of({mig::global_record{-1, -1}, root});
  std::string unknown = good;  // END's type turned into 99
  unknown[unknown.size() - 8] = 99;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"garbage", "not a state"},
      {"truncated", good.substr(0, good.size() - 5)},
      {"unknown record", unknown},
      {"node without parent", stream_of({mig::global_record{-1, -1}, root,
                                         mig::node_record{0, 0, 0, {{0, xs::perm::none}}, "/a/b", "x"}})},
      {"duplicate connection", stream_of({mig::global_record{-1, -1}, conn_rec(1, mig::socket_spec{5}),
                                          conn_rec(1, mig::socket_spec{6}), root})},
      {"ring connection without a backend", stream_of({mig::global_record{-1, -1}, conn_rec(1, mig::ring_spec{5}), root})},
  };
  std::string said;
  std::ofstream(dir / "good") << good;
  EXPECT_EQ(run({"--live-update-check", (dir / "good").string()}, said), 0) << said;
  for (const auto& [name, bytes] : bad) {
    std::ofstream(dir / "state_dump", std::ios::binary | std::ios::trunc) << bytes;
    EXPECT_EQ(run({"--live-update-check", (dir / "state_dump").string()}, said), 1) << name << ": " << said;
    EXPECT_FALSE(said.empty()) << name;
    EXPECT_EQ(run({"-N", "-U", "--socket", (dir / "socket").string()}, said), 1) << name << ": " << said;
    EXPECT_NE(said.find("live update"), std::string::npos) << name << ": " << said;
    EXPECT_FALSE(fs::exists(dir / "socket")) << name;
  }
  fs::remove_all(dir);
}

}  // namespace
