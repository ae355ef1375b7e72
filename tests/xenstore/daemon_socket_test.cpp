// The daemon's socket side against the real core, over real Unix sockets: the loop runs in a
// thread on temporary sockets and the tests speak the raw wire protocol.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "xenwire/base/event_loop.hpp"
#include "xenwire/base/unique_fd.hpp"
#include "xenwire/xenstore/daemon/xenstored.hpp"

namespace xs = xenwire::xenstore;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

// Raw protocol values (xs_wire.h), spelled out so the test does not share the codec under test.
enum : std::uint32_t {
  t_directory = 1, t_read = 2, t_watch = 4, t_write = 11, t_mkdir = 12, t_rm = 13,
  t_watch_event = 15, t_error = 16, t_get_domain_path = 10,
};

struct msg {
  std::uint32_t type = 0, req_id = 0, tx_id = 0;
  std::string payload;
};

std::string frame(std::uint32_t type, std::uint32_t req_id, std::uint32_t tx_id, std::string_view payload,
                  std::uint32_t len_override = 0) {
  const std::uint32_t h[4] = {type, req_id, tx_id,
                              len_override ? len_override : static_cast<std::uint32_t>(payload.size())};
  std::string out(sizeof h, '\0');
  std::memcpy(out.data(), h, sizeof h);
  out += payload;
  return out;
}

class raw_client {
 public:
  explicit raw_client(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = ::connect(fd_.get(), static_cast<const sockaddr*>(static_cast<const void*>(&addr)), sizeof addr) == 0;
  }
  bool connected() const { return connected_; }
  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool send(std::uint32_t type, std::string_view payload, std::uint32_t req_id = 0, std::uint32_t tx_id = 0) {
    return send_all(frame(type, req_id, tx_id, payload));
  }

  // The next message, or nullopt on timeout / EOF.
  std::optional<msg> recv(std::chrono::milliseconds timeout = 5s) {
    std::string head;
    if (!recv_exact(head, 16, timeout)) return std::nullopt;
    std::uint32_t h[4];
    std::memcpy(h, head.data(), sizeof h);
    msg m{h[0], h[1], h[2], {}};
    if (!recv_exact(m.payload, h[3], timeout)) return std::nullopt;
    return m;
  }
  // The next reply, skipping (and keeping) watch events.
  std::optional<msg> reply(std::chrono::milliseconds timeout = 5s) {
    for (;;) {
      auto m = recv(timeout);
      if (!m || m->type != t_watch_event) return m;
      events.push_back(*m);
    }
  }
  std::optional<msg> call(std::uint32_t type, std::string_view payload) {
    if (!send(type, payload)) return std::nullopt;
    return reply();
  }
  // True if the daemon closes the connection within `timeout` (whatever it sent before is skipped).
  bool sees_eof(std::chrono::milliseconds timeout = 5s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
    return false;
  }

  std::vector<msg> events;

 private:
  bool recv_exact(std::string& out, std::size_t n, std::chrono::milliseconds timeout) {
    out.resize(n);
    std::size_t have = 0;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (have < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t got = ::recv(fd_.get(), out.data() + have, n - have, 0);
      if (got <= 0) return false;
      have += static_cast<std::size_t>(got);
    }
    return true;
  }

  xenwire::unique_fd fd_;
  bool connected_ = false;
};

std::string str0(std::string_view s) { return std::string(s) + '\0'; }

// Every test runs with both ways of serving sockets.
using socket_io = xs::daemon_settings::socket_io;

