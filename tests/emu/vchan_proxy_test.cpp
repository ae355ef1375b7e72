// xenwire-vchan-proxy on the cross-process host with the libxen emulation (labels `emu interop`):
//
//  * against Debian's vchan-socket-proxy (xen-utils-4.17, unmodified), each side once server and
//    once client, Unix sockets at both ends: this test plays the local programs, an XOR-echo server
//    behind the server-side proxy and a client that sends a pattern and checks the echo (so both
//    directions are byte-exact); subsequent connections where both programs support them;
//  * against Debian's libxenvchan (tests/emu/vchan_peer.c) in both roles: this test speaks
//    vchan_peer's protocol (pattern, reply pattern, ack byte) on the proxy's socket;
//  * both proxies xenwire's on --backend sim, subsequent connections back to back;
//  * a peer domain that does not exist: a clear error and exit status 1 in both modes.
// Debian's binary comes from scripts/xen-debs.sh (build/interop); without it those cases skip.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "emu_host_support.hpp"
#include "xenwire/base/unique_fd.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/client/connection.hpp"

namespace {

using namespace xenwire::emu_test;

constexpr std::uint8_t echo_xor = 0x5A;
constexpr std::size_t mib = 1 << 20;

std::uint8_t pattern(std::uint64_t i, unsigned direction) {  // vchan_peer.c's
  std::uint64_t x = i * 0x9E3779B97F4A7C15ull + direction * 0x632BE59BD9B4E019ull;
  x ^= x >> 29;
  return static_cast<std::uint8_t>(x ^ (i >> 8));
}

sockaddr_un address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
  return a;
}

xenwire::unique_fd listen_at(const std::string& path) {
  xenwire::unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const auto a = address(path);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd.get(), 8) != 0) return {};
  return fd;
}

// Sends give up after 20 s (a stuck proxy fails the test instead of hanging it).
void bound_sends(int fd) {
  timeval tv{.tv_sec = 20, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Connects once the socket exists (a proxy creates it after starting).
xenwire::unique_fd connect_to(const std::string& path, std::chrono::milliseconds limit = 20s) {
  const auto deadline = clock_type::now() + limit;
  const auto a = address(path);
  while (clock_type::now() < deadline) {
    xenwire::unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0) {
      bound_sends(fd.get());
      return fd;
    }
    std::this_thread::sleep_for(5ms);
  }
  return {};
}

// Waits (up to `limit`) until `fd` is readable; false on timeout.
bool readable(int fd, std::chrono::milliseconds limit) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, static_cast<int>(limit.count())) > 0;
}

bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Sends `bytes` of pattern(·, out_dir) (xor `out_xor`) while the caller's thread reads.
std::string send_pattern(int fd, std::uint64_t bytes, unsigned dir) {
  std::vector<std::uint8_t> buf(64 * 1024);
  for (std::uint64_t done = 0; done < bytes;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), bytes - done));
    for (std::size_t i = 0; i < n; ++i) buf[i] = pattern(done + i, dir);
    if (!write_all(fd, buf.data(), n)) return "send failed after " + std::to_string(done) + " bytes";
    done += n;
  }
  return {};
}

// Reads exactly `bytes` and checks them against pattern(·, dir) ^ x. Empty string: all matched.
std::string expect_pattern(int fd, std::uint64_t bytes, unsigned dir, std::uint8_t x) {
  std::vector<std::uint8_t> buf(64 * 1024);
  for (std::uint64_t done = 0; done < bytes;) {
    if (!readable(fd, 20s)) return "nothing for 20 s after " + std::to_string(done) + " bytes";
    const ssize_t n = ::read(fd, buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), bytes - done)));
    if (n <= 0) return "stream ended after " + std::to_string(done) + " of " + std::to_string(bytes) + " bytes";
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[static_cast<std::size_t>(i)] != (pattern(done + static_cast<std::uint64_t>(i), dir) ^ x)) {
        return "byte " + std::to_string(done + static_cast<std::uint64_t>(i)) + " differs";
      }
    }
    done += static_cast<std::uint64_t>(n);
  }
  return {};
}

