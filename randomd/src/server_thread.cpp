#include "xenwire/randomd/server_thread.hpp"

namespace xenwire::randomd {

result<std::unique_ptr<server_thread>> server_thread::start(transport& t, xenstore::client xs, server_config cfg) {
  std::unique_ptr<server_thread> st(new server_thread());
  st->xs_ = std::move(xs);
  if (st->xs_.failure()) return fail(errc::peer_closed);
  auto s = server::create(t, st->xs_, std::move(cfg));
  if (!s) return fail(s.error());
  st->server_ = std::move(*s);
  st->thread_ = std::thread([p = st->server_.get()] { (void)p->run(); });
  return st;
}

void server_thread::stop() noexcept {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

server_thread::~server_thread() {
  stop();
  server_.reset();  // closes its vchan servers (removing their keys) while the connection still works
  xs_.close();
}

}  // namespace xenwire::randomd
