// xenwire::xen: the seam on libxengnttab / libxengntshr / libxenevtchn (see transport.hpp).
#include "xenwire/xen/transport.hpp"

#include <poll.h>
#include <sys/mman.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include <xenevtchn.h>
#include <xengnttab.h>
}

#include "domain_state.hpp"
#include "xenwire/ring/event_wait.hpp"

namespace xenwire::xen {

namespace {

constexpr unsigned virq_dom_exc = 3;  // VIRQ_DOM_EXC, xen/include/public/xen.h

tl::unexpected<std::error_code> fail_errno(xen_call call) noexcept {
  return tl::unexpected<std::error_code>(errno_to_error(call, errno));
}

// Both gnttab handles, shared by the transport and every share/mapping made through them.
struct gnt_handles {
  xengnttab_handle* gnttab = nullptr;
  xengntshr_handle* gntshr = nullptr;
  gnt_handles() = default;
  gnt_handles(const gnt_handles&) = delete;
  gnt_handles& operator=(const gnt_handles&) = delete;
  ~gnt_handles() {
    if (gntshr != nullptr) xengntshr_close(gntshr);
    if (gnttab != nullptr) xengnttab_close(gnttab);
  }
};

// libxen's "none" for an unmap-notify's offset and port.
constexpr std::uint32_t no_offset = static_cast<std::uint32_t>(-1);
constexpr ::evtchn_port_t no_port = static_cast<::evtchn_port_t>(-1);

class xen_shared_pages final : public shared_pages {
 public:
  xen_shared_pages(std::shared_ptr<gnt_handles> h, void* addr, std::vector<grant_ref_t> refs, domid_t peer)
      : h_(std::move(h)), addr_(addr), refs_(std::move(refs)), peer_(peer) {}
  ~xen_shared_pages() override {
    // xengntshr_unshare: munmap; gntalloc frees each ref once the peer has unmapped it.
    xengntshr_unshare(h_->gntshr, addr_, static_cast<std::uint32_t>(refs_.size()));
  }
  std::span<std::byte> bytes() noexcept override { return {static_cast<std::byte*>(addr_), refs_.size() * page_size}; }
  std::span<const grant_ref_t> refs() const noexcept override { return refs_; }
  domid_t peer() const noexcept override { return peer_; }

 private:
  std::shared_ptr<gnt_handles> h_;
  void* addr_;
  std::vector<grant_ref_t> refs_;
  domid_t peer_;
};

class xen_mapped_pages final : public mapped_pages {
 public:
  xen_mapped_pages(std::shared_ptr<gnt_handles> h, void* addr, std::size_t pages, access mode, domid_t peer)
      : h_(std::move(h)), addr_(addr), pages_(pages), mode_(mode), peer_(peer) {}
  ~xen_mapped_pages() override { xengnttab_unmap(h_->gnttab, addr_, static_cast<std::uint32_t>(pages_)); }
  std::span<std::byte> bytes() noexcept override { return {static_cast<std::byte*>(addr_), pages_ * page_size}; }
  access mode() const noexcept override { return mode_; }
  domid_t peer() const noexcept override { return peer_; }

 private:
  std::shared_ptr<gnt_handles> h_;
  void* addr_;
  std::size_t pages_;
  access mode_;
  domid_t peer_;
};

result<void> check_notify(const unmap_notify& notify, std::size_t pages) {
  if (!notify.clear_byte && !notify.port) return {};
  if (notify.clear_byte && *notify.clear_byte >= page_size) return fail(errc::invalid_argument);
  if (pages != 1) return fail(errc::not_supported);  // libxen notifies on one-page shares/maps only
  return {};
}

class xen_grant_table final : public grant_table {
 public:
  explicit xen_grant_table(std::shared_ptr<gnt_handles> h) : h_(std::move(h)) {}

  result<std::unique_ptr<shared_pages>> share(domid_t peer, std::size_t pages, access peer_access,
                                              unmap_notify notify) override {
    if (pages == 0 || pages > INT_MAX / page_size || peer >= domid_first_reserved) return fail(errc::invalid_argument);
    if (auto ok = check_notify(notify, pages); !ok) return fail(ok.error());
    std::vector<grant_ref_t> refs(pages);
    const int writable = peer_access == access::read_write ? 1 : 0;
    void* addr = nullptr;
    if (notify.clear_byte || notify.port) {
      addr = xengntshr_share_page_notify(h_->gntshr, peer, refs.data(), writable,
                                         notify.clear_byte ? static_cast<std::uint32_t>(*notify.clear_byte) : no_offset,
                                         notify.port ? *notify.port : no_port);
    } else {
      addr = xengntshr_share_pages(h_->gntshr, peer, static_cast<int>(pages), refs.data(), writable);
    }
    if (addr == nullptr) return fail_errno(xen_call::share);
    return std::make_unique<xen_shared_pages>(h_, addr, std::move(refs), peer);
  }

