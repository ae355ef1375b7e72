// xenwire-xenstored's command line: accepted spellings, and exit 2 with a reason for the rest.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "xenwire/xenstore/daemon/daemon_options.hpp"

namespace xs = xenwire::xenstore;

namespace {

tl::expected<xs::daemon_options, xs::cli_exit> parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"xenwire-xenstored"};
  argv.insert(argv.end(), args.begin(), args.end());
  return xs::parse_daemon_options(static_cast<int>(argv.size()), argv.data());
}

void expect_usage_error(std::initializer_list<const char*> args, const std::string& mentions) {
  auto r = parse(args);
  ASSERT_FALSE(r) << "accepted: " << mentions;
  EXPECT_EQ(r.error().code, 2);
  EXPECT_NE(r.error().text.find(mentions), std::string::npos) << r.error().text;
}

}  // namespace

TEST(DaemonOptions, DefaultsMatchTheConfig) {
  auto r = parse({});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->socket_path);
  EXPECT_TRUE(r->guest_sockets.empty());
  EXPECT_FALSE(r->read_only);
  EXPECT_FALSE(r->trace);
  EXPECT_EQ(r->log_threshold, xs::log_level::info);
  EXPECT_EQ(r->config.quotas.get(xs::quota::nodes), xs::info(xs::quota::nodes).hard);
  EXPECT_TRUE(r->config.write_rate.enabled);
}

TEST(DaemonOptions, SocketsAndModes) {
  auto r = parse({"--socket", "/tmp/xs.sock", "--guest-socket", "7=/tmp/g7", "--guest-socket", "9=/tmp/g9",
                  "--read-only", "--trace", "--no-rate-limit", "-N"});
  ASSERT_TRUE(r) << r.error().text;
  EXPECT_EQ(r->socket_path, "/tmp/xs.sock");
  ASSERT_EQ(r->guest_sockets.size(), 2u);
  EXPECT_EQ(r->guest_sockets[0], (xs::guest_socket_spec{7, "/tmp/g7"}));
  EXPECT_EQ(r->guest_sockets[1], (xs::guest_socket_spec{9, "/tmp/g9"}));
  EXPECT_TRUE(r->read_only);
  EXPECT_TRUE(r->trace);
  EXPECT_FALSE(r->config.write_rate.enabled);
}

TEST(DaemonOptions, SocketIoChoosesHowSocketsAreServed) {
  using io = xs::daemon_settings::socket_io;
  auto r = parse({});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->socket_io, io::automatic);
  for (auto [arg, want] : {std::pair{"uring", io::uring}, std::pair{"epoll", io::epoll}, std::pair{"auto", io::automatic},
                           std::pair{"EPOLL", io::epoll}}) {
    r = parse({"--socket-io", arg});
    ASSERT_TRUE(r) << arg << ": " << r.error().text;
    EXPECT_EQ(r->socket_io, want) << arg;
  }
  expect_usage_error({"--socket-io", "poll"}, "--socket-io");
}

TEST(DaemonOptions, QuotasByNameAndCAliases) {
  auto r = parse({"-Q", "nodes=5", "--quota", "transaction-nodes=7", "-q", "memory=1000", "--quota-soft",
                  "soft-memory=1001", "-W", "3", "-t", "2", "-A", "4", "-M", "100", "-S", "300", "-E", "6"});
  ASSERT_TRUE(r) << r.error().text;
  const auto& q = r->config.quotas;
  EXPECT_EQ(q.get(xs::quota::transaction_nodes), 7u);
  EXPECT_EQ(q.get(xs::quota::memory, true), 1001u);  // the later flag wins
  EXPECT_EQ(q.get(xs::quota::watches), 3u);
  EXPECT_EQ(q.get(xs::quota::transactions), 2u);
  EXPECT_EQ(q.get(xs::quota::node_permissions), 4u);
  EXPECT_EQ(q.get(xs::quota::path_max), 100u);
  EXPECT_EQ(q.get(xs::quota::node_size), 300u);
  // -Q applies after the short aliases, as an explicit name is the more specific request.
  EXPECT_EQ(q.get(xs::quota::nodes), 5u);
}

