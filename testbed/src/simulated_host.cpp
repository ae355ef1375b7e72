#include "xenwire/testbed/simulated_host.hpp"

#include <unistd.h>

#include <atomic>
#include <functional>

#include "xenwire/xenstore/client/connection.hpp"
#include "xenwire/xenstore/client/helpers.hpp"
#include "xenwire/vchan/xenstore_rendezvous.hpp"

namespace xenwire::randomd::testbed {

namespace {

using namespace std::chrono_literals;

xenstore::client connect_socket(const std::string& path) {
  auto conn = xenstore::connect_unix_socket(path);
  if (!conn) return {};
  auto c = xenstore::client::open(std::move(*conn), {.timeout = 10s});
  return c ? std::move(*c) : xenstore::client{};
}

std::string home(domid_t d) { return "/local/domain/" + std::to_string(d); }

}  // namespace

result<std::unique_ptr<simulated_host>> simulated_host::create(server_config cfg, bool start) {
  std::unique_ptr<simulated_host> h(new simulated_host());
  if (auto r = h->start_daemon(); !r) return fail(r.error());
  if (start)
    if (auto r = h->start_randomd(std::move(cfg)); !r) return fail(r.error());
  return h;
}

result<void> simulated_host::start_daemon() {
  if (auto r = host_.create_domain(0); !r) return fail(r.error());
  auto t = host_.transport(0);
  if (!t) return fail(t.error());
  dom0_transport_ = std::move(*t);
  static std::atomic<unsigned> seq{0};
  dir_ = std::filesystem::temp_directory_path() /
         ("xenwire-randomd-" + std::to_string(::getpid()) + "-" + std::to_string(seq++));
  std::filesystem::create_directories(dir_);
  socket_ = (dir_ / "socket").string();
  xenstore::daemon_settings settings;
  settings.socket_path = socket_;
  settings.stop_on_signals = false;
  auto d = xenstore::xenstored::create(std::move(settings), dom0_transport_.get(), [](auto, auto) {});
  if (!d) return fail(d.error());
  daemon_ = std::move(*d);
  daemon_thread_ = std::thread([this] { (void)daemon_->run(); });
  toolstack_ = connect_socket(socket_);
  if (toolstack_.failure()) return fail(errc::peer_closed);
  return {};
}

result<void> simulated_host::start_randomd(server_config cfg) {
  randomd_xs_ = connect_socket(socket_);
  if (randomd_xs_.failure()) return fail(errc::peer_closed);
  auto s = server::create(*dom0_transport_, randomd_xs_, std::move(cfg));
  if (!s) return fail(s.error());
  randomd_ = std::move(*s);
  randomd_thread_ = std::thread([this] { (void)randomd_->run(); });
  return {};
}

result<std::unique_ptr<guest_domain>> simulated_host::add_guest(domid_t d) {
  auto info = host_.create_domain(d, {.xenstore = true, .xenstore_domid = 0});
  if (!info) return fail(info.error());
  auto built = xenstore::run_transaction(toolstack_, [&](xenstore::tx_id tx) -> xenstore::client_result<void> {
    if (auto r = toolstack_.mkdir(home(d), tx); !r) return r;
    if (auto r = toolstack_.set_perms(home(d), {{d, xenstore::perm::none}}, tx); !r) return r;
    if (auto r = toolstack_.write(home(d) + "/name", "guest-" + std::to_string(d), tx); !r) return r;
    return toolstack_.write(home(d) + "/domid", std::to_string(d), tx);
  });
  if (!built) return fail(vchan::to_error_code(built.error()));
  if (auto r = toolstack_.introduce(d, 0, *info->xenstore_port); !r) return fail(vchan::to_error_code(r.error()));
  auto g = std::make_unique<guest_domain>();
  g->domid = d;
  auto t = host_.transport(d);
  if (!t) return fail(t.error());
  g->transport = std::move(*t);
  auto ep = g->transport->take_xenstore();
  if (!ep) return fail(ep.error());
  auto conn = xenstore::connect_ring(std::move(ep->page), std::move(ep->events), ep->port);
  if (!conn) return fail(conn.error());
  auto c = xenstore::client::open(std::move(*conn), {.timeout = 10s});
  if (!c) return fail(vchan::to_error_code(c.error()));
  g->xs = std::move(*c);
  return g;
}

result<void> simulated_host::crash(domid_t d) { return host_.destroy_domain(d); }

result<void> simulated_host::release(guest_domain& g) {
  g.xs.close();
  if (auto r = toolstack_.release(g.domid); !r) return fail(vchan::to_error_code(r.error()));
  return host_.destroy_domain(g.domid);
}

std::vector<std::pair<std::string, std::string>> simulated_host::dump_store() {
  std::vector<std::pair<std::string, std::string>> out;
  std::function<void(const std::string&)> walk = [&](const std::string& path) {
    if (auto v = toolstack_.read(path)) out.emplace_back(path, *v);
    auto kids = toolstack_.directory(path);
    if (!kids) return;
    for (const auto& k : *kids) walk(path == "/" ? "/" + k : path + "/" + k);
  };
  walk("/");
  return out;
}

void simulated_host::shutdown() {
  if (down_) return;
  down_ = true;
  if (randomd_) {
    randomd_->stop();
    if (randomd_thread_.joinable()) randomd_thread_.join();
    randomd_.reset();  // closes its servers (keys removed) while xenstored still runs
  }
  randomd_xs_.close();
  toolstack_.close();
  if (daemon_) {
    daemon_->stop();
    if (daemon_thread_.joinable()) daemon_thread_.join();
    daemon_.reset();
  }
  dom0_transport_.reset();
  (void)host_.destroy_domain(0);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

simulated_host::~simulated_host() { shutdown(); }

}  // namespace xenwire::randomd::testbed
