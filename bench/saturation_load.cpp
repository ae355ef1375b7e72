#include "saturation_load.hpp"

#include <cerrno>
#include <cstddef>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xenwire/xenstore/wire.hpp"

namespace xenwire::bench {

namespace {

using clock_type = std::chrono::steady_clock;
using xenstore::header;
using xenstore::header_size;
using xenstore::msg_type;

// A client's one connection and its two prebuilt requests (only req_id changes per call).
class client {
 public:
  client(int fd, std::size_t index) : fd_(fd) {
    read_ = frame(msg_type::read, std::string("/bench/key") + '\0');
    write_ = frame(msg_type::write, "/bench/c" + std::to_string(index) + '\0' + std::string(value_size, 'v'));
  }
  // One request and its reply; the reply's type (ERROR on failure), or 0 if the daemon hung up.
  std::uint32_t call(bool write) {
    std::string& req = write ? write_ : read_;
    ++req_id_;
    std::memcpy(req.data() + offsetof(header, req_id), &req_id_, sizeof req_id_);
    for (std::size_t done = 0; done < req.size();) {
      const ssize_t w = ::write(fd_, req.data() + done, req.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return 0;
      done += static_cast<std::size_t>(w);
    }
    std::size_t have = 0;
    header h{};
    for (;;) {
      const ssize_t r = ::read(fd_, buf_ + have, sizeof buf_ - have);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return 0;
      have += static_cast<std::size_t>(r);
      if (have < header_size) continue;
      std::memcpy(&h, buf_, header_size);
      if (header_size + h.len > sizeof buf_) return 0;
      if (have >= header_size + h.len) return h.type;
    }
  }
  std::string_view reply() const {
    header h{};
    std::memcpy(&h, buf_, header_size);
    return {buf_ + header_size, h.len};
  }

 private:
  static std::string frame(msg_type type, const std::string& payload) {
    header h{static_cast<std::uint32_t>(type), 0, 0, static_cast<std::uint32_t>(payload.size())};
    std::string out(reinterpret_cast<const char*>(&h), header_size);
    return out + payload;
  }
  int fd_;
  std::uint32_t req_id_ = 0;
  std::string read_, write_;
  char buf_[4096 + header_size];
};

bool is_write(workload w, std::uint64_t i) {
  return w == workload::write || (w == workload::mix && i % 10 == 9);
}

// The body of one client process: connect, warm up, say ready, wait for go, run, report.
[[noreturn]] void client_main(const std::string& socket, std::size_t index, workload w, double seconds, int ready,
                              int go, std::uint64_t* count) {
  int fd = -1;
  for (int i = 0; i < 1000 && fd < 0; ++i) {
    fd = connect_unix(socket);
    if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (fd < 0) ::_exit(2);
  client c(fd, index);
  for (bool write : {false, true}) {
    if (c.call(write) != static_cast<std::uint32_t>(write ? msg_type::write : msg_type::read)) {
      std::fprintf(stderr, "bench_xenstore_saturation: client %zu: %s answered with an error: %.*s\n", index,
                   write ? "WRITE" : "READ", static_cast<int>(c.reply().size()), c.reply().data());
      ::_exit(3);
    }
  }
  if (::write(ready, "r", 1) != 1) ::_exit(4);
  char byte;
  while (::read(go, &byte, 1) < 0 && errno == EINTR) {
  }  // EOF: go
  const auto deadline = clock_type::now() + std::chrono::duration<double>(seconds);
  std::uint64_t n = 0;
  while (clock_type::now() < deadline) {
    if (c.call(is_write(w, n)) == 0) ::_exit(5);
    ++n;
  }
  *count = n;
  ::_exit(0);
}

}  // namespace

const char* name(workload w) {
  switch (w) {
    case workload::read: return "read";
    case workload::write: return "write";
    case workload::mix: return "mix";
  }
  return "?";
}

void prepare(const measured_daemon& d) {
  const int fd = connect_unix(d.socket());
  if (fd < 0) fail("cannot connect to " + d.name() + " at " + d.socket());
  header h{static_cast<std::uint32_t>(msg_type::write), 1, 0, 0};
  const std::string payload = std::string("/bench/key") + '\0' + std::string(value_size, 'v');
  h.len = static_cast<std::uint32_t>(payload.size());
  std::string req(reinterpret_cast<const char*>(&h), header_size);
  req += payload;
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) fail("writing /bench/key");
  char buf[256];
  if (::read(fd, buf, sizeof buf) < static_cast<ssize_t>(header_size)) fail("no reply writing /bench/key");
  std::memcpy(&h, buf, header_size);
  if (h.type != static_cast<std::uint32_t>(msg_type::write)) fail(d.name() + " refused WRITE /bench/key");
  ::close(fd);
}

load_result run_load(const measured_daemon& d, std::size_t clients, workload w, double seconds, const std::string& perf) {
  auto* counts = static_cast<std::uint64_t*>(
      ::mmap(nullptr, clients * sizeof(std::uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (counts == MAP_FAILED) fail("mmap");
  int ready[2], go[2];
  if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0) fail("pipe");  // not into perf
  std::vector<pid_t> pids;
  for (std::size_t i = 0; i < clients; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
      ::close(ready[0]);
      ::close(go[1]);
      client_main(d.socket(), i, w, seconds, ready[1], go[0], &counts[i]);
    }
    pids.push_back(pid);
  }
  ::close(ready[1]);
  ::close(go[0]);
  for (std::size_t got = 0; got < clients;) {
    char buf[512];
    const ssize_t r = ::read(ready[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail("a client of " + d.name() + " failed before the run");
    got += static_cast<std::size_t>(r);
  }
  ::close(ready[0]);

  std::unique_ptr<syscall_counter> syscalls;
  if (!perf.empty()) syscalls = std::make_unique<syscall_counter>(perf, d.pid());

  load_result r;
  const auto cpu0 = d.cpu();
  const auto t0 = clock_type::now();
  ::close(go[1]);
  int failed = 0;
  for (pid_t pid : pids) failed += wait_exit(pid) != 0;
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  const auto cpu1 = d.cpu();
  r.daemon_user_seconds = cpu1.user - cpu0.user;
  r.daemon_cpu_seconds = r.daemon_user_seconds + cpu1.system - cpu0.system;
  if (syscalls) r.syscalls = syscalls->stop();
  if (failed > 0) fail(std::to_string(failed) + " clients of " + d.name() + " failed during the run");
  for (std::size_t i = 0; i < clients; ++i) r.requests += counts[i];
  ::munmap(counts, clients * sizeof(std::uint64_t));
  return r;
}

}  // namespace xenwire::bench