// As a local client of a proxy: sends `bytes` and checks the XOR-echo coming back.
std::string echo_exchange(int fd, std::uint64_t bytes) {
  std::string send_error;
  std::thread sender([&] { send_error = send_pattern(fd, bytes, 1); });
  auto got = expect_pattern(fd, bytes, 1, echo_xor);
  sender.join();
  return !send_error.empty() ? send_error : got;
}

// Behind the server-side proxy: accepts connections one after another and echoes each byte XOR
// echo_xor until the connection ends.
class xor_echo_server {
 public:
  explicit xor_echo_server(const std::string& path) : listener_(listen_at(path)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~xor_echo_server() {
    stop_ = true;
    thread_.join();
  }
  bool ok() const { return static_cast<bool>(listener_); }
  int accepted() const { return accepted_.load(); }

 private:
  void serve() {
    while (!stop_) {
      if (!readable(listener_.get(), 20ms)) continue;
      xenwire::unique_fd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) continue;
      bound_sends(c.get());
      ++accepted_;
      std::array<std::uint8_t, 65536> buf{};
      while (!stop_) {
        if (!readable(c.get(), 20ms)) continue;
        const ssize_t n = ::read(c.get(), buf.data(), buf.size());
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) buf[static_cast<std::size_t>(i)] ^= echo_xor;
        if (!write_all(c.get(), buf.data(), static_cast<std::size_t>(n))) break;
      }
    }
  }
  xenwire::unique_fd listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Debian's vchan-socket-proxy, extracted by scripts/xen-debs.sh; empty if it cannot be had.
const std::string& debian_proxy() {
  static const std::string path = [] {
    const std::string cmd = "bash -c 'source " XENWIRE_SOURCE_DIR
                            "/scripts/xen-debs.sh && extract_deb xen-utils-4.17 >&2 && "
                            "echo \"$xen_debs_work/root/usr/lib/xen-4.17/bin/vchan-socket-proxy\"'";
    std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
    std::array<char, 4096> line{};
    if (!p || std::fgets(line.data(), line.size(), p.get()) == nullptr) return std::string{};
    std::string s(line.data());
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return ::access(s.c_str(), X_OK) == 0 ? s : std::string{};
  }();
  return path;
}

class VchanProxy : public EmuHost {
 protected:
  std::string sock(const char* name) const { return (dir_ / name).string(); }
  std::string err(const char* name) const { return (dir_ / (std::string(name) + ".err")).string(); }

  // The launcher of a proxy that never ends on its own: SIGTERM (forwarded to the proxy).
  static void terminate(pid_t launcher) {
    ::kill(launcher, SIGTERM);
    wait_for(launcher, 10s);
  }

  // The ring-ref a server published at `path` (read as dom0), or empty.
  std::string ring_ref(const std::string& path) {
    if (!dom0_) {
      auto conn = xenwire::xenstore::connect_unix_socket(paths_.xenstored_socket.string());
      if (!conn) return {};
      auto c = xenwire::xenstore::client::open(std::move(*conn), {.timeout = 10s});
      if (!c) return {};
      dom0_ = std::make_unique<xenwire::xenstore::client>(std::move(*c));
    }
    auto v = dom0_->try_read(path + "/ring-ref");
    return v && *v ? **v : std::string{};
  }
  // Waits until the keys at `path` exist and differ from `old`.
  std::string wait_new_keys(const std::string& path, const std::string& old) {
    const auto deadline = clock_type::now() + 20s;
    for (;;) {
      auto now = ring_ref(path);
      if (!now.empty() && now != old) return now;
      if (clock_type::now() > deadline) return {};
      std::this_thread::sleep_for(2ms);
    }
  }

  void print_rate(const char* what, std::uint64_t bytes_each_way, clock_type::time_point t0) {
    const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    std::printf("[ proxy    ] %s: %.1f MiB each way in %.2f s: %.1f MiB/s (both directions)\n", what,
                static_cast<double>(bytes_each_way) / mib, secs, 2.0 * static_cast<double>(bytes_each_way) / mib / secs);
  }

  std::unique_ptr<xenwire::xenstore::client> dom0_;
};