class DaemonTest : public ::testing::TestWithParam<socket_io> {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "xs-daemon-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    socket_ = (dir_ / "socket").string();
    guest_ = (dir_ / "guest7").string();
    if (GetParam() == socket_io::uring) {
      xs::daemon_settings probe;
      probe.socket_path = (dir_ / "probe").string();
      probe.stop_on_signals = false;
      probe.io = socket_io::uring;
      auto d = xs::xenstored::create(probe, nullptr, nullptr);
      if (!d && d.error() == xenwire::errc::not_supported) GTEST_SKIP() << "the kernel refuses io_uring here";
      ASSERT_TRUE(d) << d.error().message();
    }
  }
  void TearDown() override {
    stop();
    fs::remove_all(dir_);
  }

  xs::daemon_settings settings() {
    xs::daemon_settings s;
    s.socket_path = socket_;
    s.guest_sockets = {{7, guest_}};
    s.stop_on_signals = false;
    s.io = GetParam();
    return s;
  }
  void start(xs::daemon_settings s) {
    auto d = xs::xenstored::create(std::move(s), nullptr, [this](xs::log_level, std::string_view m) {
      std::lock_guard lock(log_mutex_);
      logs_.emplace_back(m);
    });
    ASSERT_TRUE(d) << d.error().message();
    daemon_ = std::move(*d);
    thread_ = std::thread([this] { run_result_ = daemon_->run(); });
  }
  void start() { start(settings()); }
  // Stops the loop and joins; the daemon object stays for inspection.
  void stop() {
    if (!thread_.joinable()) return;
    daemon_->stop();
    thread_.join();
  }

  fs::path dir_;
  std::string socket_, guest_;
  std::unique_ptr<xs::xenstored> daemon_;
  std::thread thread_;
  xenwire::result<void> run_result_;
  std::mutex log_mutex_;
  std::vector<std::string> logs_;
};

}  // namespace

TEST_P(DaemonTest, WriteReadDirectoryRm) {
  start();
  raw_client c(socket_);
  ASSERT_TRUE(c.connected());
  auto r = c.call(t_write, "/test/a\0hello"s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_write);
  EXPECT_EQ(r->payload, "OK"s + '\0');
  r = c.call(t_read, str0("/test/a"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_read);
  EXPECT_EQ(r->payload, "hello");
  ASSERT_TRUE(c.call(t_write, "/test/b\0"s));
  r = c.call(t_directory, str0("/test"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload, "a\0b\0"s);
  r = c.call(t_rm, str0("/test/a"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_rm);
  r = c.call(t_read, str0("/test/a"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_error);
  EXPECT_EQ(r->payload, str0("ENOENT"));
}

TEST_P(DaemonTest, ReplyEchoesRequestAndTransactionIds) {
  start();
  raw_client c(socket_);
  ASSERT_TRUE(c.send(t_write, "/ids\0v"s, 4242));
  auto r = c.reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->req_id, 4242u);
}

TEST_P(DaemonTest, WatchesFireAcrossConnections) {
  start();
  raw_client watcher(socket_), writer(socket_);
  auto r = watcher.call(t_watch, "/w\0tok\0"s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_watch);
  ASSERT_TRUE(writer.call(t_write, "/w/x\0v"s));
  // The registration event, then the write's.
  const auto wanted = std::vector<std::string>{"/w\0tok\0"s, "/w/x\0tok\0"s};
  std::vector<std::string> seen;
  for (const auto& e : watcher.events) seen.push_back(e.payload);
  while (seen.size() < wanted.size()) {
    auto e = watcher.recv();
    ASSERT_TRUE(e) << "missing watch event";
    EXPECT_EQ(e->type, t_watch_event);
    EXPECT_EQ(e->req_id, 0u);
    seen.push_back(e->payload);
  }
  EXPECT_EQ(seen, wanted);
}

TEST_P(DaemonTest, RequestsMayArriveOneByteAtATime) {
  start();
  raw_client c(socket_);
  const std::string f = frame(t_write, 1, 0, "/slow\0value"s) + frame(t_read, 2, 0, str0("/slow"));
  for (char ch : f) {
    ASSERT_TRUE(c.send_all(std::string_view(&ch, 1)));
    std::this_thread::sleep_for(200us);
  }
  auto w = c.reply();
  auto r = c.reply();
  ASSERT_TRUE(w && r);
  EXPECT_EQ(w->req_id, 1u);
  EXPECT_EQ(r->req_id, 2u);
  EXPECT_EQ(r->payload, "value");
}

TEST_P(DaemonTest, PipelinedRequestsInOneWriteAreAllAnswered) {
  start();
  raw_client c(socket_);
  ASSERT_TRUE(c.call(t_write, "/p\0data"s));
  std::string burst;
  for (std::uint32_t i = 0; i < 100; ++i) burst += frame(t_read, i, 0, str0("/p"));
  ASSERT_TRUE(c.send_all(burst));
  for (std::uint32_t i = 0; i < 100; ++i) {
    auto r = c.reply();
    ASSERT_TRUE(r) << "reply " << i;
    EXPECT_EQ(r->req_id, i);
    EXPECT_EQ(r->payload, "data");
  }
}

// Without a ring transport the daemon completes INTRODUCE with a failure: the requester gets EINVAL,
// and the requests it pipelined behind it are answered after that reply, in order.
TEST_P(DaemonTest, AnIntroduceWithoutRingsIsRefusedAndLaterRequestsFollowItsReply) {
  constexpr std::uint32_t t_introduce = 8;
  start();
  raw_client c(socket_);
  std::string burst = frame(t_introduce, 1, 0, str0("5") + str0("1") + str0("3")) +
                      frame(t_write, 2, 0, "/after\0x"s) + frame(t_read, 3, 0, str0("/after"));
  ASSERT_TRUE(c.send_all(burst));
  auto r1 = c.reply();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->req_id, 1u);
  EXPECT_EQ(r1->type, t_error);
  EXPECT_EQ(r1->payload, str0("EINVAL"));
  auto r2 = c.reply();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->req_id, 2u);
  EXPECT_EQ(r2->type, t_write);
  auto r3 = c.reply();
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->req_id, 3u);
  EXPECT_EQ(r3->payload, "x");
  stop();
  std::lock_guard lock(log_mutex_);
  EXPECT_NE(std::find_if(logs_.begin(), logs_.end(),
                         [](const std::string& l) { return l.find("refused: no ring transport") != std::string::npos; }),
            logs_.end());
}

