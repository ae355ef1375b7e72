// The read turn (client_core.hpp): a waiting caller reads the stream itself and hands on what is
// not its own. Against a scripted server on a Unix socket, so the test decides what arrives in
// which read: several replies in one write, an event in front of a reply, a close mid-call.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>

#include "xenwire/xenstore/client/client.hpp"

namespace xs = xenwire::xenstore;
using namespace std::chrono_literals;
using xenwire::errc;

namespace {

struct request {
  xs::header hdr{};
  std::string payload;
  std::string first_arg() const { return payload.substr(0, payload.find('\0')); }
};

std::string frame(xs::msg_type type, std::uint32_t req_id, std::string_view payload) {
  std::string out;
  EXPECT_TRUE(xs::encode(out, xs::header{static_cast<std::uint32_t>(type), req_id, 0, 0}, payload));
  return out;
}

std::string event_frame(std::string_view path, std::string_view token) {
  return frame(xs::msg_type::watch_event, 0, std::string(path) + '\0' + std::string(token) + '\0');
}

// One client connection to a server the test plays by hand.
class ClientReadTurn : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "xw-turn-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
    const std::string path = (dir / "socket").string();
    listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(listener, static_cast<const sockaddr*>(static_cast<const void*>(&addr)), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 1), 0);
    open(5s);
  }
  // A client on a fresh stream.
  void open(std::chrono::milliseconds timeout) {
    client.close();
    if (server >= 0) ::close(server);
    auto conn = xs::connect_unix_socket((dir / "socket").string());
    ASSERT_TRUE(conn);
    client = xs::client::open(std::move(*conn), {.timeout = timeout, .watch_queue_limit = 16}).value();
    server = ::accept(listener, nullptr, nullptr);
    ASSERT_GE(server, 0);
  }
  void TearDown() override {
    client.close();
    if (server >= 0) ::close(server);
    ::close(listener);
    std::filesystem::remove_all(dir);
  }

  request next_request() {
    request r;
    if (!read_exact(&r.hdr, sizeof r.hdr)) return {};
    r.payload.resize(r.hdr.len);
    if (!read_exact(r.payload.data(), r.payload.size())) return {};
    return r;
  }
  // Everything in one write: the client reads it in one read_some.
  void send(const std::string& bytes) const {
    ASSERT_EQ(::write(server, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  // A watch on `path` with token `token`, registered (reply and the initial event) and drained.
  xs::watch watch(const std::string& path, const std::string& token) {
    auto f = std::async(std::launch::async,
                        [&] { return client.add_watch(path, {.depth = {}, .queue_limit = 0, .token = token}); });
    const request r = next_request();
    EXPECT_EQ(r.hdr.type, static_cast<std::uint32_t>(xs::msg_type::watch));
    send(frame(xs::msg_type::watch, r.hdr.req_id, std::string("OK\0", 3)) + event_frame(path, token));
    auto w = f.get().value();
    EXPECT_EQ(w.next(2s).value().path, path);
    return w;
  }

  std::filesystem::path dir;
  int listener = -1;
  int server = -1;
  xs::client client;

 private:
  bool read_exact(void* p, std::size_t n) const {
    auto* c = static_cast<char*>(p);
    while (n > 0) {
      const ssize_t got = ::read(server, c, n);
      if (got <= 0) return false;
      c += got;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }
};

// Two callers wait; both replies come in one read, in the opposite order. Whichever caller reads
// hands the other its reply, at once (not when the other's 5 s timeout would wake it).
TEST_F(ClientReadTurn, OneCallerReadsAnothersReply) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int round = 0; round < 20; ++round) {
    auto a = std::async(std::launch::async, [&] { return client.read("/a"); });
    auto b = std::async(std::launch::async, [&] { return client.read("/b"); });
    const request r1 = next_request(), r2 = next_request();
    const request& ra = r1.first_arg() == "/a" ? r1 : r2;
    const request& rb = r1.first_arg() == "/a" ? r2 : r1;
    ASSERT_EQ(ra.first_arg(), "/a");
    ASSERT_EQ(rb.first_arg(), "/b");
    send(frame(xs::msg_type::read, rb.hdr.req_id, "B") + frame(xs::msg_type::read, ra.hdr.req_id, "A"));
    EXPECT_EQ(a.get().value(), "A");
    EXPECT_EQ(b.get().value(), "B");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

// A blocking caller waiting with no watch: it reads itself, so the callback of an asynchronous
// reply that comes first in the stream runs on the caller's thread, not a background reader's.
// The first call after 20 ms of quiet may find the background thread reading the idle stream (it
// then hands over as before), so a few attempts back to back; with a reader thread, none succeeds.
TEST_F(ClientReadTurn, AWaitingCallerIsTheReader) {
  int on_caller = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::promise<std::thread::id> caller;
    auto blocking = std::async(std::launch::async, [&] {
      caller.set_value(std::this_thread::get_id());
      return client.read("/mine");
    });
    const request mine = next_request();
    ASSERT_EQ(mine.first_arg(), "/mine");
    std::promise<std::pair<std::thread::id, std::string>> ran;
    client.call_async(xs::ops::read{"/other"}, xs::no_transaction, [&](xs::client_result<std::string> r) {
      ran.set_value({std::this_thread::get_id(), r.value_or("?")});
    });
    const request other = next_request();
    ASSERT_EQ(other.first_arg(), "/other");
    send(frame(xs::msg_type::read, other.hdr.req_id, "O") + frame(xs::msg_type::read, mine.hdr.req_id, "M"));
    EXPECT_EQ(blocking.get().value(), "M");
    auto [tid, value] = ran.get_future().get();
    EXPECT_EQ(value, "O");
    if (tid == caller.get_future().get()) ++on_caller;
  }
  EXPECT_GT(on_caller, 0);
}

// An event arrives while a caller waits for its reply; the reply comes later on its own.
TEST_F(ClientReadTurn, EventWhileACallerReads) {
  auto w = watch("/w", "tok");
  auto f = std::async(std::launch::async, [&] { return client.read("/r"); });
  const request r = next_request();
  send(event_frame("/w/1", "tok"));
  EXPECT_EQ(w.next(2s).value().path, "/w/1");  // delivered before any reply came
  send(frame(xs::msg_type::read, r.hdr.req_id, "v"));
  EXPECT_EQ(f.get().value(), "v");
  EXPECT_FALSE(w.try_next().has_value());
}

// An event and a caller's reply in one read: the event is queued before the caller returns.
TEST_F(ClientReadTurn, ReplyAndEventInOneRead) {
  auto w = watch("/w", "tok");
  for (int round = 0; round < 20; ++round) {
    auto f = std::async(std::launch::async, [&] { return client.read("/r"); });
    const request r = next_request();
    const std::string path = "/w/" + std::to_string(round);
    send(event_frame(path, "tok") + frame(xs::msg_type::read, r.hdr.req_id, "v") + event_frame(path + "/after", "tok"));
    EXPECT_EQ(f.get().value(), "v");
    auto first = w.try_next();  // no waiting: it was in front of the reply
    ASSERT_TRUE(first);
    EXPECT_EQ(first->path, path);
    EXPECT_EQ(w.next(2s).value().path, path + "/after");
  }
}

// The server closes while callers wait (one of them reading): every caller, the asynchronous
// request and the watch get peer_closed; nobody waits out the 5 s timeout.
TEST_F(ClientReadTurn, CloseWhileACallerReadsFailsEveryone) {
  auto w = watch("/w", "tok");
  constexpr int callers = 4;
  std::vector<std::future<xs::client_result<std::string>>> waiting;
  for (int i = 0; i < callers; ++i)
    waiting.push_back(std::async(std::launch::async, [&, i] { return client.read("/c" + std::to_string(i)); }));
  auto async_read = client.call_async(xs::ops::read{"/async"});
  for (int i = 0; i < callers + 1; ++i) next_request();
  const auto t0 = std::chrono::steady_clock::now();
  ::close(server);
  server = -1;
  for (auto& f : waiting) {
    auto r = f.get();
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::peer_closed)) << r.error().message();
  }
  EXPECT_TRUE(async_read.get().error().is(errc::peer_closed));
  EXPECT_TRUE(w.next(2s).error().is(errc::peer_closed));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(client.read("/later").error().is(errc::peer_closed));
}

