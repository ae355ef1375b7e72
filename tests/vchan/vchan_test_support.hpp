// Shared helpers for the vchan tests: a simulated host with a server and a client domain, an
// in-memory rendezvous, byte helpers.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "xenwire/ring/vchan_layout.hpp"
#include "xenwire/sim/host.hpp"
#include "xenwire/vchan/endpoint.hpp"
#include "xenwire/vchan/memory_rendezvous.hpp"

namespace xenwire::vchan::testing {

inline constexpr domid_t server_dom = 3;
inline constexpr domid_t client_dom = 7;

inline std::vector<std::byte> pattern(std::size_t n, std::uint32_t seed = 1) {
  std::vector<std::byte> v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b = static_cast<std::byte>(x);
  }
  return v;
}

inline io_options non_blocking() { return {.mode = io_mode::non_blocking}; }
inline io_options blocking_for(std::chrono::milliseconds t) { return {.mode = io_mode::blocking, .timeout = t}; }

struct two_domains {
  two_domains() {
    EXPECT_TRUE(host.create_domain(server_dom));
    EXPECT_TRUE(host.create_domain(client_dom));
    srv = host.transport(server_dom).value();
    cli = host.transport(client_dom).value();
  }
  std::string path(std::string_view name = "test") const { return default_path(server_dom, client_dom, name); }
  server_config server_cfg(std::size_t read_min = 1024, std::size_t write_min = 2048, io_options io = non_blocking()) const {
    return {.client = client_dom, .path = path(), .read_min = read_min, .write_min = write_min, .io = io};
  }
  client_config client_cfg(io_options io = non_blocking()) const {
    return {.server = server_dom, .path = path(), .io = io};
  }
  endpoint serve(std::size_t read_min = 1024, std::size_t write_min = 2048, io_options io = non_blocking()) {
    auto ep = endpoint::serve(*srv, rdv, server_cfg(read_min, write_min, io));
    EXPECT_TRUE(ep) << ep.error().message();
    return std::move(*ep);
  }
  endpoint connect(io_options io = non_blocking()) {
    auto ep = endpoint::connect(*cli, rdv, client_cfg(io));
    EXPECT_TRUE(ep) << ep.error().message();
    return std::move(*ep);
  }
  // The client's own raw view of the server's control page, to play a hostile client.
  std::unique_ptr<mapped_pages> map_control() {
    auto k = rdv.read(path()).value().value();
    return cli->grants().map(server_dom, std::span(&k.ring_ref, 1), access::read_write).value();
  }

  sim::host host;
  std::unique_ptr<sim::domain_transport> srv, cli;
  memory_rendezvous rdv;
};

// A field of a control page.
template <class T>
T* at(std::span<std::byte> page, std::size_t offset) {
  return reinterpret_cast<T*>(page.data() + offset);
}

}  // namespace xenwire::vchan::testing