const std::string vchan_path = "/local/domain/1/data/vchan/2/proxy";

// xenwire-vchan-proxy serves (dom1, persistent: an absolute socket path) and Debian's
// vchan-socket-proxy is the client (dom2, listening): three subsequent local connections, each a
// new vchan. libxenvchan's client takes whatever keys it finds, so each connection waits until the
// server has re-published after the previous one (else it may bind the departed channel).
TEST_F(VchanProxy, XenwireServerDebianClient) {
  if (debian_proxy().empty()) GTEST_SKIP() << "Debian's vchan-socket-proxy could not be downloaded";
  xor_echo_server echo(sock("far.sock"));
  ASSERT_TRUE(echo.ok());
  const pid_t server = start_in_domain(1, XENWIRE_VCHAN_PROXY_BIN,
                                       {"--backend", "xen", "-m", "server", "2", vchan_path, sock("far.sock")},
                                       err("server"));
  const pid_t client = start_in_domain(2, debian_proxy(), {"1", vchan_path, sock("near.sock")}, err("client"));
  ASSERT_GT(server, 0);
  ASSERT_GT(client, 0);
  const std::uint64_t bytes = 2 * mib;
  const auto t0 = clock_type::now();
  std::string keys = wait_new_keys(vchan_path, "");
  ASSERT_FALSE(keys.empty()) << read_text(err("server"));
  for (int i = 0; i < 3; ++i) {
    auto fd = connect_to(sock("near.sock"));
    ASSERT_TRUE(fd) << "connection " << i;
    EXPECT_EQ(echo_exchange(fd.get(), i == 0 ? bytes : 64 * 1024), "") << "connection " << i;
    fd.reset();
    keys = wait_new_keys(vchan_path, keys);
    ASSERT_FALSE(keys.empty()) << "the server did not re-arm after connection " << i << ":\n" << read_text(err("server"));
  }
  print_rate("xenwire server, Debian vchan-socket-proxy client", bytes, t0);
  EXPECT_EQ(echo.accepted(), 3);
  terminate(client);
  terminate(server);
}

// Debian's vchan-socket-proxy serves (dom1) and xenwire-vchan-proxy is the client (dom2). One
// connection: libxenvchan's server cannot take a second client (vchan-socket-proxy then waits
// forever, so it is terminated). vchan-socket-proxy's server consumes the connect event before its
// data loop and then sleeps on bytes the client wrote at once, until another event comes: the proxy
// signals it again after 100 ms of silence with bytes unread (without that, this stalled at 0 bytes).
TEST_F(VchanProxy, DebianServerXenwireClient) {
  if (debian_proxy().empty()) GTEST_SKIP() << "Debian's vchan-socket-proxy could not be downloaded";
  xor_echo_server echo(sock("far.sock"));
  ASSERT_TRUE(echo.ok());
  const pid_t server =
      start_in_domain(1, debian_proxy(), {"-m", "server", "2", vchan_path, sock("far.sock")}, err("server"));
  const pid_t client = start_in_domain(2, XENWIRE_VCHAN_PROXY_BIN,
                                       {"--backend", "xen", "-v", "1", vchan_path, sock("near.sock")}, err("client"));
  ASSERT_GT(server, 0);
  ASSERT_GT(client, 0);
  const std::uint64_t bytes = 2 * mib;
  const auto t0 = clock_type::now();
  {
    auto fd = connect_to(sock("near.sock"));
    ASSERT_TRUE(fd);
    EXPECT_EQ(echo_exchange(fd.get(), bytes), "") << read_text(err("client"));
  }
  print_rate("Debian vchan-socket-proxy server, xenwire client", bytes, t0);
  terminate(client);
  terminate(server);
  EXPECT_EQ(echo.accepted(), 1);
}

