// xenwire-sim: a whole simulated Xen host in one process. dom0 runs xenwire's xenstored (serving
// its Unix socket and every guest's Xenstore ring through the simulated grant table and event
// channels), a toolstack and a network backend; N guest domains connect over their rings, bring
// up devices in transactions, watch their backends and work; one guest crashes mid-way so the
// @releaseDomain cleanup is visible. dom0 also runs randomd: each guest fetches entropy over a vchan
// once its devices are up (only the rendezvous goes through Xenstore), and the crashing guest may
// die mid-fetch. Ends with a summary and the simulator's leak check.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <string>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "guest.hpp"
#include "guest_process.hpp"
#include "report.hpp"
#include "scenario.hpp"
#include "toolstack.hpp"
#include "xenwire/randomd/server_thread.hpp"
#include "xenwire/testbed/simulated_host.hpp"

namespace {

using namespace std::chrono_literals;
using namespace xenwire;

spdlog::level::level_enum to_spdlog(xenstore::log_level l) {
  switch (l) {
    case xenstore::log_level::trace: return spdlog::level::trace;
    case xenstore::log_level::debug: return spdlog::level::debug;
    case xenstore::log_level::info: return spdlog::level::info;
    case xenstore::log_level::warn: return spdlog::level::warn;
    case xenstore::log_level::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xenwire-sim: a simulated Xen host (xenstored, toolstack, guests) in one process"};
  unsigned guests = 4;
  unsigned rounds = 40;
  std::uint64_t seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) % 100000;
  std::string socket_path;
  double hold = 0;
  bool no_crash = false, quiet = false, no_entropy = false;
  std::size_t entropy_bytes = 4096;
  int verbose = 0;
  bool processes = false;
  int guest_process = -1;
  std::int64_t clock_origin = -1;
  app.add_flag("--processes", processes, "every guest is a process of its own on a cross-process host (sim::host_server); "
                                         "the crashing one is killed with SIGKILL");
  app.add_option("--guest-process", guest_process, "(internal) run as this guest's process")->group("");
  app.add_option("--clock-origin", clock_origin, "(internal) the parent's start, for timestamps")->group("");
  app.add_option("-g,--guests", guests, "guest domains to run")->check(CLI::Range(1u, 200u));
  app.add_option("-r,--rounds", rounds, "work rounds per guest (about)")->check(CLI::Range(2u, 100000u));
  app.add_option("-s,--seed", seed, "scenario seed: the same seed replays the same scenario");
  app.add_option("--socket", socket_path, "expose the simulated xenstored on this Unix socket (XENSTORED_PATH for real clients)");
  app.add_option("--hold", hold, "keep the host (and its socket) up this many seconds after the run");
  app.add_flag("--no-crash", no_crash, "no guest crashes");
  app.add_flag("--no-entropy", no_entropy, "no randomd: guests fetch no entropy");
  app.add_option("--entropy-bytes", entropy_bytes, "bytes each guest fetches from randomd (1 KiB requests; "
                                                   "randomd's default budget is 2 KiB burst, 4 KiB/s)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  app.add_flag("-q,--quiet", quiet, "only the summary");
  app.add_flag("-v,--verbose", verbose, "daemon log on stderr (-v info, -vv debug)");
  CLI11_PARSE(app, argc, argv);

  auto log = spdlog::stderr_color_mt("xenstored");
  log->set_level(verbose >= 2 ? spdlog::level::debug : verbose == 1 ? spdlog::level::info : spdlog::level::warn);

  const auto plan = simhost::scenario::make(seed, guests, rounds, !no_crash, no_entropy ? 0 : entropy_bytes);
  if (guest_process >= 0) {  // we are one guest of a --processes run
    const auto origin = std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(clock_origin));
    simhost::report gout(quiet, clock_origin >= 0 ? origin : std::chrono::steady_clock::now());
    for (const auto& g : plan.guests) {
      if (g.domid == guest_process) return simhost::run_guest_process(g, gout);
    }
    return 2;
  }
  simhost::report out(quiet);
  std::printf("xenwire-sim: seed %llu, %u guests%s, ~%u rounds each%s%s\n", static_cast<unsigned long long>(seed),
              guests, processes ? " (each its own process)" : "", rounds,
              no_crash ? "" : processes ? ", one killed with SIGKILL" : ", one crash",
              no_entropy ? "" : (", " + std::to_string(entropy_bytes) + " bytes of entropy each").c_str());

  // The simulated host: dom0 runs xenwire's xenstored (its log through spdlog on stderr).
  testbed::host_options hopts;
  hopts.socket_path = socket_path;
  hopts.log = [log](xenstore::log_level l, std::string_view m) { log->log(to_spdlog(l), "{}", m); };
  hopts.cross_process = processes;
  auto sim = testbed::simulated_host::create(std::move(hopts));
  if (!sim) {
    std::fprintf(stderr, "xenwire-sim: cannot start the simulated host (dom0, xenstored): %s\n",
                 sim.error().message().c_str());
    return 1;
  }
  testbed::simulated_host& host = **sim;
  socket_path = host.socket_path();
  out.line(0, "xenstored serving " + socket_path + " and guest rings (try: XENSTORED_PATH=" + socket_path +
                  " xenstore-ls)");

  int status = 0;
  randomd::server_stats rd{};
  {
    // randomd: its own dom0 connection, its own thread (one poll loop for every guest's vchan).
    std::unique_ptr<randomd::server_thread> randomd;
    if (!no_entropy) {
      randomd::server_config rcfg;
      rcfg.on_event = [&out](domid_t d, std::string_view what) {
        out.line(0, "randomd: dom " + std::to_string(d) + " " + std::string(what));
      };
      auto xs = host.connect();
      auto s = randomd::server_thread::start(host.dom0_transport(), xs ? std::move(*xs) : xenstore::client{}, rcfg);
      if (!s) {
        std::fprintf(stderr, "xenwire-sim: randomd cannot start: %s\n", s.error().message().c_str());
        status = 1;
      } else {
        randomd = std::move(*s);
        out.line(0, "randomd serving entropy over vchan (only the rendezvous goes through Xenstore)");
      }
    }
    simhost::toolstack dom0_tools(host, out);
    if (status == 0 && !dom0_tools.start()) {
      std::fprintf(stderr, "xenwire-sim: toolstack cannot connect\n");
      status = 1;
    }
    // The same scenario's arguments, for guest processes to draw the same plan.
    std::vector<std::string> child_args = {
        "--seed", std::to_string(seed), "--guests", std::to_string(guests), "--rounds", std::to_string(rounds),
        "--entropy-bytes", std::to_string(entropy_bytes),
        "--clock-origin", std::to_string(out.start().time_since_epoch().count())};
    if (no_crash) child_args.push_back("--no-crash");
    if (no_entropy) child_args.push_back("--no-entropy");
    if (quiet) child_args.push_back("--quiet");
    struct runner {  // a guest thread or a guest process, driven alike
      std::shared_ptr<void> hold;
      std::function<void()> wait_done, let_exit, join;
      std::function<bool()> ok;
      const simhost::guest_plan* plan;
    };
    std::vector<runner> running;
    for (const auto& g : plan.guests) {
      if (status != 0) break;
      if (!dom0_tools.build_domain(g)) {
        status = 1;
        break;
      }
      if (processes) {
        auto p = std::make_shared<simhost::guest_process>(g, out, host.host_socket(), child_args);
        p->start();
        running.push_back({p, [p] { p->wait_done(); }, [p] { p->let_exit(); }, [p] { p->join(); },
                           [p] { return p->ok(); }, &p->plan()});
      } else {
        auto t = std::make_shared<simhost::guest>(simhost::in_process_env(host.host(), g.domid), g, out);
        t->start();
        running.push_back({t, [t] { t->wait_done(); }, [t] { t->let_exit(); }, [t] { t->join(); },
                           [t] { return t->ok(); }, &t->plan()});
      }
    }
    for (auto& g : running) {
      g.wait_done();
      if (g.plan->crashes) {
        if (!dom0_tools.wait_cleaned(g.plan->domid, 10s)) {
          out.line(0, "domain " + std::to_string(g.plan->domid) + " was never cleaned up");
          out.failures++;
        }
      } else {
        (void)dom0_tools.release_domain(g.plan->domid);
      }
      g.let_exit();
      g.join();
      if (!g.ok()) status = 1;
    }
    if (hold > 0) {
      out.line(-1, "holding for " + std::to_string(hold) + " s: XENSTORED_PATH=" + socket_path + " xenstore-ls /");
      std::this_thread::sleep_for(std::chrono::duration<double>(hold));
    }
    out.line(-1, "netback connected " + std::to_string(dom0_tools.devices_connected()) + " vifs; " +
                     std::to_string(dom0_tools.domains_cleaned()) + " crashed domain(s) cleaned up");
    dom0_tools.stop();
    if (randomd) {
      randomd->stop();
      rd = randomd->get().stats();
      if (randomd->get().serving() != 0) {
        out.line(0, "randomd still serving " + std::to_string(randomd->get().serving()) +
                        " guest(s) after all were gone");
        out.failures++;
      }
      randomd.reset();  // closes whatever is left while xenstored still runs
    }
  }
  const auto st = host.stop_xenstored().value_or(xenstore::core_stats{});
  host.shutdown();

  const auto clean = host.host().check_clean();
  std::printf("\n=== xenwire-sim summary (seed %llu) ===\n", static_cast<unsigned long long>(seed));
  std::printf("guests             %u (%zu crashed)\n", guests,
              static_cast<std::size_t>(std::count_if(plan.guests.begin(), plan.guests.end(),
                                                     [](const auto& g) { return g.crashes; })));
  std::printf("xenstored          %llu requests, %llu watch events sent, %llu transactions committed, %llu conflicts, "
              "%zu nodes left\n",
              static_cast<unsigned long long>(st.requests), static_cast<unsigned long long>(st.watch_events),
              static_cast<unsigned long long>(st.transactions_committed),
              static_cast<unsigned long long>(st.transactions_conflicted), st.nodes);
  std::printf("actors             %llu xenstore ops, %llu events received, %llu transactions, %llu EAGAIN retries\n",
              static_cast<unsigned long long>(out.xs_ops.get()), static_cast<unsigned long long>(out.watch_events.get()),
              static_cast<unsigned long long>(out.transactions.get()), static_cast<unsigned long long>(out.retries.get()));
  if (!no_entropy) {
    std::printf("randomd            %llu entropy bytes delivered (%llu to guests), %llu vchan bytes moved, "
                "%llu rate-limit hits, %llu servers, %llu dropped responses\n",
                static_cast<unsigned long long>(rd.entropy_bytes),
                static_cast<unsigned long long>(out.entropy_bytes.get()),
                static_cast<unsigned long long>(rd.vchan_bytes_in + rd.vchan_bytes_out),
                static_cast<unsigned long long>(rd.rate_limited), static_cast<unsigned long long>(rd.servers_started),
                static_cast<unsigned long long>(rd.dropped_responses));
  }
  std::printf("failures           %llu\n", static_cast<unsigned long long>(out.failures.get()));
  std::printf("leak check         %s\n", clean ? "clean: no grant, mapping or port left" : "LEAKS:");
  if (!clean) std::printf("%s\n", clean.describe().c_str());
  std::printf("elapsed            %.2f s\n", out.elapsed());
  if (out.failures.get() != 0 || !clean) status = 1;
  return status;
}
