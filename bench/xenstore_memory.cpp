// Memory per node of the server core at scale: N nodes written through the core's real interface
// (WRITE frames fed to a dom0 connection), the process's resident memory measured before and after,
// and what remains once the names and values themselves are subtracted. Baseline in the same run:
// the same names and values held as plain std::string pairs in a std::vector (what any store must
// keep at least, with a container's own overhead).
//
// Usage: bench_xenstore_memory [--nodes N] [--fanout K]   (K children per directory, default 1000)
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xenwire/xenstore/server/core.hpp"
#include "xenwire/xenstore/wire.hpp"

namespace {

namespace xs = xenwire::xenstore;

std::size_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::string node_path(std::size_t i, std::size_t fanout) {
  return "/local/domain/" + std::to_string(i / fanout) + "/device/n" + std::to_string(i);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t nodes = 1'000'000, fanout = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view a = argv[i];
    if (a == "--nodes") nodes = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--fanout") fanout = std::strtoull(argv[i + 1], nullptr, 10);
  }
  const std::string value = "backend-state-value-4";  // a typical short value
  // Bytes of the names (each path component once) and values: what is not overhead.
  std::size_t payload = 0;
  {
    const std::size_t dirs = (nodes + fanout - 1) / fanout;
    for (std::size_t d = 0; d < dirs; ++d) payload += std::to_string(d).size() + std::strlen("device");
    for (std::size_t i = 0; i < nodes; ++i) payload += 1 + std::to_string(i).size() + value.size();
  }

  ::malloc_trim(0);
  const std::size_t before = resident_bytes();
  xs::server_core core;
  const auto now = xs::clock::now();
  const xs::conn_id c = core.open({xs::conn_kind::socket, 0, false}, now);
  std::string frame;
  std::vector<xs::core_effect> effects;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < nodes; ++i) {
    frame.clear();
    const std::string path = node_path(i, fanout);
    std::string payload_bytes = path + '\0' + value;
    (void)xs::encode(frame, xs::header{static_cast<std::uint32_t>(xs::msg_type::write), 1, 0, 0}, payload_bytes);
    if (!core.feed(c, std::as_bytes(std::span(frame.data(), frame.size())), now)) return 1;
    while (core.has_output(c)) core.consume_output(c, core.peek_output(c).size(), now);
    core.take_effects(effects);
  }
  const auto t1 = std::chrono::steady_clock::now();
  ::malloc_trim(0);
  const std::size_t after = resident_bytes();
  const std::size_t store_nodes = core.stats().nodes;
  const double per_node = static_cast<double>(after - before) / static_cast<double>(store_nodes);
  const double overhead = static_cast<double>(after - before - std::min(after - before, payload)) /
                          static_cast<double>(store_nodes);

  // Baseline: the bare strings.
  ::malloc_trim(0);
  const std::size_t b0 = resident_bytes();
  std::vector<std::pair<std::string, std::string>> plain;
  plain.reserve(nodes);
  for (std::size_t i = 0; i < nodes; ++i) plain.emplace_back("n" + std::to_string(i), value);
  const std::size_t b1 = resident_bytes();
  const double plain_overhead = (static_cast<double>(b1 - b0) - static_cast<double>(payload)) / static_cast<double>(nodes);

  std::printf("server core, %zu nodes written (%zu in the store, %zu children per directory)\n", nodes, store_nodes, fanout);
  std::printf("  resident growth             %10.1f MiB (%.1f bytes/node)\n", static_cast<double>(after - before) / 1048576.0,
              per_node);
  std::printf("  names and values            %10.1f MiB\n", static_cast<double>(payload) / 1048576.0);
  std::printf("  overhead per node           %10.1f bytes (target <= 150)\n", overhead);
  std::printf("  baseline: std::string pairs %10.1f bytes/node over the same bytes\n", plain_overhead);
  std::printf("  overhead / baseline         %10.2f\n", overhead / plain_overhead);
  std::printf("  write rate                  %10.0f nodes/s\n",
              static_cast<double>(nodes) / std::chrono::duration<double>(t1 - t0).count());
  return plain.size() == nodes ? 0 : 1;
}
