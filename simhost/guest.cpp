#include "guest.hpp"

#include <csignal>
#include <cstdio>

#include "xenbus_paths.hpp"
#include "xenwire/randomd/entropy.hpp"
#include "xenwire/randomd/guest.hpp"
#include "xenwire/sim/remote.hpp"
#include "xenwire/testbed/simulated_host.hpp"
#include "xenwire/xenstore/client/connection.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/client/helpers.hpp"

namespace xenwire::simhost {

namespace {
using namespace std::chrono_literals;
}  // namespace

guest_env in_process_env(sim::host& host, domid_t domid) {
  guest_env env;
  env.connect = [&host, domid]() -> xenstore::client_result<guest_env::connection> {
    auto ring = testbed::connect_guest(host, domid, {.timeout = 5s});
    if (!ring) return xenstore::client_fail(ring.error());
    return guest_env::connection{std::move((*ring)->transport), std::move((*ring)->xs)};
  };
  env.crash = [&host, domid] { static_cast<void>(host.destroy_domain(domid)); };
  return env;
}

guest_env own_process_env(domid_t domid) {
  guest_env env;
  env.connect = [domid]() -> xenstore::client_result<guest_env::connection> {
    // This process is the domain: if it dies, the domain dies.
    auto t = sim::remote_transport::connect({.socket = {}, .domid = domid, .mode = sim::membership::owner});
    if (!t) return xenstore::client_fail(t.error());
    auto ep = (*t)->take_xenstore();
    if (!ep) return xenstore::client_fail(ep.error());
    auto conn = xenstore::connect_ring(std::move(ep->page), std::move(ep->events), ep->port);
    if (!conn) return xenstore::client_fail(conn.error());
    auto c = xenstore::client::open(std::move(*conn), {.timeout = 5s});
    if (!c) return xenstore::client_fail(c.error());
    return guest_env::connection{std::move(*t), std::move(*c)};
  };
  env.crash = [] {
    std::fflush(stdout);
    ::raise(SIGKILL);
  };
  return env;
}

bool guest::fetch_entropy(bool& crashed) {
  const domid_t d = plan_.domid;
  std::thread killer;
  if (plan_.crashes && plan_.crash_while_fetching) {
    // A crash is asynchronous: it hits whatever the guest is doing (waiting out a rate limit,
    // mid-response...).
    killer = std::thread([this, d] {
      std::this_thread::sleep_for(std::chrono::milliseconds(plan_.crash_fetch_delay_ms));
      out_.line(d, "CRASH while fetching entropy (" + std::to_string(plan_.crash_fetch_delay_ms) + " ms in)");
      env_.crash();
    });
  }
  randomd::fetch_stats fs;
  auto got = randomd::fetch_entropy(xs_, *transport_, plan_.entropy_bytes, 10s, {.stats = &fs});
  out_.xs_ops += 3;  // request node write, keys watch and read
  out_.rate_limited += fs.rate_limited;
  if (got) out_.entropy_bytes += got->size();
  if (killer.joinable()) {
    killer.join();
    crashed = true;
    out_.line(d, "entropy fetch ended by the crash: " +
                     (got ? std::to_string(got->size()) + " bytes had arrived" : got.error().message()));
    return false;
  }
  if (!got) {
    out_.line(d, "entropy fetch failed: " + got.error().message());
    out_.failures++;
    return false;
  }
  out_.line(d, "entropy: " + std::to_string(got->size()) + " bytes over vchan in " + std::to_string(fs.requests) +
                   " requests (" + std::to_string(fs.rate_limited) + " rate-limited, waited " +
                   std::to_string(fs.waited.count()) + " ms): " + randomd::hex(*got, 8) + "...");
  return true;
}

void guest::run() {
  ok_ = work();
  done_.set_value();
  exit_.get_future().wait();
  close();
}

bool guest::work() {
  const domid_t d = plan_.domid;
  auto fail_with = [&](const std::string& what) {
    out_.line(d, what);
    if (!plan_.crashes) out_.failures++;
    return false;
  };
  // Its transport and a client over its own Xenstore ring (the page and port the toolstack gave it).
  auto ring = env_.connect();
  if (!ring) return fail_with("cannot connect over its ring: " + ring.error().message());
  transport_ = std::move(ring->first);
  xs_ = std::move(ring->second);
  xenstore::client& xs = xs_;

  // Relative paths resolve under our home, as for any guest.
  auto me = xs.read("domid");
  out_.xs_ops++;
  if (!me || *me != std::to_string(d)) return fail_with("cannot read my domid");
  out_.line(d, "connected to xenstored over its ring");

  for (unsigned i = 0; i < plan_.vifs; ++i) {
    const std::string dev = "device/vif/" + std::to_string(i);
    auto r = xenstore::run_transaction(xs, [&](xenstore::tx_id tx) -> xenstore::client_result<void> {
      char mac[32];
      std::snprintf(mac, sizeof mac, "00:16:3e:%02x:%02x:%02x", d >> 8, d & 0xff, i);
      if (auto w = xs.write(dev + "/mac", mac, tx); !w) return w;
      return xs.write(dev + "/state", state_connected, tx);
    });
    out_.xs_ops += 4;
    if (!r) return fail_with("vif " + std::to_string(i) + " setup: " + r.error().message());
    out_.transactions++;
    auto be = xs.read(dev + "/backend");
    out_.xs_ops++;
    if (!be) return fail_with("no backend for vif " + std::to_string(i));
    auto up = xenstore::wait_for(
        xs, *be + "/state", [](const auto& v) { return v && *v == state_connected; }, 5s);
    out_.xs_ops += 2;
    if (!up) return fail_with("backend of vif " + std::to_string(i) + " never connected: " + up.error().message());
    out_.line(d, "vif " + std::to_string(i) + " up (backend " + *be + ")");
  }

  if (plan_.entropy_bytes > 0) {
    bool crashed = false;
    if (!fetch_entropy(crashed)) return crashed;
  }

  for (unsigned round = 0; round < plan_.rounds; ++round) {
    if (plan_.crashes && !plan_.crash_while_fetching && round == plan_.crash_after) {
      out_.line(d, "CRASH (the simulator destroys the domain mid-run, after " + std::to_string(round) + " rounds)");
      env_.crash();
      auto after = xs.read("domid");
      if (after) return fail_with("still talking to xenstored after death");
      return true;
    }
    std::uint32_t attempts = 0;
    auto r = xenstore::run_transaction(xs, [&](xenstore::tx_id tx) -> xenstore::client_result<void> {
      ++attempts;
      auto cur = xs.try_read("data/counter", tx);
      if (!cur) return xenstore::client_fail(cur.error());
      unsigned long n = *cur ? std::stoul(**cur) : 0;
      return xs.write("data/counter", std::to_string(n + 1), tx);
    });
    out_.xs_ops += 4 * attempts;
    out_.retries += attempts - 1;
    if (!r) return fail_with("round " + std::to_string(round) + ": " + r.error().message());
    out_.transactions++;
    if (auto w = xs.write("data/round", std::to_string(round)); !w) return fail_with("write: " + w.error().message());
    out_.xs_ops++;
    if (round % 4 == 0) {
      auto ls = xs.directory("device/vif");
      out_.xs_ops++;
      if (!ls || ls->size() != plan_.vifs) return fail_with("device directory is wrong");
    }
  }
  auto counter = xs.read("data/counter");
  out_.xs_ops++;
  if (!counter || *counter != std::to_string(plan_.rounds)) return fail_with("counter lost updates");
  out_.line(d, "done: " + std::to_string(plan_.rounds) + " rounds, counter " + *counter);
  return true;
}

}  // namespace xenwire::simhost
