#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "xenwire/xenstore/replies.hpp"

using namespace xenwire::xenstore;
using namespace std::string_literals;

namespace {

message only_message(const std::string& out) {
  frame_decoder d;
  std::string_view in = out;
  auto r = d.next(in);
  EXPECT_TRUE(r && *r);
  EXPECT_TRUE(in.empty()) << "more than one frame";
  if (!r || !*r) return {};
  return message(**r);
}

const header request{static_cast<std::uint32_t>(msg_type::read), 42, 7, 0};

}  // namespace

TEST(WireReplies, OkEchoesIds) {
  std::string out;
  write_ok(out, request);
  auto m = only_message(out);
  EXPECT_EQ(m.hdr, (header{2, 42, 7, 3}));
  EXPECT_TRUE(is_ok_reply(m.payload));
  EXPECT_FALSE(is_ok_reply("OK"));
  EXPECT_FALSE(is_ok_reply("OK\0\0"s));
}

TEST(WireReplies, ErrorNamesTheError) {
  std::string out;
  write_error(out, request, xs_error::enoent);
  auto m = only_message(out);
  EXPECT_EQ(m.hdr.type, static_cast<std::uint32_t>(msg_type::error));
  EXPECT_EQ(m.hdr.req_id, 42u);
  EXPECT_EQ(m.hdr.tx_id, 7u);
  EXPECT_EQ(m.payload, "ENOENT\0"s);
  EXPECT_EQ(parse_error_reply(m.payload), xs_error::enoent);
  EXPECT_EQ(parse_error_reply("EWHAT\0"s), xs_error::einval);
  EXPECT_EQ(parse_error_reply("ENOENT"), xs_error::einval);
  EXPECT_EQ(parse_error_reply(""), xs_error::einval);
}

TEST(WireReplies, RawAndStringReplies) {
  std::string out;
  ASSERT_TRUE(write_raw_reply(out, request, "va\0l"s));
  EXPECT_EQ(only_message(out).payload, "va\0l"s);
  out.clear();
  ASSERT_TRUE(write_number_reply(out, header{6, 1, 0, 0}, 12));
  EXPECT_EQ(parse_transaction_id(only_message(out).payload).value(), 12u);
  out.clear();
  ASSERT_TRUE(write_string_reply(out, header{17, 1, 0, 0}, "T"));
  EXPECT_EQ(parse_bool_reply(only_message(out).payload).value(), true);
  EXPECT_EQ(parse_bool_reply("F\0"s).value(), false);
  EXPECT_FALSE(parse_bool_reply("X\0"s));
  EXPECT_FALSE(parse_transaction_id("1x\0"s));
  EXPECT_FALSE(parse_transaction_id("1"s));
  out.clear();
  EXPECT_EQ(write_raw_reply(out, request, std::string(4097, 'x')).error(), xs_error::e2big);
  EXPECT_TRUE(out.empty());
}

TEST(WireReplies, DirectoryListAndE2big) {
  std::string out;
  std::vector<std::string_view> names{"a", "bb", "c"};
  ASSERT_TRUE(write_string_list_reply(out, header{1, 1, 0, 0}, names));
  auto m = only_message(out);
  EXPECT_EQ(m.payload, "a\0bb\0c\0"s);
  auto l = parse_directory_reply(m.payload);
  ASSERT_TRUE(l);
  EXPECT_EQ(std::vector<std::string>(l->begin(), l->end()), (std::vector<std::string>{"a", "bb", "c"}));
  out.clear();
  std::string big(1000, 'n');
  std::vector<std::string_view> many(5, big);  // 5005 bytes
  EXPECT_EQ(write_string_list_reply(out, header{1, 1, 0, 0}, many).error(), xs_error::e2big);
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(write_string_list_reply(out, header{1, 1, 0, 0}, {}));
  EXPECT_EQ(only_message(out).payload, "");
}

TEST(WireReplies, PermsReply) {
  std::string out;
  ASSERT_TRUE(write_perms_reply(out, header{3, 1, 0, 0}, node_perms{{0, perm::read}, {65535, perm::both}}));
  EXPECT_EQ(only_message(out).payload, "r0\0b65535\0"s);
}