TEST_P(DaemonTest, ASlowReaderGetsEveryReplyIntact) {
  // Replies far beyond the socket buffer: the daemon's writes go partial and wait for EPOLLOUT.
  start();
  raw_client c(socket_);
  const std::string big(2000, 'x');
  ASSERT_TRUE(c.call(t_write, "/big\0"s + big));
  constexpr std::uint32_t count = 400;
  std::thread sender([&] {
    for (std::uint32_t i = 0; i < count; ++i)
      if (!c.send_all(frame(t_read, i, 0, str0("/big")))) return;
  });
  std::this_thread::sleep_for(200ms);  // let the daemon fill the socket
  for (std::uint32_t i = 0; i < count; ++i) {
    auto r = c.reply(10s);
    ASSERT_TRUE(r) << "reply " << i;
    ASSERT_EQ(r->req_id, i);
    ASSERT_EQ(r->payload, big);
  }
  sender.join();
}

TEST_P(DaemonTest, AnOversizedLengthDropsOnlyThatClient) {
  start();
  raw_client bad(socket_), good(socket_);
  ASSERT_TRUE(bad.send_all(frame(t_write, 0, 0, "", 5000)));
  EXPECT_TRUE(bad.sees_eof());
  auto r = good.call(t_write, "/still\0fine"s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_write);
}

TEST_P(DaemonTest, AClientVanishingMidMessageLeavesOthersServed) {
  start();
  {
    raw_client gone(socket_);
    ASSERT_TRUE(gone.send_all(frame(t_write, 0, 0, "/half\0value"s).substr(0, 20)));
  }
  raw_client c(socket_);
  auto r = c.call(t_read, str0("/half"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_error);  // the half request never happened
}

TEST_P(DaemonTest, ManyClientsAtOnce) {
  start();
  constexpr int n = 64;
  std::vector<std::unique_ptr<raw_client>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<raw_client>(socket_));
    ASSERT_TRUE(clients.back()->connected());
  }
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(clients[i]->send(t_write, "/many/c" + std::to_string(i) + '\0' + std::to_string(i)));
  for (int i = 0; i < n; ++i) {
    auto r = clients[i]->reply();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->type, t_write);
  }
  for (int i = 0; i < n; ++i) {
    auto r = clients[(i + 1) % n]->call(t_read, str0("/many/c" + std::to_string(i)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->payload, std::to_string(i));
  }
  auto dir = clients[0]->call(t_directory, str0("/many"));
  ASSERT_TRUE(dir);
  EXPECT_EQ(std::count(dir->payload.begin(), dir->payload.end(), '\0'), n);
}

