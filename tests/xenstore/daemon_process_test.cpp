// xenwire-xenstored as a process: pid file, systemd readiness datagram, C-style trace file.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "xenwire/base/event_loop.hpp"
#include "xenwire/base/unique_fd.hpp"
#include "xenwire/xenstore/daemon/process.hpp"

namespace xs = xenwire::xenstore;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "xs-proc-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(PidFile, WrittenWholeAndRemovedAtDestruction) {
  temp_dir dir;
  const auto path = dir.path / "xenstored.pid";
  {
    auto p = xs::pid_file::write(path.string());
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(slurp(path), std::to_string(::getpid()) + "\n");
    EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);  // no temp left
    xs::pid_file moved = std::move(*p);
    EXPECT_TRUE(fs::exists(path));  // the moved-from object removes nothing
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(PidFile, ReplacesAStaleFileAndLeavesAnotherProcesssFileAlone) {
  temp_dir dir;
  const auto path = dir.path / "xenstored.pid";
  std::ofstream(path) << "999999999 and a longer stale line\n";
  {
    auto p = xs::pid_file::write(path.string());
    ASSERT_TRUE(p);
    EXPECT_EQ(slurp(path), std::to_string(::getpid()) + "\n");
    std::ofstream(path) << "1\n";  // a later daemon took the file over
  }
  EXPECT_EQ(slurp(path), "1\n");
}

TEST(PidFile, UnwritableDirectoryIsAnError) {
  EXPECT_FALSE(xs::pid_file::write("/nonexistent-dir-xenwire/x.pid"));
}

TEST(NotifySystemd, SendsOneDatagramToNotifySocket) {
  temp_dir dir;
  const auto path = (dir.path / "notify").string();
  xenwire::unique_fd rx(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(rx.get(), static_cast<const sockaddr*>(static_cast<const void*>(&addr)), sizeof addr), 0);

  ::unsetenv("NOTIFY_SOCKET");
  auto r = xs::notify_systemd("READY=1");
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);  // not under systemd: nothing sent

  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  r = xs::notify_systemd("READY=1");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(*r);
  char buf[64] = {};
  const ssize_t n = ::recv(rx.get(), buf, sizeof buf, MSG_DONTWAIT);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "READY=1");

  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_FALSE(xs::notify_systemd("READY=1"));
  ::unsetenv("NOTIFY_SOCKET");
}

TEST(NotifySystemd, AbstractAddress) {
  const std::string name = "xenwire-notify-test-" + std::to_string(::getpid());
  xenwire::unique_fd rx(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(rx.get(), static_cast<const sockaddr*>(static_cast<const void*>(&addr)), len), 0);
  ::setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);
  auto r = xs::notify_systemd("READY=1");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(r) << r.error().message();
  char buf[64] = {};
  EXPECT_EQ(::recv(rx.get(), buf, sizeof buf, MSG_DONTWAIT), 7);
}

TEST(TraceFile, LinesInCsOrder) {
  const std::time_t t = 0;  // the date part depends on the local time zone: check the shape
  auto in = xs::trace_file::format("conn 3 < WRITE req 0 tx 0 len 9 \"/a\\0b\"", t);
  EXPECT_TRUE(in.starts_with("IN conn 3 19")) << in;
  EXPECT_TRUE(in.ends_with(" WRITE req 0 tx 0 len 9 \"/a\\0b\"")) << in;
  EXPECT_EQ(in.size(), std::string("IN conn 3 19700101 00:00:00 WRITE req 0 tx 0 len 9 \"/a\\0b\"").size());
  auto out = xs::trace_file::format("conn 12 > WATCH_EVENT req 0 tx 0 len 4 \"/a\\0\\0\"", t);
  EXPECT_TRUE(out.starts_with("OUT conn 12 19")) << out;
  EXPECT_TRUE(out.ends_with(" WATCH_EVENT req 0 tx 0 len 4 \"/a\\0\\0\"")) << out;
  auto other = xs::trace_file::format("something else", t);
  EXPECT_TRUE(other.ends_with(" something else")) << other;
}

TEST(TraceFile, AppendsWithCMarkerAndReopensAfterRotation) {
  temp_dir dir;
  const auto path = dir.path / "trace.log";
  std::ofstream(path) << "old\n";
  auto t = xs::trace_file::open(path.string());
  ASSERT_TRUE(t) << t.error().message();
  (*t)->write("conn 1 < READ req 0 tx 0 len 3 \"/a\\0\"");
  auto text = slurp(path);
  EXPECT_TRUE(text.starts_with("old\n\n***\nIN conn 1 ")) << text;
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read)
      << "an existing file keeps its mode";
  fs::rename(path, dir.path / "trace.log.1");  // logrotate
  ASSERT_TRUE((*t)->reopen());
  (*t)->write("conn 1 > READ req 0 tx 0 len 1 \"x\"");
  text = slurp(path);
  EXPECT_TRUE(text.starts_with("\n***\nOUT conn 1 ")) << text;
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_FALSE(xs::trace_file::open((dir.path / "missing" / "t").string()));
}

TEST(TraceFile, SighupReopens) {
  static constexpr int hup[] = {SIGHUP};
  ASSERT_TRUE(xenwire::block_signals(hup));  // as the daemon does before starting threads
  temp_dir dir;
  const auto path = dir.path / "trace.log";
  auto t = xs::trace_file::open(path.string());
  ASSERT_TRUE(t);
  std::atomic<int> reopened{0};
  {
    xs::sighup_reopener reopener(**t, [&](std::error_code ec) {
      EXPECT_FALSE(ec);
      ++reopened;
    });
    fs::rename(path, dir.path / "trace.log.1");
    ::kill(::getpid(), SIGHUP);
    for (int i = 0; i < 400 && reopened.load() == 0; ++i) ::usleep(5000);
    EXPECT_EQ(reopened.load(), 1);
    EXPECT_TRUE(fs::exists(path));
  }  // the destructor stops the thread without a reopen
  EXPECT_EQ(reopened.load(), 1);
}