// libxenvchan's server (vchan_peer.c, dom1) and xenwire-vchan-proxy as the client (dom2) with this
// test speaking vchan_peer's client protocol on the proxy's socket; a second local connection gets a
// new vchan to a second vchan_peer (each serves one channel).
TEST_F(VchanProxy, LibxenvchanServerXenwireClient) {
  const pid_t client = start_in_domain(2, XENWIRE_VCHAN_PROXY_BIN,
                                       {"--backend", "xen", "-v", "1", vchan_path, sock("near.sock")}, err("client"));
  ASSERT_GT(client, 0);
  const auto t0 = clock_type::now();
  for (int i = 0; i < 2; ++i) {
    const std::uint64_t bytes = i == 0 ? 2 * mib : 256 * 1024;
    const pid_t server = start_in_domain(1, XENWIRE_VCHAN_PEER_BIN,
                                         {"server", "2", vchan_path, std::to_string(bytes), "65536", "poll"}, err("peer"));
    ASSERT_GT(server, 0);
    auto fd = connect_to(sock("near.sock"));
    ASSERT_TRUE(fd);
    EXPECT_EQ(send_pattern(fd.get(), bytes, 1), "");
    EXPECT_EQ(expect_pattern(fd.get(), bytes, 2, 0), "") << read_text(err("client"));
    const std::uint8_t ack = pattern(0, 3);
    EXPECT_TRUE(write_all(fd.get(), &ack, 1));
    EXPECT_EQ(wait_for(server, 30s), 0) << "libxenvchan's server: " << read_text(err("peer"));
    if (i == 0) print_rate("libxenvchan server (64 KiB rings), xenwire-vchan-proxy client", bytes, t0);
  }
  terminate(client);
}

