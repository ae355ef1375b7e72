// The two roles of xenwire-vchan-proxy (server_role.cpp, client_role.cpp): each returns the exit
// status (0: the vchan or the local input ended as vchan-socket-proxy ends; 1: an error, logged).
#pragma once

#include "options.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/vchan/xenstore_rendezvous.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::vchan_proxy {

struct context {
  const options& opts;
  transport& t;
  xenstore::client& xs;
  vchan::xenstore_rendezvous& rdv;
};

int run_server(context& ctx);
int run_client(context& ctx);

// Writes "running" to --state-path, if given (as vchan-socket-proxy, once the proxy is ready).
bool write_state(context& ctx);

}  // namespace xenwire::vchan_proxy