  result<std::unique_ptr<mapped_pages>> map(domid_t peer, std::span<const grant_ref_t> refs, access mode,
                                            unmap_notify notify) override {
    if (refs.empty() || refs.size() > INT_MAX / page_size || peer >= domid_first_reserved) {
      return fail(errc::invalid_argument);
    }
    if (auto ok = check_notify(notify, refs.size()); !ok) return fail(ok.error());
    // gntdev refuses UNMAP_NOTIFY_CLEAR_BYTE on a read-only mapping (EINVAL); say why, as sim does.
    if (mode == access::read_only && notify.clear_byte) return fail(errc::read_only);
    const int prot = mode == access::read_write ? PROT_READ | PROT_WRITE : PROT_READ;
    void* addr = nullptr;
    if (notify.clear_byte || notify.port) {
      addr = xengnttab_map_grant_ref_notify(h_->gnttab, peer, refs[0], prot,
                                            notify.clear_byte ? static_cast<std::uint32_t>(*notify.clear_byte) : no_offset,
                                            notify.port ? *notify.port : no_port);
    } else {
      std::vector<std::uint32_t> copy(refs.begin(), refs.end());  // the C API takes a non-const array
      addr = xengnttab_map_domain_grant_refs(h_->gnttab, static_cast<std::uint32_t>(copy.size()), peer, copy.data(),
                                             prot);
    }
    if (addr == nullptr) return fail_errno(xen_call::map);
    return std::make_unique<xen_mapped_pages>(h_, addr, refs.size(), mode, peer);
  }

 private:
  std::shared_ptr<gnt_handles> h_;
};

// The next pending port of a handle without blocking, unmasked again: the driver masked it when it
// delivered it, and the seam's ports stay armed. Polls first: xenevtchn_pending blocks when nothing
// is pending, even on a non-blocking fd. A port unbound meanwhile makes unmask fail (ENOTCONN) or
// be ignored: the event is still ours.
result<std::optional<evtchn_port_t>> take_pending(xenevtchn_handle* h) {
  pollfd p{xenevtchn_fd(h), POLLIN, 0};
  const int n = ::poll(&p, 1, 0);
  if (n < 0) return errno == EINTR ? result<std::optional<evtchn_port_t>>(std::nullopt) : fail_errno(xen_call::pending);
  if (n == 0) return std::nullopt;
  const auto port = xenevtchn_pending(h);
  if (port < 0) {
    if (errno == EAGAIN || errno == EINTR) return std::nullopt;
    return fail_errno(xen_call::pending);
  }
  xenevtchn_unmask(h, static_cast<::evtchn_port_t>(port));
  return static_cast<evtchn_port_t>(port);
}

class xen_event_channel final : public event_channel {
 public:
  explicit xen_event_channel(xenevtchn_handle* h) : h_(h) {}
  ~xen_event_channel() override { xenevtchn_close(h_); }  // unbinds every port of the handle
  xen_event_channel(const xen_event_channel&) = delete;
  xen_event_channel& operator=(const xen_event_channel&) = delete;

  result<evtchn_port_t> bind_unbound(domid_t remote) override {
    const auto p = xenevtchn_bind_unbound_port(h_, remote);
    if (p < 0) return fail_errno(xen_call::bind_unbound);
    return remember(static_cast<evtchn_port_t>(p));
  }
  result<evtchn_port_t> bind_interdomain(domid_t remote, evtchn_port_t remote_port) override {
    const auto p = xenevtchn_bind_interdomain(h_, remote, remote_port);
    if (p < 0) return fail_errno(xen_call::bind_interdomain);
    return remember(static_cast<evtchn_port_t>(p));
  }
  result<void> unbind(evtchn_port_t port) override {
    if (xenevtchn_unbind(h_, port) != 0) return fail_errno(xen_call::unbind);
    std::lock_guard lock(mutex_);
    ports_.erase(port);
    return {};
  }
  result<void> notify(evtchn_port_t port) override {
    if (xenevtchn_notify(h_, port) != 0) return fail_errno(xen_call::notify);
    return {};
  }
  result<std::optional<evtchn_port_t>> pending() override { return take_pending(h_); }
  result<evtchn_port_t> wait(std::chrono::milliseconds timeout) override {
    pollfd fds[] = {{xenevtchn_fd(h_), POLLIN, 0}};
    return wait_for_event([this] { return pending(); }, fds, timeout);
  }
  result<void> mask(evtchn_port_t) override { return fail(errc::not_supported); }  // libxenevtchn: no mask
  result<void> unmask(evtchn_port_t port) override {
    if (xenevtchn_unmask(h_, port) != 0) return fail_errno(xen_call::unmask);
    return {};
  }
  result<port_state> state(evtchn_port_t port) override {
    std::lock_guard lock(mutex_);
    if (!ports_.contains(port)) return fail(errc::bad_port);
    return fail(errc::not_supported);  // libxenevtchn has no EVTCHNOP_status
  }
  int fd() const noexcept override { return xenevtchn_fd(h_); }