TEST(DaemonOptions, TimeoutsAndLogLevels) {
  auto r = parse({"--watch-event-timeout", "5", "-vv"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->config.watch_event_timeout, std::chrono::seconds(5));
  EXPECT_EQ(r->log_threshold, xs::log_level::trace);
  r = parse({"-w", "watch-event=9", "-v"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->config.watch_event_timeout, std::chrono::seconds(9));
  EXPECT_EQ(r->log_threshold, xs::log_level::debug);
  r = parse({"--log-level", "off"});
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->log_threshold);
  r = parse({"--log-level", "warn", "-v"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->log_threshold, xs::log_level::warn);
}

TEST(DaemonOptions, HelpIsNotAnError) {
  auto r = parse({"--help"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, 0);
  EXPECT_NE(r.error().text.find("--guest-socket"), std::string::npos);
}

TEST(DaemonOptions, UnusableArgumentsExit2WithAReason) {
  expect_usage_error({"--bogus"}, "--bogus");
  expect_usage_error({"--guest-socket", "7"}, "DOMID=PATH");
  expect_usage_error({"--guest-socket", "0=/tmp/x"}, "unprivileged");
  expect_usage_error({"--guest-socket", "32752=/tmp/x"}, "unprivileged");  // DOMID_FIRST_RESERVED
  expect_usage_error({"--guest-socket", "x=/tmp/x"}, "unprivileged");
  expect_usage_error({"--guest-socket", "7="}, "socket path");
  expect_usage_error({"--guest-socket", "7=/tmp/a", "--guest-socket", "8=/tmp/a"}, "used twice");
  expect_usage_error({"--socket", "/tmp/a", "--guest-socket", "8=/tmp/a"}, "used twice");
  expect_usage_error({"--guest-socket", "7=/tmp/a", "--guest-socket", "7=/tmp/b"}, "two sockets");
  expect_usage_error({"--socket", std::string(200, 'x').c_str()}, "too long");
  expect_usage_error({"-Q", "nodes"}, "NAME=VALUE");
  expect_usage_error({"-Q", "bogus=1"}, "unknown quota");
  expect_usage_error({"-Q", "nodes=-1"}, "not a number");
  expect_usage_error({"-Q", "nodes=99999999999"}, "not a number");
  expect_usage_error({"-q", "nodes=1"}, "unknown soft quota");
  expect_usage_error({"-E", "many"}, "entry-nb");
  expect_usage_error({"--watch-event-timeout", "soon"}, "watch-event-timeout");
  expect_usage_error({"-w", "other=3"}, "watch-event=SECONDS");
  expect_usage_error({"--log-level", "loud"}, "loud");
  expect_usage_error({"stray"}, "stray");
}

// ---- C xenstored 4.17's command line (xenstored_core.c main()): every option parses ----

TEST(DaemonOptions, DaemonizesByDefaultLikeC) {
  auto r = parse({});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->daemonize);
  EXPECT_FALSE(r->pid_file);
  EXPECT_FALSE(r->trace_file);
  EXPECT_FALSE(r->output_pid);
  EXPECT_FALSE(r->no_domain_init);
  EXPECT_FALSE(r->live_update);
  EXPECT_TRUE(r->notices.empty());
  for (const char* no_fork : {"-N", "--no-fork"}) {
    r = parse({no_fork});
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->daemonize) << no_fork;
  }
}

TEST(DaemonOptions, ProcessOptionsShortAndLong) {
  auto r = parse({"-F", "/run/xenstored.pid", "-T", "/var/log/xs-trace.log", "-P", "-D", "-U"});
  ASSERT_TRUE(r) << r.error().text;
  EXPECT_EQ(r->pid_file, "/run/xenstored.pid");
  EXPECT_EQ(r->trace_file, "/var/log/xs-trace.log");
  EXPECT_TRUE(r->output_pid);
  EXPECT_TRUE(r->no_domain_init);
  EXPECT_TRUE(r->live_update);
  EXPECT_TRUE(r->notices.empty());
  r = parse({"--pid-file", "/a/p", "--trace-file=/a/t", "--output-pid", "--no-domain-init", "--live-update"});
  ASSERT_TRUE(r) << r.error().text;
  EXPECT_EQ(r->pid_file, "/a/p");
  EXPECT_EQ(r->trace_file, "/a/t");
  EXPECT_TRUE(r->output_pid && r->no_domain_init && r->live_update);
}

TEST(DaemonOptions, RelativeFilesBecomeAbsolute) {
  // The daemon changes directory to / when it detaches; the files must still be found.
  auto r = parse({"-F", "run/x.pid", "-T", "./t.log"});
  ASSERT_TRUE(r) << r.error().text;
  ASSERT_TRUE(r->pid_file && r->trace_file);
  EXPECT_TRUE(r->pid_file->starts_with('/')) << *r->pid_file;
  EXPECT_TRUE(r->pid_file->ends_with("/run/x.pid")) << *r->pid_file;
  EXPECT_TRUE(r->trace_file->ends_with("/t.log")) << *r->trace_file;
  EXPECT_EQ(r->trace_file->find("./"), std::string::npos) << *r->trace_file;
}

TEST(DaemonOptions, VerboseAndHelpInCSpelling) {
  for (const char* v : {"-V", "--verbose", "-v"}) {
    auto r = parse({v});
    ASSERT_TRUE(r) << v;
    EXPECT_EQ(r->log_threshold, xs::log_level::debug) << v;
  }
  for (const char* h : {"-H", "-h", "--help"}) {
    auto r = parse({h});
    ASSERT_FALSE(r) << h;
    EXPECT_EQ(r.error().code, 0) << h;
    EXPECT_NE(r.error().text.find("--pid-file"), std::string::npos);
  }
}

TEST(DaemonOptions, OptionsWithoutMeaningHereAreAcceptedWithANotice) {
  struct case_t {
    std::initializer_list<const char*> args;
    const char* mentions;
  };
  const case_t cases[] = {
      {{"-R"}, "--no-recovery"},
      {{"--no-recovery"}, "--no-recovery"},
      {{"-I"}, "--internal-db"},
      {{"--internal-db"}, "--internal-db"},
      {{"-Ion"}, "--internal-db"},
      {{"--internal-db=off"}, "--internal-db off"},
      {{"-I", "off"}, "--internal-db off"},
      {{"-K"}, "--keep-orphans"},
      {{"--keep-orphans"}, "--keep-orphans"},
      {{"--event", "5"}, "--event"},
      {{"--master-domid", "0"}, "--master-domid"},
      {{"--priv-domid", "0"}, "--priv-domid"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.args);
    ASSERT_TRUE(r) << c.mentions << ": " << r.error().text;
    ASSERT_EQ(r->notices.size(), 1u) << c.mentions;
    EXPECT_NE(r->notices[0].find(c.mentions), std::string::npos) << r->notices[0];
    EXPECT_NE(r->notices[0].find("effect"), std::string::npos) << r->notices[0];  // says why
  }
  // Several at once: one line each, and the rest of the command line still counts.
  auto r = parse({"-R", "-K", "-I", "-N", "-W", "7"});
  ASSERT_TRUE(r) << r.error().text;
  EXPECT_EQ(r->notices.size(), 3u);
  EXPECT_FALSE(r->daemonize);
  EXPECT_EQ(r->config.quotas.get(xs::quota::watches), 7u);
}

TEST(DaemonOptions, StubDomainOnlyValuesAreRefused) {
  expect_usage_error({"--master-domid", "3"}, "master-domid");
  expect_usage_error({"--priv-domid", "1"}, "priv-domid");
  expect_usage_error({"--internal-db=maybe"}, "on or off");
  expect_usage_error({"--event", "x"}, "event");
  expect_usage_error({"-F"}, "pid-file");
  expect_usage_error({"-T"}, "trace-file");
  expect_usage_error({"-X"}, "-X");  // not an option of C xenstored 4.17 either
}

TEST(DaemonOptions, LaunchXenstoreCommandLineParses) {
  // What Xen's launch-xenstore and Debian's /etc/init.d/xen pass (XENSTORED_TRACE set: -T).
  auto r = parse({"--pid-file", "/var/run/xen/xenstored.pid", "-T", "/var/log/xen/xenstored-trace.log"});
  ASSERT_TRUE(r) << r.error().text;
  EXPECT_TRUE(r->daemonize);
  EXPECT_EQ(r->pid_file, "/var/run/xen/xenstored.pid");
  r = parse({"-E", "2000", "-W", "200", "--pid-file", "/run/xenstore.pid"});
  ASSERT_TRUE(r) << r.error().text;
  EXPECT_EQ(r->pid_file, "/run/xenstore.pid");
  EXPECT_EQ(r->config.quotas.get(xs::quota::nodes), 2000u);
}
