// Load generator for any xenstored speaking the socket protocol. Reports ops/s and p50/p99 latency
// per operation, and ratios to floors measured in the same run:
//   - a raw Unix-socket ping-pong moving the same request/reply sizes (the physical floor);
//   - the same read with 512 idle connections open vs none;
//   - TRANSACTION_START+END on a store of ~1M nodes vs ~1k nodes.
//
// Usage: bench_xenstore_load [--socket PATH] [--ops N] [--clients K] [--big-store NODES] [--quick]
// Without --socket it spawns xenwire-xenstored on a private socket. Pin both processes to one CPU
// (taskset -c 0) for the primary figures (cross-CPU wake-ups dominate otherwise: shared/benchmarking.md).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xenwire/xenstore/wire.hpp"

namespace {

using namespace xenwire::xenstore;
using clock_type = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_xenstore_load: %s\n", what.c_str());
  std::exit(1);
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket: " + std::string(std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("write: " + std::string(std::strerror(errno)));
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}
void read_all(int fd, char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) die("read: connection closed");
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

// One blocking protocol client: a request, then its reply (watch events are not used here).
class client {
 public:
  explicit client(const std::string& path) : fd_(connect_unix(path)) {
    if (fd_ < 0) die("cannot connect to " + path);
  }
  ~client() { ::close(fd_); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Returns the reply payload; type is ERROR on failure.
  std::uint32_t call(msg_type type, std::string_view payload, std::uint32_t tx = 0) {
    out_.clear();
    header h{static_cast<std::uint32_t>(type), ++req_, tx, 0};
    if (!encode(out_, h, payload)) die("request too large");
    write_all(fd_, out_.data(), out_.size());
    return read_reply();
  }
  void send_only(msg_type type, std::string_view payload, std::uint32_t tx = 0) {
    out_.clear();
    header h{static_cast<std::uint32_t>(type), ++req_, tx, 0};
    if (!encode(out_, h, payload)) die("request too large");
    write_all(fd_, out_.data(), out_.size());
  }
  std::uint32_t read_reply() {
    header rh{};
    read_all(fd_, reinterpret_cast<char*>(&rh), sizeof rh);
    if (rh.len > xenwire::xenstore::payload_max) die("reply too long");
    reply_.resize(rh.len);
    read_all(fd_, reply_.data(), rh.len);
    return rh.type;
  }
  const std::string& reply() const { return reply_; }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::uint32_t req_ = 0;
  std::string out_;
  std::string reply_;
};

std::string z(std::string_view s) {
  std::string r(s);
  r.push_back('\0');
  return r;
}

struct stats {
  double ops_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
};

stats summarize(std::vector<double>& lat_us, double seconds) {
  std::sort(lat_us.begin(), lat_us.end());
  stats s;
  s.ops_per_s = static_cast<double>(lat_us.size()) / seconds;
  s.p50_us = lat_us[lat_us.size() / 2];
  s.p99_us = lat_us[std::min(lat_us.size() - 1, lat_us.size() * 99 / 100)];
  return s;
}

template <class Op>
stats measure(std::size_t n, Op&& op) {
  std::vector<double> lat;
  lat.reserve(n);
  for (std::size_t i = 0; i < std::min<std::size_t>(n / 10 + 1, 200); ++i) op(i);  // warm up
  auto t0 = clock_type::now();
  for (std::size_t i = 0; i < n; ++i) {
    auto a = clock_type::now();
    op(i);
    lat.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - a).count());
  }
  double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  return summarize(lat, secs);
}

// The floor: a process that reads `req` bytes and writes `rsp` bytes back, over a Unix socket.
struct echo_server {
  pid_t pid = -1;
  std::string path;
  echo_server(std::string p, std::size_t req, std::size_t rsp) : path(std::move(p)) {
    ::unlink(path.c_str());
    int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(ls, 4) != 0)
      die("echo server bind: " + std::string(std::strerror(errno)));
    pid = ::fork();
    if (pid == 0) {
      int c = ::accept(ls, nullptr, nullptr);
      std::vector<char> in(req), out(rsp, 'x');
      for (;;) {
        std::size_t got = 0;
        while (got < req) {
          ssize_t r = ::read(c, in.data() + got, req - got);
          if (r <= 0) ::_exit(0);
          got += static_cast<std::size_t>(r);
        }
        write_all(c, out.data(), out.size());
      }
    }
    ::close(ls);
  }
  ~echo_server() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    ::unlink(path.c_str());
  }
};

