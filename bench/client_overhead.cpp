// Requests/s of READ through the client library vs the raw protocol on the same socket of an
// in-process xenwire daemon. Prints medians of alternating runs and their ratios.
// Pin it (`taskset -c 0`): daemon and clients then share one CPU, as the numbers in
// docs/performance.md assume; unpinned, cross-CPU wake-ups dominate.
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/daemon/xenstored.hpp"

namespace xs = xenwire::xenstore;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int requests = 20'000;
constexpr int rounds = 5;
constexpr int threads = 16;
const std::string key = "/bench/key";

std::string read_frame() {
  const std::string payload = key + '\0';
  const std::uint32_t h[4] = {static_cast<std::uint32_t>(xs::msg_type::read), 1, 0,
                              static_cast<std::uint32_t>(payload.size())};
  std::string f(sizeof h, '\0');
  std::memcpy(f.data(), h, sizeof h);
  return f + payload;
}

int raw_connect(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, static_cast<const sockaddr*>(static_cast<const void*>(&addr)), sizeof addr) != 0) std::abort();
  return fd;
}

bool read_exact(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t got = ::read(fd, p, n);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

bool raw_reply(int fd) {
  std::uint32_t h[4];
  if (!read_exact(fd, reinterpret_cast<char*>(h), sizeof h)) return false;  // NOLINT: POD header
  std::string body(h[3], '\0');
  return read_exact(fd, body.data(), body.size());
}

// Raw protocol, `depth` requests in flight (1: ping-pong).
double raw_rate(const std::string& path, int depth) {
  const int fd = raw_connect(path);
  std::string batch;
  for (int i = 0; i < depth; ++i) batch += read_frame();
  const auto t0 = clock_type::now();
  for (int done = 0; done < requests; done += depth) {
    if (::write(fd, batch.data(), batch.size()) != static_cast<ssize_t>(batch.size())) std::abort();
    for (int i = 0; i < depth; ++i)
      if (!raw_reply(fd)) std::abort();
  }
  const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
  ::close(fd);
  return requests / s;
}

// Library: `nthreads` threads doing blocking reads on one shared client.
double client_rate(const std::string& path, int nthreads) {
  auto c = xs::client::open(xs::connect_unix_socket(path).value()).value();
  std::vector<std::thread> pool;
  std::atomic<int> failures{0};
  const auto t0 = clock_type::now();
  for (int t = 0; t < nthreads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < requests / nthreads; ++i)
        if (!c.read(key)) ++failures;
    });
  }
  for (auto& th : pool) th.join();
  const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (failures) std::abort();
  return (requests / nthreads) * nthreads / s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "xw-bench-XXXXXX").string();
  const std::filesystem::path dir = ::mkdtemp(tmpl.data());
  xs::daemon_settings s;
  s.socket_path = (dir / "socket").string();
  s.stop_on_signals = false;
  auto d = xs::xenstored::create(s, nullptr, [](xs::log_level, std::string_view) {});
  if (!d) return 1;
  std::thread loop([&] { (void)(*d)->run(); });
  {
    auto c = xs::client::open(xs::connect_unix_socket(s.socket_path).value()).value();
    if (!c.write(key, "value")) return 1;
  }

  std::vector<double> raw1, lib1, raw16, lib16;
  for (int r = 0; r < rounds; ++r) {  // alternate A/B so drift hits both alike
    raw1.push_back(raw_rate(s.socket_path, 1));
    lib1.push_back(client_rate(s.socket_path, 1));
    raw16.push_back(raw_rate(s.socket_path, threads));
    lib16.push_back(client_rate(s.socket_path, threads));
  }
  std::printf("READ requests/s, median of %d alternating rounds of %d requests\n", rounds, requests);
  std::printf("  raw ping-pong (1 in flight)             %10.0f\n", median(raw1));
  std::printf("  client, 1 thread                        %10.0f   ratio to raw ping-pong %.2f\n", median(lib1),
              median(lib1) / median(raw1));
  std::printf("  raw pipelined (%d in flight)            %10.0f\n", threads, median(raw16));
  std::printf("  client, %d threads sharing one client   %10.0f   ratio to raw pipelined %.2f, to raw ping-pong %.2f\n",
              threads, median(lib16), median(lib16) / median(raw16), median(lib16) / median(raw1));
  (*d)->stop();
  loop.join();
  d->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