// xenwire-vchan-proxy serves (dom1) for libxenvchan's client (vchan_peer.c, dom2), twice in a row
// (the persistent server re-arms); this test plays vchan_peer's server protocol behind the proxy.
// The client sends its ack and closes at once: the proxy still delivers it.
TEST_F(VchanProxy, XenwireServerLibxenvchanClient) {
  auto far = listen_at(sock("far.sock"));
  ASSERT_TRUE(far);
  const pid_t server = start_in_domain(1, XENWIRE_VCHAN_PROXY_BIN,
                                       {"--backend", "xen", "-m", "server", "-v", "2", vchan_path, sock("far.sock")},
                                       err("server"));
  ASSERT_GT(server, 0);
  const auto t0 = clock_type::now();
  std::string keys;
  for (int i = 0; i < 2; ++i) {
    const std::uint64_t bytes = i == 0 ? 2 * mib : 256 * 1024;
    keys = wait_new_keys(vchan_path, keys);  // libxenvchan's client would take a departed channel's keys
    ASSERT_FALSE(keys.empty()) << read_text(err("server"));
    const pid_t client = start_in_domain(2, XENWIRE_VCHAN_PEER_BIN,
                                         {"client", "1", vchan_path, std::to_string(bytes), "1024", "poll"}, err("peer"));
    ASSERT_GT(client, 0);
    ASSERT_TRUE(readable(far.get(), 20s)) << read_text(err("server"));
    xenwire::unique_fd fd(::accept4(far.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(fd);
    bound_sends(fd.get());
    EXPECT_EQ(expect_pattern(fd.get(), bytes, 1, 0), "") << read_text(err("server"));
    EXPECT_EQ(send_pattern(fd.get(), bytes, 2), "");
    EXPECT_EQ(expect_pattern(fd.get(), 1, 3, 0), "") << "the ack byte; " << read_text(err("server"));
    EXPECT_EQ(wait_for(client, 30s), 0) << "libxenvchan's client: " << read_text(err("peer"));
    // The vchan closed: the proxy closes this connection.
    EXPECT_TRUE(readable(fd.get(), 10s));
    char c = 0;
    EXPECT_EQ(::read(fd.get(), &c, 1), 0);
    if (i == 0) print_rate("xenwire-vchan-proxy server, libxenvchan client", bytes, t0);
  }
  terminate(server);
}

// Both ends xenwire-vchan-proxy on the simulator's own transport (--backend sim): three local
// connections back to back, without waiting for re-published keys (the client skips stale ones).
TEST_F(VchanProxy, SimBackendSubsequentConnections) {
  xor_echo_server echo(sock("far.sock"));
  ASSERT_TRUE(echo.ok());
  const pid_t server = start_in_domain(1, XENWIRE_VCHAN_PROXY_BIN,
                                       {"--backend=sim", "--mode=server", "2", vchan_path, sock("far.sock")},
                                       err("server"));
  const pid_t client = start_in_domain(2, XENWIRE_VCHAN_PROXY_BIN,
                                       {"--backend=sim", "--mode=client", "1", vchan_path, sock("near.sock")},
                                       err("client"));
  ASSERT_GT(server, 0);
  ASSERT_GT(client, 0);
  const std::uint64_t bytes = 2 * mib;
  const auto t0 = clock_type::now();
  for (int i = 0; i < 3; ++i) {
    auto fd = connect_to(sock("near.sock"));
    ASSERT_TRUE(fd);
    EXPECT_EQ(echo_exchange(fd.get(), i == 0 ? bytes : 64 * 1024), "")
        << "connection " << i << "\nclient: " << read_text(err("client")) << "\nserver: " << read_text(err("server"));
  }
  print_rate("xenwire-vchan-proxy both ends, --backend sim", bytes, t0);
  terminate(client);
  terminate(server);
  EXPECT_EQ(echo.accepted(), 3);
}

// stdin/stdout in client mode, and a peer domain that does not exist: exit 1 with a clear message,
// at once (no waiting for keys that can never come), in both modes.
TEST_F(VchanProxy, UnknownDomainFailsCleanly) {
  for (const char* role : {"client", "server"}) {
    const auto t0 = clock_type::now();
    const pid_t p = start_in_domain(2, XENWIRE_VCHAN_PROXY_BIN,
                                    {"--backend", "xen", "-v", "-m", role, "7", "/local/domain/7/data/vchan/2/x", "-"},
                                    err("proxy"));
    ASSERT_GT(p, 0);
    EXPECT_EQ(wait_for(p, 10s), 1) << role;
    EXPECT_LT(clock_type::now() - t0, 5s) << role;
    const auto text = read_text(err("proxy"));
    EXPECT_NE(text.find("domain 7"), std::string::npos) << role << ": " << text;
  }
}

// The peer domain dies while the proxy waits for it (client: for the server's keys; server: for
// its client): exit 1 with a message, within about a second (the domain is checked at least once a
// second, and on @releaseDomain).
TEST_F(VchanProxy, PeerDomainDyingMidSetupFailsCleanly) {
  for (const bool client : {true, false}) {
    SCOPED_TRACE(client ? "client" : "server");
    const std::string peer = client ? "5" : "6";  // a domain of its own, destroyed below
    ASSERT_EQ(run({XENWIRE_HOST_BIN, "--host", name_, "build", "--domid", peer}), 0);
    const std::string path =
        client ? "/local/domain/" + peer + "/data/vchan/2/x" : "/local/domain/2/data/vchan/" + peer + "/x";
    const pid_t p = start_in_domain(
        2, XENWIRE_VCHAN_PROXY_BIN, {"--backend", "xen", "-m", client ? "client" : "server", peer, path, "-"},
        err("proxy"));
    ASSERT_GT(p, 0);
    std::this_thread::sleep_for(300ms);  // waiting by now
    const auto t0 = clock_type::now();
    ASSERT_EQ(run({XENWIRE_HOST_BIN, "--host", name_, "destroy", peer}), 0);
    EXPECT_EQ(wait_for(p, 10s), 1) << read_text(err("proxy"));
    EXPECT_LT(clock_type::now() - t0, 3s);
    EXPECT_NE(read_text(err("proxy")).find("gone"), std::string::npos) << read_text(err("proxy"));
  }
}

// Bad command lines: exit status 2 and the usage.
TEST_F(VchanProxy, BadUsage) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"1", "/p"}, {"-m", "both", "1", "/p", "-"}, {"x", "/p", "-"},
                                             {"--backend", "kvm", "1", "/p", "-"}}) {
    const pid_t p = start_in_domain(2, XENWIRE_VCHAN_PROXY_BIN, args, err("usage"));
    EXPECT_EQ(wait_for(p, 10s), 2);
    EXPECT_NE(read_text(err("usage")).find("usage:"), std::string::npos);
  }
}

}  // namespace
