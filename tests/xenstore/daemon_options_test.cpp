// xenwire-xenstored's command line: accepted spellings, and exit 2 with a reason for the rest.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
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
