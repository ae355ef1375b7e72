#include "toolstack.hpp"

#include <optional>
#include <vector>

#include "xenbus_paths.hpp"
#include "xenwire/xenstore/args.hpp"
#include "xenwire/xenstore/path.hpp"

namespace xenwire::simhost {

namespace {

using namespace std::chrono_literals;

// "/local/domain/<d>/device/vif/<i>/state" → (d, i), for a guest's domid (not dom0's, not reserved).
std::optional<std::pair<domid_t, unsigned>> frontend_state_path(std::string_view p) {
  constexpr std::string_view prefix = xenstore::domain_path_prefix;
  constexpr std::string_view device = "/device/vif/";
  constexpr std::string_view suffix = "/state";
  if (!p.starts_with(prefix) || !p.ends_with(suffix)) return std::nullopt;
  p.remove_prefix(prefix.size());
  p.remove_suffix(suffix.size());
  const auto slash = p.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto d = xenstore::parse_domid(p.substr(0, slash));
  if (!d || *d == 0 || *d > 0x7FEF) return std::nullopt;
  const std::string_view rest = p.substr(slash);
  if (!rest.starts_with(device)) return std::nullopt;
  const auto i = xenstore::parse_u32(rest.substr(device.size()));
  if (!i) return std::nullopt;
  return std::make_pair(*d, unsigned{*i});
}

}  // namespace

toolstack::toolstack(testbed::simulated_host& host, report& out) : host_(host), out_(out) {}

toolstack::~toolstack() { stop(); }

xenstore::client toolstack::connect() {
  auto c = host_.connect();
  return c ? std::move(*c) : xenstore::client{};
}

result<void> toolstack::start() {
  ctl_ = connect();
  backend_ = connect();
  watcher_ = connect();
  if (ctl_.failure() || backend_.failure() || watcher_.failure()) return fail(errc::peer_closed);
  // Both watches are in place before the first domain is built: a frontend that connects (or a
  // domain that dies) before a loop thread got to run is not missed.
  auto frontends = backend_.add_watch("/local/domain");
  auto releases = watcher_.add_watch("@releaseDomain");
  if (!frontends || !releases) return fail(errc::peer_closed);
  frontends_ = std::move(*frontends);
  releases_ = std::move(*releases);
  backend_thread_ = std::thread([this] { backend_loop(); });
  release_thread_ = std::thread([this] { release_loop(); });
  return {};
}

void toolstack::stop() {
  if (stopping_.exchange(true, std::memory_order_relaxed)) return;
  // Closing the connections ends the watchers' waits.
  backend_.close();
  watcher_.close();
  if (backend_thread_.joinable()) backend_thread_.join();
  if (release_thread_.joinable()) release_thread_.join();
  ctl_.close();
}

result<void> toolstack::build_domain(const guest_plan& g) {
  const domid_t d = g.domid;
  // As libxl: the home (testbed::build_domain) and the device nodes in one transaction, the guest
  // owning its frontends, dom0 owning the backends (readable by the guest).
  testbed::domain_spec spec{
      .domid = d, .extra = [&](xenstore::client& ctl, xenstore::tx_id tx) -> xenstore::client_result<void> {
        // Directories first, with their perms: nodes dom0 then writes below inherit them.
        const xenstore::node_perms dom0_guest_readable{{0, xenstore::perm::none}, {d, xenstore::perm::read}};
        for (unsigned i = 0; i < g.vifs; ++i) {
          if (auto r = ctl.mkdir(frontend(d, i), tx); !r) return r;
          if (auto r = ctl.mkdir(backend(d, i), tx); !r) return r;
          if (auto r = ctl.set_perms(backend(d, i), dom0_guest_readable, tx); !r) return r;
        }
        std::vector<std::pair<std::string, std::string>> nodes;
        for (unsigned i = 0; i < g.vifs; ++i) {
          nodes.emplace_back(frontend(d, i) + "/backend", backend(d, i));
          nodes.emplace_back(frontend(d, i) + "/state", state_initialising);
          nodes.emplace_back(backend(d, i) + "/frontend", frontend(d, i));
          nodes.emplace_back(backend(d, i) + "/state", state_initialising);
        }
        for (auto& [path, value] : nodes)
          if (auto r = ctl.write(path, value, tx); !r) return r;
        return {};
      }};
  auto info = testbed::build_domain(host_.host(), ctl_, spec);
  out_.xs_ops += 8 + 6 * g.vifs;
  if (!info) {
    out_.line(0, "building domain " + std::to_string(d) + " failed: " + info.error().message());
    return fail(errc::protocol_error);
  }
  out_.transactions++;
  {
    std::lock_guard lock(mu_);
    live_.insert(d);
  }
  out_.line(0, "built domain " + std::to_string(d) + " (" + std::to_string(g.vifs) + " vif" +
                   (g.vifs > 1 ? "s" : "") + "), introduced on port " + std::to_string(*info->xenstore_port));
  return {};
}

result<void> toolstack::release_domain(domid_t d) {
  {
    std::lock_guard lock(mu_);
    live_.erase(d);  // from here on its @releaseDomain is expected
  }
  if (auto r = ctl_.release(d); !r) out_.line(0, "RELEASE " + std::to_string(d) + ": " + r.error().message());
  (void)ctl_.rm(backend_root(d));
  out_.xs_ops += 2;
  if (auto r = host_.host().destroy_domain(d); !r) return fail(r.error());
  out_.line(0, "released and destroyed domain " + std::to_string(d));
  return {};
}

bool toolstack::wait_cleaned(domid_t d, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    {
      std::lock_guard lock(mu_);
      if (cleaned_.contains(d)) return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

// netback: a frontend that reaches Connected gets its backend connected too.
void toolstack::backend_loop() {
  auto* w = &frontends_;
  while (!stopping_.load(std::memory_order_relaxed)) {
    auto ev = w->next(200ms);
    if (!ev) {
      if (ev.error().transport() == make_error_code(errc::timed_out)) continue;
      return;  // connection closed: we are stopping
    }
    out_.watch_events++;
    auto fe = frontend_state_path(ev->path);
    if (!fe) continue;
    auto [d, i] = *fe;
    auto state = backend_.try_read(ev->path);
    out_.xs_ops++;
    if (!state || !*state || **state != state_connected) continue;
    auto mine = backend_.try_read(backend(d, i) + "/state");
    out_.xs_ops++;
    if (!mine || !*mine || **mine == state_connected) continue;
    if (backend_.write(backend(d, i) + "/state", state_connected)) {
      out_.xs_ops++;
      connected_++;
      out_.line(0, "netback: vif " + std::to_string(d) + "." + std::to_string(i) + " connected");
    }
  }
}

// A domain that died without RELEASE: remove what dom0 kept for it (its own nodes are already
// gone: the daemon deletes what a dead domain owned).
void toolstack::release_loop() {
  auto* w = &releases_;
  while (!stopping_.load(std::memory_order_relaxed)) {
    auto ev = w->next(200ms);
    if (!ev) {
      if (ev.error().transport() == make_error_code(errc::timed_out)) continue;
      return;
    }
    out_.watch_events++;
    std::vector<domid_t> gone;
    {
      std::lock_guard lock(mu_);
      for (domid_t d : live_) {
        auto alive = watcher_.is_domain_introduced(d);
        out_.xs_ops++;
        if (alive && !*alive) gone.push_back(d);
      }
    }
    for (domid_t d : gone) {
      auto leftovers = watcher_.exists(xenstore::domain_home(d));
      (void)watcher_.rm(backend_root(d));
      out_.xs_ops += 2;
      out_.line(0, "@releaseDomain: domain " + std::to_string(d) + " died; its nodes " +
                       (leftovers && !*leftovers ? "are gone" : "REMAIN") + ", backend entries removed");
      if (leftovers && *leftovers) out_.failures++;
      std::lock_guard lock(mu_);
      live_.erase(d);
      cleaned_.insert(d);
      cleaned_count_++;
    }
  }
}

}  // namespace xenwire::simhost
