// xenwire-randomd serve/fetch on the cross-process host (labels `emu interop`): randomd serving as
// a process of dom0 (`xenwire-host run --domid 0`), guests fetching from dom1/dom2, on --backend xen
// (the libxen emulation) and --backend sim; and a fetch with nobody serving timing out cleanly.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "emu_host_support.hpp"

namespace {

using namespace xenwire::emu_test;

class RandomdOnHost : public EmuHost {
 protected:
  // `xenwire-host run --domid D -- xenwire-randomd ARGS` with stdout and stderr to files;
  // `xs_socket` is the Xenstore socket the process talks to.
  pid_t randomd(int domid, const std::string& xs_socket, std::vector<std::string> args, const std::string& name) {
    std::vector<std::string> argv = {XENWIRE_HOST_BIN, "--host", name_, "run", "--domid", std::to_string(domid), "--",
                                     XENWIRE_RANDOMD_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    const auto out = out_path(name), err = err_path(name);
    ::posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::setenv("XENSTORED_PATH", xs_socket.c_str(), 1);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
    ::unsetenv("XENSTORED_PATH");
    ::posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : -1;
  }
  std::string out_path(const std::string& name) const { return (dir_ / (name + ".out")).string(); }
  std::string err_path(const std::string& name) const { return (dir_ / (name + ".err")).string(); }

  // Runs a fetch to its end: {exit status, stdout}.
  std::pair<int, std::string> fetch(int domid, const std::vector<std::string>& args, const std::string& name) {
    std::vector<std::string> full = {"fetch"};
    full.insert(full.end(), args.begin(), args.end());
    const pid_t p = randomd(domid, guest_socket(domid), full, name);
    if (p < 0) return {-1, {}};
    const int status = wait_for(p, 30s);
    return {status, read_text(out_path(name))};
  }
};

bool is_hex(const std::string& s) { return s.find_first_not_of("0123456789abcdef") == std::string::npos; }

TEST_F(RandomdOnHost, ServeInDom0FetchInGuests) {
  const pid_t serve = randomd(0, paths_.xenstored_socket.string(), {"serve", "--backend", "xen", "-v"}, "serve");
  ASSERT_GT(serve, 0);

  auto [s1, first] = fetch(2, {"--backend", "xen", "--bytes", "64"}, "fetch1");
  EXPECT_EQ(s1, 0) << read_text(err_path("fetch1")) << "\nrandomd: " << read_text(err_path("serve"));
  auto [s2, second] = fetch(2, {"--backend", "xen", "--bytes", "64", "--timeout-ms", "5000"}, "fetch2");
  EXPECT_EQ(s2, 0) << read_text(err_path("fetch2"));
  EXPECT_EQ(first.size(), 129u) << first;  // 64 bytes in hex and a newline
  EXPECT_EQ(second.size(), 129u) << second;
  EXPECT_TRUE(is_hex(first.substr(0, 128))) << first;
  EXPECT_NE(first, second);

  auto [s3, raw] = fetch(1, {"--backend", "sim", "--bytes", "48", "--raw"}, "fetch3");
  EXPECT_EQ(s3, 0) << read_text(err_path("fetch3"));
  EXPECT_EQ(raw.size(), 48u);

  ::kill(serve, SIGTERM);
  EXPECT_EQ(wait_for(serve, 10s), 0) << read_text(err_path("serve"));
  EXPECT_NE(read_text(err_path("serve")).find("3 guests connected"), std::string::npos) << read_text(err_path("serve"));

  // Nobody serves now: a clean timeout (exit 3), not a hang.
  const auto t0 = clock_type::now();
  auto [s4, none] = fetch(2, {"--backend", "xen", "--bytes", "16", "--timeout-ms", "1500"}, "fetch4");
  const auto took = clock_type::now() - t0;
  EXPECT_EQ(s4, 3) << read_text(err_path("fetch4"));
  EXPECT_TRUE(none.empty());
  EXPECT_NE(read_text(err_path("fetch4")).find("timed out"), std::string::npos) << read_text(err_path("fetch4"));
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 6s);
}

}  // namespace
