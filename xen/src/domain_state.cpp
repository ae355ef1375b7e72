#include "domain_state.hpp"

#include <dlfcn.h>

#include <cerrno>
#include <cstdint>

#include "xenctrl_dominfo.h"

#include "xenwire/xen/transport.hpp"

namespace xenwire::xen {

namespace {

// dlopen'ed library, closed with its handle.
struct library_handle {
  void* h = nullptr;
  explicit library_handle(const char* soname) : h(::dlopen(soname, RTLD_NOW | RTLD_LOCAL)) {}
  library_handle(const library_handle&) = delete;
  library_handle& operator=(const library_handle&) = delete;
  ~library_handle() {
    if (h != nullptr) ::dlclose(h);
  }
  template <class F>
  F* symbol(const char* name) const {
    return reinterpret_cast<F*>(::dlsym(h, name));  // NOLINT: dlsym's API
  }
};

// xenmanage.h (Xen 4.21+), declared here: Debian's libxen-dev (4.17) has no such header.
constexpr unsigned xenmanage_exist = 0x1, xenmanage_shutdown = 0x2, xenmanage_dying = 0x4, xenmanage_dead = 0x8;
using xenmanage_open_fn = void*(void* logger, unsigned flags);
using xenmanage_close_fn = int(void* h);
using xenmanage_info_fn = int(void* h, unsigned domid, unsigned* state, unsigned* caps, std::uint64_t* unique_id);

class xenmanage_source final : public domain_state_source {
 public:
  static std::unique_ptr<xenmanage_source> open() {
    auto lib = std::make_unique<library_handle>("libxenmanage.so.1");
    if (lib->h == nullptr) return nullptr;
    auto* open_fn = lib->symbol<xenmanage_open_fn>("xenmanage_open");
    auto* close_fn = lib->symbol<xenmanage_close_fn>("xenmanage_close");
    auto* info_fn = lib->symbol<xenmanage_info_fn>("xenmanage_get_domain_info");
    if (open_fn == nullptr || close_fn == nullptr || info_fn == nullptr) return nullptr;
    void* h = open_fn(nullptr, 0);
    if (h == nullptr) return nullptr;
    return std::unique_ptr<xenmanage_source>(new xenmanage_source(std::move(lib), h, close_fn, info_fn));
  }
  ~xenmanage_source() override { close_(h_); }
  xenmanage_source(const xenmanage_source&) = delete;
  xenmanage_source& operator=(const xenmanage_source&) = delete;

  result<domain_life> life(domid_t domid) override {
    unsigned state = 0;
    if (info_(h_, domid, &state, nullptr, nullptr) != 0) {
      if (errno == ENOENT || errno == ESRCH) return domain_life::dead;
      return fail(errno_to_error(xen_call::domain_info, errno));
    }
    if ((state & xenmanage_exist) == 0 || (state & xenmanage_dead) != 0) return domain_life::dead;
    if ((state & xenmanage_dying) != 0) return domain_life::dying;
    if ((state & xenmanage_shutdown) != 0) return domain_life::shutdown;
    return domain_life::running;
  }
  const char* library() const noexcept override { return "libxenmanage.so.1"; }

 private:
  xenmanage_source(std::unique_ptr<library_handle> lib, void* h, xenmanage_close_fn* c, xenmanage_info_fn* i)
      : lib_(std::move(lib)), h_(h), close_(c), info_(i) {}
  std::unique_ptr<library_handle> lib_;
  void* h_;
  xenmanage_close_fn* close_;
  xenmanage_info_fn* info_;
};

using xc_open_fn = void*(void* logger, void* dombuild_logger, unsigned flags);
using xc_close_fn = int(void* xch);

class xenctrl_source final : public domain_state_source {
 public:
  static std::unique_ptr<xenctrl_source> open() {
    auto lib = std::make_unique<library_handle>("libxenctrl.so.4.17");
    if (lib->h == nullptr) return nullptr;
    auto* open_fn = lib->symbol<xc_open_fn>("xc_interface_open");
    auto* close_fn = lib->symbol<xc_close_fn>("xc_interface_close");
    auto* info_fn = reinterpret_cast<xenwire_xc_getinfo_fn>(::dlsym(lib->h, "xc_domain_getinfo"));  // NOLINT: dlsym
    if (open_fn == nullptr || close_fn == nullptr || info_fn == nullptr) return nullptr;
    void* h = open_fn(nullptr, nullptr, 0);
    if (h == nullptr) return nullptr;
    return std::unique_ptr<xenctrl_source>(new xenctrl_source(std::move(lib), h, close_fn, info_fn));
  }
  ~xenctrl_source() override { close_(h_); }
  xenctrl_source(const xenctrl_source&) = delete;
  xenctrl_source& operator=(const xenctrl_source&) = delete;

  result<domain_life> life(domid_t domid) override {
    int dying = 0, shutdown = 0;
    const int found = xenwire_xc_domain_flags(getinfo_, h_, domid, &dying, &shutdown);
    if (found < 0) {
      if (errno == ESRCH) return domain_life::dead;
      return fail(errno_to_error(xen_call::domain_info, errno));
    }
    if (found == 0) return domain_life::dead;
    if (dying != 0) return domain_life::dying;
    if (shutdown != 0) return domain_life::shutdown;
    return domain_life::running;
  }
  const char* library() const noexcept override { return "libxenctrl.so.4.17"; }

 private:
  xenctrl_source(std::unique_ptr<library_handle> lib, void* h, xc_close_fn* c, xenwire_xc_getinfo_fn getinfo)
      : lib_(std::move(lib)), h_(h), close_(c), getinfo_(getinfo) {}
  std::unique_ptr<library_handle> lib_;
  void* h_;
  xc_close_fn* close_;
  xenwire_xc_getinfo_fn getinfo_;  // xc_domain_getinfo, called by xenctrl_dominfo.c
};

}  // namespace

result<std::unique_ptr<domain_state_source>> open_domain_state_source() {
  if (auto s = xenmanage_source::open()) return std::unique_ptr<domain_state_source>(std::move(s));
  if (auto s = xenctrl_source::open()) return std::unique_ptr<domain_state_source>(std::move(s));
  return fail(errc::not_supported);
}

}  // namespace xenwire::xen
