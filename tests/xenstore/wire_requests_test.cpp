#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "xenwire/xenstore/requests.hpp"

using namespace xenwire::xenstore;
using namespace std::string_literals;

namespace {

// Requests are views into their payload: keep every payload alive for the whole test program.
std::string_view keep(std::string payload) {
  static std::deque<std::string> alive;
  return alive.emplace_back(std::move(payload));
}

template <class T>
T parse_as(msg_type t, const std::string& sent) {
  auto r = parse_request(static_cast<std::uint32_t>(t), keep(sent));
  EXPECT_TRUE(r) << name(t) << " rejected a good payload";
  if (!r) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*r)) << name(t);
  if (!std::holds_alternative<T>(*r)) return T{};
  return std::get<T>(*r);
}

void expect_einval(msg_type t, const std::string& payload) {
  auto r = parse_request(static_cast<std::uint32_t>(t), payload);
  ASSERT_FALSE(r) << name(t) << " accepted " << testing::PrintToString(payload);
  EXPECT_EQ(r.error(), xs_error::einval) << name(t);
}

}  // namespace

TEST(WireRequests, SinglePathOps) {
  for (msg_type t : {msg_type::directory, msg_type::read, msg_type::get_perms, msg_type::mkdir, msg_type::rm}) {
    auto r = parse_request(static_cast<std::uint32_t>(t), keep("/a/b\0"s));
    ASSERT_TRUE(r) << name(t);
    std::visit([&](const auto& v) {
      if constexpr (requires { v.path; }) EXPECT_EQ(v.path, "/a/b");
      else ADD_FAILURE() << name(t);
    }, *r);
    for (auto bad : {""s, "/a/b"s, "/a\0/b\0"s, "/a\0x"s, "/a\0\0"s}) expect_einval(t, bad);
  }
  EXPECT_EQ(parse_as<req::read>(msg_type::read, "rel/path\0"s).path, "rel/path");  // resolved later
}

TEST(WireRequests, Control) {
  auto c = parse_as<req::control>(msg_type::control, "log\0on\0"s);
  EXPECT_EQ(c.command, "log");
  EXPECT_EQ(c.params, "on\0"s);
  EXPECT_EQ(parse_as<req::control>(msg_type::control, "check\0"s).params, "");
  expect_einval(msg_type::control, "");
  expect_einval(msg_type::control, "\0"s);
  expect_einval(msg_type::control, "check");
}

TEST(WireRequests, Watch) {
  auto w = parse_as<req::watch>(msg_type::watch, "/a\0tok\0"s);
  EXPECT_EQ(w.path, "/a");
  EXPECT_EQ(w.token, "tok");
  EXPECT_FALSE(w.depth);
  auto wd = parse_as<req::watch>(msg_type::watch, "@releaseDomain\0t\0003\0"s);
  EXPECT_EQ(wd.depth, 3u);
  for (auto bad : {""s, "/a\0"s, "/a\0tok"s, "/a\0tok\0x\0"s, "/a\0tok\0-1\0"s, "/a\0t\0001\0extra\0"s})
    expect_einval(msg_type::watch, bad);
}

TEST(WireRequests, Unwatch) {
  auto u = parse_as<req::unwatch>(msg_type::unwatch, "/a\0tok\0"s);
  EXPECT_EQ(u.path, "/a");
  EXPECT_EQ(u.token, "tok");
  for (auto bad : {""s, "/a\0"s, "/a\0tok"s, "/a\0tok\0003\0"s}) expect_einval(msg_type::unwatch, bad);
}

