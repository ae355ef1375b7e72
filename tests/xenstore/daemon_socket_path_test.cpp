// Where the daemon listens (libxenstore's lookup rules) and how it treats an existing socket file.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "xenwire/xenstore/daemon/socket_listener.hpp"
#include "xenwire/xenstore/daemon/socket_path.hpp"

namespace xs = xenwire::xenstore;
namespace fs = std::filesystem;

namespace {

xs::env_lookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "xs-path-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() { fs::remove_all(path); }
};

bool connects(const std::string& path) {
  xenwire::unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  return ::connect(fd.get(), static_cast<const sockaddr*>(static_cast<const void*>(&addr)), sizeof addr) == 0;
}

}  // namespace

TEST(SocketPath, LookupOrderFollowsLibxenstore) {
  EXPECT_EQ(xs::resolve_socket_path(std::nullopt, env_of({})).value(), "/var/run/xenstored/socket");
  EXPECT_EQ(xs::resolve_socket_path(std::nullopt, env_of({{"XENSTORED_RUNDIR", "/run/x"}})).value(), "/run/x/socket");
  EXPECT_EQ(xs::resolve_socket_path(std::nullopt, env_of({{"XENSTORED_RUNDIR", "/run/x"}, {"XENSTORED_PATH", "/p/s"}}))
                .value(),
            "/p/s");
  EXPECT_EQ(xs::resolve_socket_path("/cli/s", env_of({{"XENSTORED_PATH", "/p/s"}})).value(), "/cli/s");
}

TEST(SocketPath, EmptyVariablesCountAsUnset) {
  EXPECT_EQ(xs::resolve_socket_path(std::nullopt, env_of({{"XENSTORED_PATH", ""}, {"XENSTORED_RUNDIR", ""}})).value(),
            "/var/run/xenstored/socket");
}

TEST(SocketPath, UnusablePathsAreErrors) {
  EXPECT_FALSE(xs::resolve_socket_path("", env_of({})));
  EXPECT_FALSE(xs::resolve_socket_path(std::string(108, 'a'), env_of({})));
  EXPECT_TRUE(xs::resolve_socket_path(std::string(107, 'a'), env_of({})));
  EXPECT_FALSE(xs::resolve_socket_path(std::nullopt, env_of({{"XENSTORED_RUNDIR", std::string(110, 'r')}})));
}

TEST(SocketPath, DefaultLookupReadsTheProcessEnvironment) {
  ::setenv("XENSTORED_PATH", "/from/env", 1);
  EXPECT_EQ(xs::resolve_socket_path(std::nullopt).value(), "/from/env");
  ::unsetenv("XENSTORED_PATH");
}

TEST(SocketListener, CreatesA0600SocketAndRemovesItOnDestruction) {
  temp_dir dir;
  const std::string path = (dir.path / "sub" / "socket").string();  // parent is created
  {
    auto l = xs::socket_listener::open(path);
    ASSERT_TRUE(l) << l.error().message();
    struct stat st{};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(connects(path));
    auto client = l->accept();
    ASSERT_TRUE(client);
    EXPECT_TRUE(*client);
    auto none = l->accept();
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(SocketListener, AStaleSocketIsReplaced) {
  temp_dir dir;
  const std::string path = (dir.path / "socket").string();
  {
    // A bound but never-listening socket behaves like one left by a dead daemon: connect is refused.
    xenwire::unique_fd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(stale.get(), static_cast<const sockaddr*>(static_cast<const void*>(&addr)), sizeof addr), 0);
  }
  ASSERT_TRUE(fs::exists(path));
  auto l = xs::socket_listener::open(path);
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_TRUE(connects(path));
}

TEST(SocketListener, AnOccupiedSocketIsRefusedAndLeftAlone) {
  temp_dir dir;
  const std::string path = (dir.path / "socket").string();
  auto first = xs::socket_listener::open(path);
  ASSERT_TRUE(first);
  auto second = xs::socket_listener::open(path);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use);
  EXPECT_TRUE(connects(path));  // the first daemon still answers
}

TEST(SocketListener, AnotherKindOfFileIsNeverDeleted) {
  temp_dir dir;
  const std::string path = (dir.path / "socket").string();
  std::ofstream(path) << "precious";
  auto l = xs::socket_listener::open(path);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error(), std::errc::not_a_socket);
  EXPECT_TRUE(fs::is_regular_file(path));
}

TEST(SocketListener, AReplacedFileIsNotRemovedByTheOldOwner) {
  temp_dir dir;
  const std::string path = (dir.path / "socket").string();
  auto l = xs::socket_listener::open(path);
  ASSERT_TRUE(l);
  fs::remove(path);
  std::ofstream(path) << "someone else's";
  l = xs::socket_listener::open((dir.path / "other").string());  // destroys the first listener
  ASSERT_TRUE(l);
  EXPECT_TRUE(fs::is_regular_file(path));
}