TEST(WireReplies, WatchEventHasZeroIds) {
  std::string out;
  ASSERT_TRUE(write_watch_event(out, "/a/b", "tok"));
  auto m = only_message(out);
  EXPECT_EQ(m.hdr, (header{15, 0, 0, 9}));
  auto ev = parse_watch_event(m.payload);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->path, "/a/b");
  EXPECT_EQ(ev->token, "tok");
  for (auto bad : {""s, "/a\0"s, "/a\0t"s, "/a\0t\0x\0"s}) EXPECT_FALSE(parse_watch_event(bad));
  out.clear();
  // XSA-324: a huge token must not produce an oversized event.
  EXPECT_EQ(write_watch_event(out, "/a", std::string(4094, 't')).error(), xs_error::e2big);
  EXPECT_TRUE(out.empty());
}

TEST(WireReplies, DirectoryPartSmallListIsComplete) {
  std::string out;
  const std::string children = "a\0bb\0c\0"s;
  ASSERT_TRUE(write_directory_part_reply(out, header{22, 1, 0, 0}, 77, children, 0));
  auto m = only_message(out);
  EXPECT_EQ(m.payload, "77\0a\0bb\0c\0\0"s);
  auto p = parse_directory_part_reply(m.payload);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->gencnt, 77u);
  EXPECT_TRUE(p->complete);
  EXPECT_EQ(std::vector<std::string>(p->children.begin(), p->children.end()),
            (std::vector<std::string>{"a", "bb", "c"}));
  out.clear();
  ASSERT_TRUE(write_directory_part_reply(out, header{22, 1, 0, 0}, 77, children, 2));  // from "bb"
  EXPECT_EQ(only_message(out).payload, "77\0bb\0c\0\0"s);
  out.clear();
  ASSERT_TRUE(write_directory_part_reply(out, header{22, 1, 0, 0}, 77, children, 7));  // at the end
  EXPECT_EQ(only_message(out).payload, "77\0\0"s);
  out.clear();
  ASSERT_TRUE(write_directory_part_reply(out, header{22, 1, 0, 0}, 5, "", 0));
  const auto last = only_message(out);
  auto empty = parse_directory_part_reply(last.payload);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->complete);
  EXPECT_EQ(empty->children.size(), 0u);
}

TEST(WireReplies, DirectoryPartMalformed) {
  for (auto bad : {""s, "77"s, "x\0a\0\0"s, "77\0a"s, "77\0"s, "77\0a\0\0b\0"s, "-1\0\0"s})
    EXPECT_FALSE(parse_directory_part_reply(bad)) << testing::PrintToString(bad);
  std::string out;
  EXPECT_FALSE(write_directory_part_reply(out, header{22, 1, 0, 0}, 1, "a", 0));  // list not terminated
  EXPECT_TRUE(out.empty());
}

// A client walking DIRECTORY_PART chunks reassembles the full list, whatever the names.
RC_GTEST_PROP(WireRepliesProp, DirectoryPartWalkReassembles, ()) {
  const auto names = *rc::gen::container<std::vector<std::string>>(
      rc::gen::nonEmpty(rc::gen::container<std::string>(*rc::gen::inRange<std::size_t>(1, 300), rc::gen::element('a', 'b', '-'))));
  std::string children;
  for (const auto& n : names) children.append(n).push_back('\0');
  const auto gen = *rc::gen::arbitrary<std::uint64_t>();
  std::vector<std::string> got;
  std::uint32_t offset = 0;
  for (int rounds = 0;; ++rounds) {
    RC_ASSERT(rounds < 1000);
    std::string out;
    RC_ASSERT(write_directory_part_reply(out, header{22, 1, 0, 0}, gen, children, offset).has_value());
    RC_ASSERT(out.size() <= frame_max);
    auto p = parse_directory_part_reply(std::string_view(out).substr(header_size));
    RC_ASSERT(p.has_value());
    RC_ASSERT(p->gencnt == gen);
    for (auto c : p->children) got.emplace_back(c);
    offset += p->next_offset_delta;
    if (p->complete) break;
  }
  RC_ASSERT(got == names);
}