// A client that made a call and went idle still notices the server's end (the background thread
// reads an idle stream).
TEST_F(ClientReadTurn, IdleClientNoticesTheServersEnd) {
  auto f = std::async(std::launch::async, [&] { return client.read("/r"); });
  const request r = next_request();
  send(frame(xs::msg_type::read, r.hdr.req_id, "v"));
  ASSERT_EQ(f.get().value(), "v");
  std::this_thread::sleep_for(100ms);
  ::close(server);
  server = -1;
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!client.failure() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(client.failure());
  EXPECT_TRUE(client.failure()->is(errc::peer_closed)) << client.failure()->message();
}

// The same with nothing but blocking callers (no background reader involved), closed locally.
TEST_F(ClientReadTurn, LocalCloseWhileACallerReads) {
  constexpr int callers = 3;
  std::vector<std::future<xs::client_result<std::string>>> waiting;
  for (int i = 0; i < callers; ++i)
    waiting.push_back(std::async(std::launch::async, [&, i] { return client.read("/c" + std::to_string(i)); }));
  for (int i = 0; i < callers; ++i) next_request();
  const auto t0 = std::chrono::steady_clock::now();
  client.close();
  for (auto& f : waiting) {
    auto r = f.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().transport(), std::make_error_code(std::errc::operation_canceled)) << r.error().message();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

// The reader times out with half of another caller's reply read; the caller still waiting takes
// over reading, completes that frame and gets its reply; the late reply of the one that gave up is
// dropped.
TEST_F(ClientReadTurn, TimedOutReaderHandsTheTurnOn) {
  open(2s);
  auto a = std::async(std::launch::async, [&] { return client.read("/a"); });
  const request ra = next_request();
  std::this_thread::sleep_for(1s);
  auto b = std::async(std::launch::async, [&] { return client.read("/b"); });
  const request rb = next_request();
  const std::string reply = frame(xs::msg_type::read, rb.hdr.req_id, "B");
  send(reply.substr(0, 10));  // read by A, which is reading
  EXPECT_TRUE(a.get().error().is(errc::timed_out));
  send(reply.substr(10));
  EXPECT_EQ(b.get().value(), "B");
  send(frame(xs::msg_type::read, ra.hdr.req_id, "late"));
  auto c = std::async(std::launch::async, [&] { return client.read("/c"); });
  const request rc = next_request();
  send(frame(xs::msg_type::read, rc.hdr.req_id, "C"));
  EXPECT_EQ(c.get().value(), "C");
}

}  // namespace
