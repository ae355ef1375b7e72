#include "demo.hpp"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "xenwire/randomd/entropy.hpp"
#include "xenwire/randomd/guest.hpp"
#include "xenwire/randomd/server_thread.hpp"
#include "xenwire/testbed/simulated_host.hpp"

namespace xenwire::randomd::cli {

namespace {

using namespace std::chrono_literals;

// True if some 8-byte window of `secret` occurs in `value`.
bool leaks(const std::string& value, std::span<const std::byte> secret) {
  if (secret.size() < 8 || value.size() < 8) return false;
  const std::string_view hay(value);
  for (std::size_t i = 0; i + 8 <= secret.size(); ++i) {
    const std::string_view needle(reinterpret_cast<const char*>(secret.data() + i), 8);
    if (hay.find(needle) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

int run_demo(const demo_options& opts) {
  server_config cfg = opts.server;
  std::mutex err_mu;
  if (opts.verbose)
    cfg.on_event = [&err_mu](domid_t d, std::string_view what) {
      std::lock_guard lock(err_mu);
      std::fprintf(stderr, "randomd: dom %u: %.*s\n", unsigned{d}, static_cast<int>(what.size()), what.data());
    };
  const auto start = std::chrono::steady_clock::now();
  auto host = testbed::simulated_host::create();
  if (!host) {
    std::fprintf(stderr, "xenwire-randomd: cannot start the simulated host: %s\n", host.error().message().c_str());
    return 1;
  }
  // randomd in dom0, with its own Xenstore connection.
  auto xs = (*host)->connect({.timeout = 10s});
  if (!xs) {
    std::fprintf(stderr, "xenwire-randomd: cannot connect to xenstored: %s\n", xs.error().message().c_str());
    return 1;
  }
  auto rd = server_thread::start((*host)->dom0_transport(), std::move(*xs), cfg);
  if (!rd) {
    std::fprintf(stderr, "xenwire-randomd: cannot start randomd: %s\n", rd.error().message().c_str());
    return 1;
  }
  std::printf("xenwire-randomd demo: %u guests fetch %zu bytes each (chunks of %u; limit %u B/s, burst %u B)\n",
              opts.guests, opts.bytes, opts.chunk, cfg.limit.rate, cfg.limit.burst);

  std::vector<std::unique_ptr<testbed::guest_domain>> guests;
  for (unsigned i = 0; i < opts.guests; ++i) {
    auto g = (*host)->add_guest(static_cast<domid_t>(i + 1));
    if (!g) {
      std::fprintf(stderr, "xenwire-randomd: guest %u: %s\n", i + 1, g.error().message().c_str());
      return 1;
    }
    guests.push_back(std::move(*g));
  }

  std::vector<std::vector<std::byte>> got(guests.size());
  std::vector<fetch_stats> stats(guests.size());
  std::vector<std::string> errors(guests.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < guests.size(); ++i)
    threads.emplace_back([&, i] {
      auto r = fetch_entropy(guests[i]->xs, *guests[i]->transport, opts.bytes, 30s,
                             {.chunk = opts.chunk, .stats = &stats[i]});
      if (r) {
        got[i] = std::move(*r);
      } else {
        errors[i] = r.error().message();
      }
    });
  for (auto& t : threads) t.join();

  int status = 0;
  for (std::size_t i = 0; i < guests.size(); ++i) {
    if (!errors[i].empty()) {
      std::printf("dom %-3u FAILED: %s\n", unsigned{guests[i]->domid}, errors[i].c_str());
      status = 1;
      continue;
    }
    std::printf("dom %-3u %zu bytes in %llu requests (%llu rate-limited, waited %lld ms): %s...\n",
                unsigned{guests[i]->domid}, got[i].size(), static_cast<unsigned long long>(stats[i].requests),
                static_cast<unsigned long long>(stats[i].rate_limited), static_cast<long long>(stats[i].waited.count()),
                hex(got[i], 8).c_str());
  }

  // The point of the exercise: nothing delivered went through Xenstore.
  std::size_t nodes = 0, leaked = 0;
  for (const auto& [path, value] : (*host)->dump_store()) {
    ++nodes;
    for (const auto& g : got)
      if (leaks(value, g)) ++leaked;
  }
  if (leaked) status = 1;

  for (auto& g : guests) (void)(*host)->release(*g);
  (*rd)->stop();
  const auto st = (*rd)->get().stats();
  rd->reset();  // closes what is left of its servers while xenstored still runs
  (*host)->shutdown();
  guests.clear();
  const auto clean = (*host)->host().check_clean();
  if (!clean) status = 1;

  std::printf("\n=== randomd demo summary ===\n");
  std::printf("entropy delivered  %llu bytes in %llu ok responses (%llu requests)\n",
              static_cast<unsigned long long>(st.entropy_bytes), static_cast<unsigned long long>(st.served),
              static_cast<unsigned long long>(st.requests));
  std::printf("rate-limit hits    %llu\n", static_cast<unsigned long long>(st.rate_limited));
  std::printf("vchan bytes        %llu in, %llu out\n", static_cast<unsigned long long>(st.vchan_bytes_in),
              static_cast<unsigned long long>(st.vchan_bytes_out));
  std::printf("xenstore check     %zu nodes, %zu holding delivered bytes\n", nodes, leaked);
  std::printf("leak check         %s\n", clean ? "clean" : clean.describe().c_str());
  std::printf("elapsed            %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return status;
}

}  // namespace xenwire::randomd::cli