TEST_P(DaemonTest, GuestSocketClientsAreAnUnprivilegedDomain) {
  start();
  raw_client dom0(socket_);
  ASSERT_TRUE(dom0.call(t_write, "/dom0only\0secret"s));
  raw_client guest(guest_);
  ASSERT_TRUE(guest.connected());
  auto r = guest.call(t_get_domain_path, str0("7"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload, str0("/local/domain/7"));
  r = guest.call(t_write, "data\0mine"s);  // relative: under the home path
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_write) << r->payload;
  r = dom0.call(t_read, str0("/local/domain/7/data"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload, "mine");
  r = guest.call(t_write, "/dom0only\0stolen"s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_error);
  EXPECT_EQ(r->payload, str0("EACCES"));
  r = guest.call(t_read, str0("/dom0only"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_error);
  EXPECT_EQ(r->payload, str0("EACCES"));
}

TEST_P(DaemonTest, ReadOnlySocketRefusesWrites) {
  auto s = settings();
  s.read_only = true;
  start(std::move(s));
  raw_client c(socket_);
  auto r = c.call(t_write, "/ro\0x"s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_error);
  r = c.call(t_mkdir, str0("/ro"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, t_error);
}

TEST_P(DaemonTest, TraceDescribesEveryMessage) {
  std::mutex m;
  std::vector<std::string> lines;
  auto s = settings();
  s.trace = [&](std::string_view line) {
    std::lock_guard lock(m);
    lines.emplace_back(line);
  };
  start(std::move(s));
  raw_client c(socket_);
  ASSERT_TRUE(c.call(t_write, "/traced\0v"s));
  stop();
  std::lock_guard lock(m);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("< WRITE req 0 tx 0 len 9 \"/traced\\0v\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("> WRITE"), std::string::npos) << lines[1];
}

TEST_P(DaemonTest, StopClosesClientsAndRemovesTheSockets) {
  start();
  raw_client c(socket_);
  ASSERT_TRUE(c.call(t_write, "/x\0y"s));
  stop();
  ASSERT_TRUE(run_result_);
  daemon_.reset();
  EXPECT_TRUE(c.sees_eof(1s));
  EXPECT_FALSE(fs::exists(socket_));
  EXPECT_FALSE(fs::exists(guest_));
}

TEST_P(DaemonTest, AnOccupiedSocketIsRefused) {
  start();
  std::vector<std::string> logs;
  auto second = xs::xenstored::create(settings(), nullptr, [&](xs::log_level, std::string_view m) { logs.emplace_back(m); });
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs.back().find("another xenstored"), std::string::npos);
  raw_client c(socket_);  // the first one still serves
  EXPECT_TRUE(c.call(t_write, "/y\0z"s));
}

TEST_P(DaemonTest, SigtermStopsRun) {
  static constexpr int sigs[] = {SIGTERM, SIGINT};
  ASSERT_TRUE(xenwire::block_signals(sigs));  // before the loop thread exists, so it inherits the mask
  auto s = settings();
  s.stop_on_signals = true;
  start(std::move(s));
  raw_client c(socket_);
  ASSERT_TRUE(c.call(t_write, "/sig\0v"s));
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  thread_.join();
  ASSERT_TRUE(run_result_);
  EXPECT_EQ(daemon_->stop_signal(), SIGTERM);
}

// A guest pipelining far more requests than its outstanding-request quota (20) is held back, not
// refused: the daemon resumes reading it as replies drain (server_core::take_ready), and every
// request is answered in order. Writes also pass through the write rate limit (burst 10, 200/s).
TEST_P(DaemonTest, AGuestOverItsOutstandingQuotaIsHeldBackThenServed) {
  start();
  raw_client guest(guest_);
  ASSERT_TRUE(guest.connected());
  ASSERT_TRUE(guest.call(t_write, "q\0v"s));
  std::string burst;
  for (std::uint32_t i = 0; i < 100; ++i) burst += frame(t_read, i, 0, str0("q"));
  for (std::uint32_t i = 100; i < 130; ++i) burst += frame(t_write, i, 0, "w" + std::to_string(i) + '\0' + "x");
  ASSERT_TRUE(guest.send_all(burst));
  for (std::uint32_t i = 0; i < 130; ++i) {
    auto r = guest.reply(10s);
    ASSERT_TRUE(r) << "reply " << i;
    EXPECT_EQ(r->req_id, i);
    EXPECT_NE(r->type, t_error) << r->payload;
  }
}

INSTANTIATE_TEST_SUITE_P(SocketIo, DaemonTest, ::testing::Values(socket_io::epoll, socket_io::uring),
                         [](const ::testing::TestParamInfo<socket_io>& i) {
                           return i.param == socket_io::uring ? "uring" : "epoll";
                         });
