// The emulated libraries as the dynamic linker sees them: Xen 4.17's sonames, each symbol in the
// version node the real library puts it in (what Debian's binaries ask for), nothing of xenwire's
// leaking out, and, with no host to reach, NULL + errno from the open calls and not a word printed.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cerrno>
#include <string>
#include <vector>

extern "C" {
#include <xenevtchn.h>
#include <xengnttab.h>
}

namespace {

struct versioned {
  const char* name;
  const char* version;
};

// `nm -D --defined-only` of Debian's libxengnttab.so.1.2 / libxenevtchn.so.1.2 (Xen 4.17).
const std::vector<versioned> gnttab_symbols = {
    {"xengnttab_open", "VERS_1.0"},        {"xengnttab_close", "VERS_1.0"},
    {"xengnttab_set_max_grants", "VERS_1.0"}, {"xengnttab_map_grant_ref", "VERS_1.0"},
    {"xengnttab_map_grant_refs", "VERS_1.0"}, {"xengnttab_map_domain_grant_refs", "VERS_1.0"},
    {"xengnttab_map_grant_ref_notify", "VERS_1.0"}, {"xengnttab_unmap", "VERS_1.0"},
    {"xengntshr_open", "VERS_1.0"},        {"xengntshr_close", "VERS_1.0"},
    {"xengntshr_share_pages", "VERS_1.0"}, {"xengntshr_share_page_notify", "VERS_1.0"},
    {"xengntshr_unshare", "VERS_1.0"},     {"xengnttab_grant_copy", "VERS_1.1"},
    {"xengnttab_fd", "VERS_1.2"},          {"xengntshr_fd", "VERS_1.2"},
    {"xengnttab_dmabuf_exp_from_refs", "VERS_1.2"}, {"xengnttab_dmabuf_exp_wait_released", "VERS_1.2"},
    {"xengnttab_dmabuf_imp_to_refs", "VERS_1.2"},   {"xengnttab_dmabuf_imp_release", "VERS_1.2"},
};
const std::vector<versioned> evtchn_symbols = {
    {"xenevtchn_open", "VERS_1.0"},   {"xenevtchn_close", "VERS_1.0"},
    {"xenevtchn_fd", "VERS_1.0"},     {"xenevtchn_notify", "VERS_1.0"},
    {"xenevtchn_bind_unbound_port", "VERS_1.0"}, {"xenevtchn_bind_interdomain", "VERS_1.0"},
    {"xenevtchn_bind_virq", "VERS_1.0"}, {"xenevtchn_unbind", "VERS_1.0"},
    {"xenevtchn_pending", "VERS_1.0"}, {"xenevtchn_unmask", "VERS_1.0"},
    {"xenevtchn_restrict", "VERS_1.1"}, {"xenevtchn_fdopen", "VERS_1.2"},
};
// What Debian's xenstored and vchan-socket-proxy import from libxenctrl.so.4.17.
const std::vector<versioned> xenctrl_symbols = {
    {"xc_interface_open", "VERS_4.17.0"},
    {"xc_interface_close", "VERS_4.17.0"},
    {"xc_domain_getinfo", "VERS_4.17.0"},
};

std::string lib(const char* soname) { return std::string(XENWIRE_EMU_LIB_DIR) + "/" + soname; }

class library {
 public:
  explicit library(const char* soname) : h_(::dlopen(lib(soname).c_str(), RTLD_NOW | RTLD_LOCAL)) {
    EXPECT_NE(h_, nullptr) << ::dlerror();
  }
  ~library() {
    if (h_ != nullptr) ::dlclose(h_);
  }
  library(const library&) = delete;
  library& operator=(const library&) = delete;
  void* get() const { return h_; }
  template <class F>
  F* fn(const char* name, const char* version) const {
    return reinterpret_cast<F*>(::dlvsym(h_, name, version));
  }