TEST(WireRequests, Transactions) {
  parse_as<req::transaction_start>(msg_type::transaction_start, "\0"s);
  parse_as<req::transaction_start>(msg_type::transaction_start, "");
  expect_einval(msg_type::transaction_start, "x\0"s);
  expect_einval(msg_type::transaction_start, "\0\0"s);
  EXPECT_TRUE(parse_as<req::transaction_end>(msg_type::transaction_end, "T\0"s).commit);
  EXPECT_FALSE(parse_as<req::transaction_end>(msg_type::transaction_end, "F\0"s).commit);
  for (auto bad : {""s, "T"s, "t\0"s, "TF\0"s, "T\0F\0"s, "\0"s}) expect_einval(msg_type::transaction_end, bad);
}

TEST(WireRequests, Introduce) {
  auto i = parse_as<req::introduce>(msg_type::introduce, "5\0001234567\0007\0"s);
  EXPECT_EQ(i.domid, 5);
  EXPECT_EQ(i.gfn, 1234567u);
  EXPECT_EQ(i.evtchn, 7u);
  EXPECT_EQ(parse_as<req::introduce>(msg_type::introduce, "1\00018446744073709551615\0004294967295\0"s).gfn,
            UINT64_MAX);
  for (auto bad : {""s, "5\0001\0"s, "5\0001\0007"s, "5\0001\0007\0\0"s, "65536\0001\0007\0"s, "-5\0001\0007\0"s,
                   "5\0001x\0007\0"s, "5\0001\0004294967296\0"s, "5\0\0007\0"s})
    expect_einval(msg_type::introduce, bad);
}

TEST(WireRequests, DomidOps) {
  EXPECT_EQ(parse_as<req::release>(msg_type::release, "3\0"s).domid, 3);
  EXPECT_EQ(parse_as<req::get_domain_path>(msg_type::get_domain_path, "65535\0"s).domid, 65535);
  EXPECT_EQ(parse_as<req::is_domain_introduced>(msg_type::is_domain_introduced, "0\0"s).domid, 0);
  EXPECT_EQ(parse_as<req::resume>(msg_type::resume, "12\0"s).domid, 12);
  for (msg_type t : {msg_type::release, msg_type::get_domain_path, msg_type::is_domain_introduced, msg_type::resume})
    for (auto bad : {""s, "3"s, "\0"s, "3\0\0"s, "65536\0"s, "3x\0"s, " 3\0"s, "+3\0"s}) expect_einval(t, bad);
}

TEST(WireRequests, WriteValueIsRawBytes) {
  auto w = parse_as<req::write>(msg_type::write, "/a\0va\0lue"s);
  EXPECT_EQ(w.path, "/a");
  EXPECT_EQ(w.value, "va\0lue"s);
  EXPECT_EQ(parse_as<req::write>(msg_type::write, "/a\0"s).value, "");
  EXPECT_EQ(parse_as<req::write>(msg_type::write, "/a\0v\0"s).value, "v\0"s);  // trailing NUL is data
  expect_einval(msg_type::write, "");
  expect_einval(msg_type::write, "/a");
}

TEST(WireRequests, SetPerms) {
  auto p = parse_as<req::set_perms>(msg_type::set_perms, "/a\0r0\0b5\0n7\0"s);
  EXPECT_EQ(p.path, "/a");
  EXPECT_EQ(p.perms, (node_perms{{0, perm::read}, {5, perm::both}, {7, perm::none}}));
  for (auto bad : {""s, "/a\0"s, "/a"s, "/a\0r0"s, "/a\0x0\0"s, "/a\0r\0"s, "/a\0r0\0\0"s, "/a\0r65536\0"s,
                   "/a\0r-1\0"s, "/a\0R0\0"s, "/a\0r0x\0"s})
    expect_einval(msg_type::set_perms, bad);
}

TEST(WireRequests, SetTarget) {
  auto t = parse_as<req::set_target>(msg_type::set_target, "4\0003\0"s);
  EXPECT_EQ(t.domid, 4);
  EXPECT_EQ(t.target, 3);
  for (auto bad : {""s, "4\0"s, "4\0003"s, "4\0003\0002\0"s, "4\0x\0"s}) expect_einval(msg_type::set_target, bad);
}

