#include "xenwire/backend/backend.hpp"

#include <unistd.h>

#include <cstdlib>

#include "xenwire/sim/host_paths.hpp"
#include "xenwire/sim/remote.hpp"
#ifdef XENWIRE_HAVE_XEN_BACKEND
#include "xenwire/xen/bootstrap.hpp"
#include "xenwire/xen/transport.hpp"
#endif

namespace xenwire::backend {

const char* to_string(kind k) noexcept { return k == kind::xen ? "xen" : "sim"; }

result<kind> parse(std::string_view name) {
  if (name == "xen") return kind::xen;
  if (name == "sim") return kind::sim;
  return fail(errc::invalid_argument);
}

result<kind> default_kind() {
  if (const char* env = std::getenv("XENWIRE_BACKEND"); env != nullptr && *env != '\0') return parse(env);
  return ::access("/dev/xen/evtchn", F_OK) == 0 ? kind::xen : kind::sim;
}

bool xen_built() noexcept {
#ifdef XENWIRE_HAVE_XEN_BACKEND
  return true;
#else
  return false;
#endif
}

result<std::unique_ptr<transport>> open(kind k, open_options options) {
  if (k == kind::sim) {
    auto t = sim::remote_transport::connect({.socket = {}, .domid = options.domid, .mode = sim::membership::member});
    if (!t) return tl::unexpected(t.error());
    return std::unique_ptr<transport>(std::move(*t));
  }
#ifdef XENWIRE_HAVE_XEN_BACKEND
  auto t = xen::transport::open({.domid = options.domid});
  if (!t) return tl::unexpected(t.error());
  return std::unique_ptr<transport>(std::move(*t));
#else
  return fail(errc::not_supported);
#endif
}

result<own_ring> open_own_xenstore_ring(kind k) {
  if (k != kind::xen) return fail(errc::not_supported);
#ifdef XENWIRE_HAVE_XEN_BACKEND
  auto local = xen::open_local_xenbus();
  if (!local) return fail(local.error());
  return own_ring{std::move(local->page), local->port};
#else
  return fail(errc::not_supported);
#endif
}

std::string describe(kind k) {
  if (k == kind::xen) return "xen (libxengnttab/libxengntshr/libxenevtchn)";
  return "sim (host at " + sim::default_host_socket().string() + ")";
}

}  // namespace xenwire::backend
