#include "xenwire/testbed/simulated_host.hpp"

#include <stdlib.h>

#include <cerrno>

#include "xenwire/xenstore/client/connection.hpp"
#include "xenwire/xenstore/client/helpers.hpp"
#include "xenwire/xenstore/path.hpp"

namespace xenwire::testbed {

xenstore::client_result<void> write_and_introduce(xenstore::client& toolstack, const domain_spec& spec,
                                                  evtchn_port_t port) {
  const domid_t d = spec.domid;
  const std::string home = xenstore::domain_home(d);
  // As libxl: the home first, owned by the guest (nodes dom0 then writes below inherit that), all
  // in one transaction.
  auto built = xenstore::run_transaction(toolstack, [&](xenstore::tx_id tx) -> xenstore::client_result<void> {
    if (auto r = toolstack.mkdir(home, tx); !r) return r;
    if (auto r = toolstack.set_perms(home, {{d, xenstore::perm::none}}, tx); !r) return r;
    if (spec.identity) {
      if (auto r = toolstack.write(home + "/name", "guest-" + std::to_string(d), tx); !r) return r;
      if (auto r = toolstack.write(home + "/domid", std::to_string(d), tx); !r) return r;
    }
    if (spec.extra) return spec.extra(toolstack, tx);
    return {};
  });
  if (!built) return built;
  return toolstack.introduce(d, 0, port);
}

xenstore::client_result<sim::domain_info> build_domain(sim::host& host, xenstore::client& toolstack,
                                                       const domain_spec& spec) {
  auto info = host.create_domain(spec.domid, {.xenstore = true, .xenstore_domid = 0});
  if (!info) return xenstore::client_fail(info.error());
  if (auto r = write_and_introduce(toolstack, spec, *info->xenstore_port); !r) return xenstore::client_fail(r.error());
  return *info;
}

xenstore::client_result<std::unique_ptr<guest_domain>> connect_guest(sim::host& host, domid_t domid,
                                                                     xenstore::client_options opts) {
  auto g = std::make_unique<guest_domain>();
  g->domid = domid;
  auto t = host.transport(domid);
  if (!t) return xenstore::client_fail(t.error());
  g->transport = std::move(*t);
  auto ep = g->transport->take_xenstore();
  if (!ep) return xenstore::client_fail(ep.error());
  auto conn = xenstore::connect_ring(std::move(ep->page), std::move(ep->events), ep->port);
  if (!conn) return xenstore::client_fail(conn.error());
  auto c = xenstore::client::open(std::move(*conn), opts);
  if (!c) return xenstore::client_fail(c.error());
  g->xs = std::move(*c);
  return g;
}

result<std::unique_ptr<simulated_host>> simulated_host::create(host_options opts) {
  std::unique_ptr<simulated_host> h(new simulated_host(std::move(opts)));
  if (auto r = h->host_.create_domain(0); !r) return fail(r.error());
  auto t = h->host_.transport(0);
  if (!t) return fail(t.error());
  h->dom0_transport_ = std::move(*t);
  if (h->opts_.socket_path.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "xenwire-testbed-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return fail(std::error_code(errno, std::system_category()));
    h->dir_ = tmpl;
    h->socket_ = (h->dir_ / "socket").string();
  } else {
    h->socket_ = h->opts_.socket_path;
  }
  if (h->opts_.start_xenstored)
    if (auto r = h->start_xenstored(); !r) return fail(r.error());
  return h;
}

result<void> simulated_host::start_xenstored(std::optional<xenstore::server_config> config) {
  (void)stop_xenstored();
  xenstore::daemon_settings settings;
  settings.socket_path = socket_;
  settings.stop_on_signals = false;
  settings.config = config ? *config : opts_.xenstored;
  xenstore::log_sink log = opts_.log ? opts_.log : [](xenstore::log_level, std::string_view) {};
  auto d = xenstore::xenstored::create(std::move(settings), dom0_transport_.get(), std::move(log));
  if (!d) return fail(d.error());
  daemon_ = std::move(*d);
  daemon_thread_ = std::thread([this] { (void)daemon_->run(); });
  auto c = connect(opts_.clients);
  if (!c) return fail(errc::peer_closed);
  toolstack_ = std::move(*c);
  return {};
}

std::optional<xenstore::core_stats> simulated_host::stop_xenstored() {
  toolstack_.close();
  if (!daemon_) return std::nullopt;
  daemon_->stop();
  if (daemon_thread_.joinable()) daemon_thread_.join();
  const auto stats = daemon_->core().stats();
  daemon_.reset();
  return stats;
}

xenstore::client_result<xenstore::client> simulated_host::connect(xenstore::client_options opts) {
  auto conn = xenstore::connect_unix_socket(socket_);
  if (!conn) return xenstore::client_fail(conn.error());
  return xenstore::client::open(std::move(*conn), opts);
}

xenstore::client_result<std::unique_ptr<guest_domain>> simulated_host::add_guest(domid_t d) {
  domain_spec spec;
  spec.domid = d;
  if (auto built = build_domain(host_, toolstack_, spec); !built) return xenstore::client_fail(built.error());
  return connect_guest(host_, d, opts_.clients);
}

result<void> simulated_host::crash(domid_t d) { return host_.destroy_domain(d); }

xenstore::client_result<void> simulated_host::release(guest_domain& g) {
  g.xs.close();
  if (auto r = toolstack_.release(g.domid); !r) return r;
  if (auto r = host_.destroy_domain(g.domid); !r) return xenstore::client_fail(r.error());
  return {};
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
  (void)stop_xenstored();
  dom0_transport_.reset();
  (void)host_.destroy_domain(0);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

simulated_host::~simulated_host() { shutdown(); }

}  // namespace xenwire::testbed