 private:
  evtchn_port_t remember(evtchn_port_t port) {
    std::lock_guard lock(mutex_);
    ports_.insert(port);
    return port;
  }

  xenevtchn_handle* h_;
  std::mutex mutex_;
  std::set<evtchn_port_t> ports_;  // bound through this handle (for state()'s bad_port)
};

// VIRQ_DOM_EXC on its own handle, and the domains' states from libxenmanage or libxenctrl.
class xen_domain_watch final : public domain_watch {
 public:
  xen_domain_watch(xenevtchn_handle* h, std::unique_ptr<domain_state_source> states)
      : h_(h), states_(std::move(states)) {}
  ~xen_domain_watch() override { xenevtchn_close(h_); }
  xen_domain_watch(const xen_domain_watch&) = delete;
  xen_domain_watch& operator=(const xen_domain_watch&) = delete;

  int fd() const noexcept override { return xenevtchn_fd(h_); }
  result<bool> consume() override {
    return drain_events([this] { return take_pending(h_); });
  }
  result<domain_life> life(domid_t domid) override { return states_->life(domid); }

 private:
  xenevtchn_handle* h_;
  std::unique_ptr<domain_state_source> states_;
};

}  // namespace

struct transport::impl {
  domid_t self;
  std::shared_ptr<gnt_handles> handles;
  xen_grant_table grants;
};

result<domid_t> discover_domid() {
  if (const char* env = std::getenv("XENWIRE_DOMID"); env != nullptr && *env != '\0') {
    unsigned value = 0;
    const char* end = env + std::strlen(env);
    const auto [ptr, ec] = std::from_chars(env, end, value);
    if (ec != std::errc{} || ptr != end || value >= domid_first_reserved) return fail(errc::invalid_argument);
    return static_cast<domid_t>(value);
  }
  std::ifstream caps("/proc/xen/capabilities");
  std::string word;
  while (caps >> word) {
    if (word == "control_d") return domid_t{0};
  }
  return fail(errc::not_supported);
}

result<std::unique_ptr<transport>> transport::open(transport_options options) {
  domid_t self = 0;
  if (options.domid) {
    if (*options.domid >= domid_first_reserved) return fail(errc::invalid_argument);
    self = *options.domid;
  } else {
    auto d = discover_domid();
    if (!d) return fail(d.error());
    self = *d;
  }
  auto handles = std::make_shared<gnt_handles>();
  handles->gnttab = xengnttab_open(nullptr, 0);
  if (handles->gnttab == nullptr) return fail_errno(xen_call::open);
  handles->gntshr = xengntshr_open(nullptr, 0);
  if (handles->gntshr == nullptr) return fail_errno(xen_call::open);
  auto p = std::unique_ptr<impl>(new impl{self, handles, xen_grant_table(handles)});
  return std::unique_ptr<transport>(new transport(std::move(p)));
}

transport::transport(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
transport::~transport() = default;

domid_t transport::self() const noexcept { return impl_->self; }
grant_table& transport::grants() noexcept { return impl_->grants; }

result<std::unique_ptr<event_channel>> transport::open_event_channel() {
  xenevtchn_handle* h = xenevtchn_open(nullptr, 0);
  if (h == nullptr) return fail_errno(xen_call::open);
  return std::make_unique<xen_event_channel>(h);
}

result<std::unique_ptr<event_channel>> transport::open_event_channel_for_exec() {
  xenevtchn_handle* h = xenevtchn_open(nullptr, XENEVTCHN_NO_CLOEXEC);
  if (h == nullptr) return fail_errno(xen_call::open);
  return std::make_unique<xen_event_channel>(h);
}

result<std::unique_ptr<event_channel>> transport::adopt_event_channel(int fd) {
  xenevtchn_handle* h = xenevtchn_fdopen(nullptr, fd, 0);
  if (h == nullptr) return fail_errno(xen_call::open);
  return std::make_unique<xen_event_channel>(h);
}

}  // namespace xenwire::xen

namespace xenwire::xen {

result<std::unique_ptr<domain_watch>> transport::watch_domains() {
  if (impl_->self != 0) return fail(errc::permission_denied);
  auto states = open_domain_state_source();
  if (!states) return fail(states.error());
  xenevtchn_handle* h = xenevtchn_open(nullptr, 0);
  if (h == nullptr) return fail_errno(xen_call::open);
  if (xenevtchn_bind_virq(h, virq_dom_exc) < 0) {
    const int err = errno;
    xenevtchn_close(h);
    return fail(errno_to_error(xen_call::bind_virq, err));
  }
  return std::make_unique<xen_domain_watch>(h, std::move(*states));
}

}  // namespace xenwire::xen
