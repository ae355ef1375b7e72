// struct xenstore_domain_interface (xen/include/public/io/xs_wire.h), pinned byte for byte.
// The one place that decides these offsets and constants.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xenwire::xenstore {

inline constexpr std::uint32_t ring_size = 1024;  // XENSTORE_RING_SIZE
inline constexpr std::uint32_t payload_max = 4096;  // XENSTORE_PAYLOAD_MAX
inline constexpr std::uint32_t abs_path_max = 3072;  // XENSTORE_ABS_PATH_MAX
inline constexpr std::uint32_t rel_path_max = 2048;  // XENSTORE_REL_PATH_MAX

namespace feature {
inline constexpr std::uint32_t reconnection = 1;  // XENSTORE_SERVER_FEATURE_RECONNECTION
inline constexpr std::uint32_t error = 2;         // XENSTORE_SERVER_FEATURE_ERROR
inline constexpr std::uint32_t watch_depth = 4;   // XENSTORE_SERVER_FEATURE_WATCHDEPTH (upstream)
inline constexpr std::uint32_t domid_any = 8;     // XENSTORE_SERVER_FEATURE_DOMID_ANY (upstream)
}  // namespace feature

enum class connection_state : std::uint32_t { connected = 0, reconnect = 1 };
enum class ring_error : std::uint32_t { none = 0, comm = 1, ringidx = 2, proto = 3 };

struct domain_interface {
  char req[ring_size];  // guest -> server
  char rsp[ring_size];  // server -> guest (replies and watch events)
  std::uint32_t req_cons, req_prod;
  std::uint32_t rsp_cons, rsp_prod;
  std::uint32_t server_features;
  std::uint32_t connection;
  std::uint32_t error;
  std::uint32_t evtchn_port;  // upstream 2025 addition; absent in 4.17 (then always 0)
};

static_assert(offsetof(domain_interface, req) == 0);
static_assert(offsetof(domain_interface, rsp) == 1024);
static_assert(offsetof(domain_interface, req_cons) == 2048);
static_assert(offsetof(domain_interface, req_prod) == 2052);
static_assert(offsetof(domain_interface, rsp_cons) == 2056);
static_assert(offsetof(domain_interface, rsp_prod) == 2060);
static_assert(offsetof(domain_interface, server_features) == 2064);
static_assert(offsetof(domain_interface, connection) == 2068);
static_assert(offsetof(domain_interface, error) == 2072);
static_assert(offsetof(domain_interface, evtchn_port) == 2076);
static_assert(sizeof(domain_interface) == 2080);
static_assert((ring_size & (ring_size - 1)) == 0, "indices are masked, so the size is a power of two");

}  // namespace xenwire::xenstore
