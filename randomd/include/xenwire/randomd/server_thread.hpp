// randomd as dom0 runs it: a server on a thread of its own, with a Xenstore connection of its own.
//
//   auto rd = randomd::server_thread::start(dom0_transport, std::move(dom0_client), cfg).value();
//   ... rd->get().stats() ...
//   rd.reset();   // stops the loop, closes every guest's vchan server (removing its keys), then the connection
#pragma once

#include <memory>
#include <thread>

#include "xenwire/randomd/server.hpp"

namespace xenwire::randomd {

class server_thread {
 public:
  // `t` (the serving domain's transport) must outlive the server_thread; `xs` becomes the server's.
  static result<std::unique_ptr<server_thread>> start(transport& t, xenstore::client xs, server_config cfg = {});
  ~server_thread();  // stop(), then the server's destructor, then the connection closes
  server_thread(const server_thread&) = delete;
  server_thread& operator=(const server_thread&) = delete;

  // Stops the loop and joins its thread; the server (its stats, its vchan servers) stays until
  // destruction. Idempotent.
  void stop() noexcept;
  server& get() noexcept { return *server_; }

 private:
  server_thread() = default;

  xenstore::client xs_;  // before server_: the server's watches and calls use it until it is gone
  std::unique_ptr<server> server_;
  std::thread thread_;
};

}  // namespace xenwire::randomd