 private:
  void* h_;
};

void expect_exports(const char* soname, const std::vector<versioned>& symbols) {
  library l(soname);
  ASSERT_NE(l.get(), nullptr);
  for (const auto& s : symbols) {
    EXPECT_NE(::dlvsym(l.get(), s.name, s.version), nullptr) << soname << ": " << s.name << "@" << s.version;
    for (const char* other : {"VERS_1.0", "VERS_1.1", "VERS_1.2", "VERS_4.17.0"}) {
      if (std::string(other) == s.version) continue;
      EXPECT_EQ(::dlvsym(l.get(), s.name, other), nullptr) << soname << ": " << s.name << " also in " << other;
    }
  }
  // Internals stay inside (hidden visibility + the version script's local: *).
  for (const char* internal : {"xenwire_emu_xc_connect", "_ZN7xenwire3emu17process_transportEv",
                               "_ZN7xenwire16xenwire_categoryEv"}) {
    EXPECT_EQ(::dlsym(l.get(), internal), nullptr) << soname << " exports " << internal;
  }
}

// No host to reach: the calls fail as the real ones do without /dev/xen, and print nothing.
class NoHost : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("XENWIRE_HOST", "/nonexistent/xenwire-emu-test/host.sock", 1);
    ::setenv("XENWIRE_DOMID", "1", 1);
  }
  void TearDown() override {
    ::unsetenv("XENWIRE_HOST");
    ::unsetenv("XENWIRE_DOMID");
  }
};

}  // namespace

TEST(EmuAbi, GnttabHasXensSonameVersionsAndNothingElse) { expect_exports("libxengnttab.so.1", gnttab_symbols); }
TEST(EmuAbi, EvtchnHasXensSonameVersionsAndNothingElse) { expect_exports("libxenevtchn.so.1", evtchn_symbols); }
TEST(EmuAbi, XenctrlHasWhatXenstoredAndVchanSocketProxyImport) { expect_exports("libxenctrl.so.4.17", xenctrl_symbols); }

TEST_F(NoHost, OpenCallsFailWithErrnoAndPrintNothing) {
  library gnttab("libxengnttab.so.1");
  library evtchn("libxenevtchn.so.1");
  library xenctrl("libxenctrl.so.4.17");
  ASSERT_TRUE(gnttab.get() && evtchn.get() && xenctrl.get());
  auto* gnttab_open = gnttab.fn<decltype(xengnttab_open)>("xengnttab_open", "VERS_1.0");
  auto* gntshr_open = gnttab.fn<decltype(xengntshr_open)>("xengntshr_open", "VERS_1.0");
  auto* evtchn_open = evtchn.fn<decltype(xenevtchn_open)>("xenevtchn_open", "VERS_1.0");
  using xc_open_t = void*(void*, void*, unsigned);  // <xenctrl.h> is C only: the ABI by hand
  auto* xc_open = xenctrl.fn<xc_open_t>("xc_interface_open", "VERS_4.17.0");
  ASSERT_TRUE(gnttab_open && gntshr_open && evtchn_open && xc_open);

  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  errno = 0;
  EXPECT_EQ(gnttab_open(nullptr, 0), nullptr);
  const int gnttab_errno = errno;
  errno = 0;
  EXPECT_EQ(gntshr_open(nullptr, 0), nullptr);
  const int gntshr_errno = errno;
  errno = 0;
  EXPECT_EQ(evtchn_open(nullptr, 0), nullptr);
  const int evtchn_errno = errno;
  errno = 0;
  EXPECT_EQ(xc_open(nullptr, nullptr, 0), nullptr);
  const int xc_errno = errno;
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  for (int e : {gnttab_errno, gntshr_errno, evtchn_errno, xc_errno}) EXPECT_NE(e, 0);
}

TEST_F(NoHost, BadArgumentsAreEinvalBeforeAnyConnection) {
  library evtchn("libxenevtchn.so.1");
  ASSERT_NE(evtchn.get(), nullptr);
  auto* evtchn_open = evtchn.fn<decltype(xenevtchn_open)>("xenevtchn_open", "VERS_1.0");
  auto* evtchn_fdopen = evtchn.fn<decltype(xenevtchn_fdopen)>("xenevtchn_fdopen", "VERS_1.2");
  ASSERT_TRUE(evtchn_open && evtchn_fdopen);
  errno = 0;
  EXPECT_EQ(evtchn_open(nullptr, 0x80), nullptr);  // an unknown flag
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(evtchn_fdopen(nullptr, 0, XENEVTCHN_NO_CLOEXEC), nullptr);  // rejected, as by Xen
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(evtchn_fdopen(nullptr, 0, 0), nullptr);  // an fd no handle of ours owns: adopting it needs
  EXPECT_EQ(errno, ENOENT);                            // the host, and there is none
}