TEST(WireRequests, ResetWatches) {
  parse_as<req::reset_watches>(msg_type::reset_watches, "\0"s);
  parse_as<req::reset_watches>(msg_type::reset_watches, "");
  expect_einval(msg_type::reset_watches, "x\0"s);
}

TEST(WireRequests, DirectoryPart) {
  auto d = parse_as<req::directory_part>(msg_type::directory_part, "/a\0" "100\0"s);
  EXPECT_EQ(d.path, "/a");
  EXPECT_EQ(d.offset, 100u);
  for (auto bad : {""s, "/a\0"s, "/a\0\0"s, "/a\0001"s, "/a\0-1\0"s, "/a\0001\0\0"s})
    expect_einval(msg_type::directory_part, bad);
}

TEST(WireRequests, Features) {
  EXPECT_FALSE(parse_as<req::get_feature>(msg_type::get_feature, "").domid);
  EXPECT_EQ(parse_as<req::get_feature>(msg_type::get_feature, "3\0"s).domid, 3);
  for (auto bad : {"\0"s, "3"s, "3\0004\0"s, "x\0"s}) expect_einval(msg_type::get_feature, bad);
  auto s = parse_as<req::set_feature>(msg_type::set_feature, "3\0006\0"s);
  EXPECT_EQ(s.domid, 3);
  EXPECT_EQ(s.value, 6u);
  for (auto bad : {""s, "3\0"s, "\0006\0"s, "3\0006"s, "3\0x\0"s}) expect_einval(msg_type::set_feature, bad);
}

TEST(WireRequests, Quotas) {
  auto all = parse_as<req::get_quota>(msg_type::get_quota, "");
  EXPECT_FALSE(all.domid);
  EXPECT_FALSE(all.quota);
  auto global = parse_as<req::get_quota>(msg_type::get_quota, "nodes\0"s);
  EXPECT_FALSE(global.domid);
  EXPECT_EQ(global.quota, "nodes");
  auto dom = parse_as<req::get_quota>(msg_type::get_quota, "5\0watches\0"s);
  EXPECT_EQ(dom.domid, 5);
  EXPECT_EQ(dom.quota, "watches");
  for (auto bad : {"\0"s, "nodes"s, "x\0nodes\0"s, "5\0\0"s, "5\0nodes\0x\0"s}) expect_einval(msg_type::get_quota, bad);

  auto sg = parse_as<req::set_quota>(msg_type::set_quota, "nodes\0001000\0"s);
  EXPECT_FALSE(sg.domid);
  EXPECT_EQ(sg.quota, "nodes");
  EXPECT_EQ(sg.value, 1000u);
  auto sd = parse_as<req::set_quota>(msg_type::set_quota, "7\0nodes\0000\0"s);
  EXPECT_EQ(sd.domid, 7);
  EXPECT_EQ(sd.value, 0u);
  for (auto bad : {""s, "nodes\0"s, "nodes\0x\0"s, "\0001\0"s, "x\0nodes\0001\0"s, "7\0nodes\0001"s,
                   "7\0nodes\0001\0\0"s})
    expect_einval(msg_type::set_quota, bad);
}

TEST(WireRequests, NonRequestTypesAreEnosys) {
  for (std::uint32_t t : {15u, 16u, 20u, 27u, 0xffffu, 0xffffffffu}) {
    auto r = parse_request(t, "/a\0"s);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(r.error(), xs_error::enosys) << t;
  }
}

TEST(WireRequests, PrivilegedOps) {
  EXPECT_TRUE(is_privileged_op(msg_type::introduce));
  EXPECT_TRUE(is_privileged_op(msg_type::set_quota));
  EXPECT_TRUE(is_privileged_op(msg_type::control));
  EXPECT_FALSE(is_privileged_op(msg_type::read));
  EXPECT_FALSE(is_privileged_op(msg_type::get_feature));
}