struct spawned_daemon {
  pid_t pid = -1;
  std::string path;
  explicit spawned_daemon(const std::string& binary, std::string sock) : path(std::move(sock)) {
    pid = ::fork();
    if (pid == 0) {
      ::execl(binary.c_str(), binary.c_str(), "-N", "--socket", path.c_str(), "--log-level", "warn", "--no-rate-limit",
              static_cast<char*>(nullptr));
      std::perror("exec xenwire-xenstored");
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {  // wait until it accepts
      int fd = connect_unix(path);
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    die("daemon did not come up on " + path);
  }
  ~spawned_daemon() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

void row(const char* name, const stats& s, double floor_p50 = 0) {
  std::printf("%-34s %12.0f ops/s   p50 %8.2f us   p99 %8.2f us", name, s.ops_per_s, s.p50_us, s.p99_us);
  if (floor_p50 > 0) std::printf("   %.2fx floor", s.p50_us / floor_p50);
  std::printf("\n");
}

// Writes `count` nodes under `prefix` pipelined in batches (one round trip per batch).
void populate(client& c, const std::string& prefix, std::size_t count) {
  const std::size_t batch = 256;
  for (std::size_t i = 0; i < count; i += batch) {
    std::size_t n = std::min(batch, count - i);
    for (std::size_t j = 0; j < n; ++j) {
      std::size_t k = i + j;
      std::string p = prefix + "/d" + std::to_string(k / 1000) + "/n" + std::to_string(k % 1000);
      c.send_only(msg_type::write, z(p) + "v");
    }
    for (std::size_t j = 0; j < n; ++j)
      if (c.read_reply() == static_cast<std::uint32_t>(msg_type::error)) die("populate: " + c.reply());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path;
  std::size_t ops = 20000;
  std::size_t clients = 8;
  std::size_t big_store = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--socket") socket_path = next();
    else if (a == "--ops") ops = std::stoul(next());
    else if (a == "--clients") clients = std::stoul(next());
    else if (a == "--big-store") big_store = std::stoul(next());
    else if (a == "--quick") ops = 3000, big_store = 100'000;
    else die("unknown argument " + a + " (see the comment atop bench/xenstore_load.cpp)");
  }
  if (socket_path.empty())
    if (const char* env = std::getenv("XENSTORED_PATH")) socket_path = env;

  std::optional<spawned_daemon> daemon;
  const std::string tmp = "/tmp/xenwire-bench-" + std::to_string(::getpid());
  if (socket_path.empty()) {
#ifdef XENWIRE_XENSTORED_BINARY
    daemon.emplace(XENWIRE_XENSTORED_BINARY, tmp + ".sock");
    socket_path = daemon->path;
#else
    die("no --socket given and no daemon built to spawn");
#endif
  }
  std::printf("xenstored load benchmark against %s%s, %zu ops per measurement\n", socket_path.c_str(),
              daemon ? " (spawned xenwire-xenstored)" : "", ops);

  client c(socket_path);
  const std::string value(64, 'v');
  if (c.call(msg_type::write, z("/bench/key") + value) == static_cast<std::uint32_t>(msg_type::error))
    die("write /bench/key: " + c.reply());

  // The floor: same bytes each way as a READ of /bench/key.
  const std::size_t req_bytes = header_size + z("/bench/key").size();
  const std::size_t rsp_bytes = header_size + value.size();
  stats floor;
  {
    echo_server echo(tmp + ".echo", req_bytes, rsp_bytes);
    int fd = -1;
    for (int i = 0; i < 200 && fd < 0; ++i) {
      fd = connect_unix(echo.path);
      if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (fd < 0) die("echo server did not come up");
    std::vector<char> req(req_bytes, 'r'), rsp(rsp_bytes);
    floor = measure(ops, [&](std::size_t) {
      write_all(fd, req.data(), req.size());
      read_all(fd, rsp.data(), rsp.size());
    });
    ::close(fd);
  }
  row("raw unix-socket ping-pong (floor)", floor);

  stats read1 = measure(ops, [&](std::size_t) { c.call(msg_type::read, z("/bench/key")); });
  row("read (1 client)", read1, floor.p50_us);
  row("write (1 client)", measure(ops, [&](std::size_t i) {
        c.call(msg_type::write, z("/bench/w" + std::to_string(i % 64)) + value);
      }), floor.p50_us);
  for (int i = 0; i < 32; ++i) c.call(msg_type::write, z("/bench/dir/c" + std::to_string(i)) + "x");
  row("directory (32 children)", measure(ops, [&](std::size_t) { c.call(msg_type::directory, z("/bench/dir")); }),
      floor.p50_us);
  row("write+rm", measure(ops / 2, [&](std::size_t i) {
        std::string p = "/bench/rm" + std::to_string(i);
        c.call(msg_type::write, z(p) + "x");
        c.call(msg_type::rm, z(p));
      }), floor.p50_us);
  auto tx_cycle = [&](bool commit) {
    c.call(msg_type::transaction_start, std::string_view("\0", 1));
    std::uint32_t tx = static_cast<std::uint32_t>(std::strtoul(c.reply().c_str(), nullptr, 10));
    c.call(msg_type::transaction_end, commit ? std::string_view("T\0", 2) : std::string_view("F\0", 2), tx);
  };
  row("transaction start+commit (empty)", measure(ops, [&](std::size_t) { tx_cycle(true); }), floor.p50_us);
  row("read-modify-write transaction", measure(ops, [&](std::size_t) {
        c.call(msg_type::transaction_start, std::string_view("\0", 1));
        std::uint32_t tx = static_cast<std::uint32_t>(std::strtoul(c.reply().c_str(), nullptr, 10));
        c.call(msg_type::read, z("/bench/key"), tx);
        c.call(msg_type::write, z("/bench/key") + value, tx);
        c.call(msg_type::transaction_end, std::string_view("T\0", 2), tx);
      }), floor.p50_us);

  // Many concurrent clients, each doing reads.
  {
    std::vector<std::thread> threads;
    std::vector<std::vector<double>> lats(clients);
    std::atomic<bool> go{false};
    const std::size_t per = std::max<std::size_t>(ops / clients, 100);
    for (std::size_t t = 0; t < clients; ++t) {
      threads.emplace_back([&, t] {
        client mine(socket_path);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        for (std::size_t i = 0; i < per; ++i) {
          auto a = clock_type::now();
          mine.call(msg_type::read, z("/bench/key"));
          lats[t].push_back(std::chrono::duration<double, std::micro>(clock_type::now() - a).count());
        }
      });
    }
    auto t0 = clock_type::now();
    go.store(true, std::memory_order_release);
    for (auto& th : threads) th.join();
    double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    std::vector<double> all;
    for (auto& l : lats) all.insert(all.end(), l.begin(), l.end());
    stats s = summarize(all, secs);
    char name[64];
    std::snprintf(name, sizeof name, "read (%zu concurrent clients)", clients);
    row(name, s);
  }

  // 512 idle connections: latency must not depend on them.
  {
    std::vector<int> idle;
    for (int i = 0; i < 512; ++i) {
      int fd = connect_unix(socket_path);
      if (fd < 0) die("idle connection " + std::to_string(i) + " refused");
      idle.push_back(fd);
    }
    stats busy = measure(ops, [&](std::size_t) { c.call(msg_type::read, z("/bench/key")); });
    row("read with 512 idle connections", busy, floor.p50_us);
    std::printf("  ratio to read without idle connections: %.2fx (target <= 1.2x)\n", busy.p50_us / read1.p50_us);
    for (int fd : idle) ::close(fd);
  }

  // TRANSACTION_START cost vs store size: O(1) snapshots should make 1M nodes cost like 1k.
  {
    populate(c, "/small", 1000);
    stats small = measure(ops, [&](std::size_t) { tx_cycle(false); });
    row("tx start+abort, ~1k-node store", small);
    auto t0 = clock_type::now();
    populate(c, "/big", big_store);
    double fill = std::chrono::duration<double>(clock_type::now() - t0).count();
    stats big = measure(ops, [&](std::size_t) { tx_cycle(false); });
    char name[64];
    std::snprintf(name, sizeof name, "tx start+abort, ~%zuk-node store", big_store / 1000);
    row(name, big);
    std::printf("  ratio big/small store: %.2fx (target <= 1.5x); filled %zu nodes in %.1f s (%.0f writes/s pipelined)\n",
                big.p50_us / small.p50_us, big_store, fill, static_cast<double>(big_store) / fill);
  }
  std::printf("summary: read round trip %.2fx the raw ping-pong (target <= 1.3x)\n", read1.p50_us / floor.p50_us);
  return 0;
}
