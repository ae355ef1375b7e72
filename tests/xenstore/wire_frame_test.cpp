#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "xenwire/xenstore/wire.hpp"

using namespace xenwire::xenstore;
using namespace std::string_literals;

namespace {

std::string frame(std::uint32_t type, std::uint32_t req, std::uint32_t tx, std::uint32_t len, std::string_view body) {
  header h{type, req, tx, len};
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(body);
  return out;
}

// Feeds `stream` in the given chunk sizes (cycled), collecting every message.
xenwire::result<std::vector<message>> decode_chunked(frame_decoder& d, std::string_view stream,
                                                     const std::vector<std::size_t>& sizes) {
  std::vector<message> got;
  std::size_t i = 0;
  while (!stream.empty()) {
    std::size_t n = sizes.empty() ? stream.size() : std::min(stream.size(), std::max<std::size_t>(1, sizes[i++ % sizes.size()]));
    std::string_view chunk = stream.substr(0, n);
    stream.remove_prefix(n);
    for (;;) {
      auto r = d.next(chunk);
      if (!r) return xenwire::fail(r.error());
      if (!*r) break;
      got.emplace_back(**r);
    }
    EXPECT_TRUE(chunk.empty());
  }
  return got;
}

}  // namespace

TEST(WireTypes, NamesAndValidity) {
  EXPECT_EQ(name(msg_type::control), "CONTROL");
  EXPECT_EQ(name(msg_type_debug), "CONTROL");
  EXPECT_EQ(name(msg_type::directory_part), "DIRECTORY_PART");
  EXPECT_EQ(name(msg_type::set_quota), "SET_QUOTA");
  EXPECT_EQ(name(msg_type::invalid), "INVALID");
  EXPECT_EQ(type_name(20), "INVALID");
  EXPECT_EQ(type_name(27), "INVALID");
  EXPECT_EQ(static_cast<std::uint32_t>(msg_type::reset_watches), 21u);
  EXPECT_EQ(static_cast<std::uint32_t>(msg_type::watch_event), 15u);
  int valid = 0;
  for (std::uint32_t t = 0; t < 100; ++t) valid += is_valid_type(t);
  EXPECT_EQ(valid, 26);
  EXPECT_FALSE(is_valid_type(20));
  EXPECT_FALSE(is_valid_type(0xffff));
  EXPECT_FALSE(to_msg_type(0xffffffffu));
  EXPECT_EQ(to_msg_type(26), msg_type::set_quota);
}

TEST(WireFrame, OneByteAtATime) {
  const std::string stream = frame(2, 7, 0, 3, "/a\0"s) + frame(1, 8, 5, 0, "");
  frame_decoder d;
  auto got = decode_chunked(d, stream, {1});
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].hdr, (header{2, 7, 0, 3}));
  EXPECT_EQ((*got)[0].payload, "/a\0"s);
  EXPECT_EQ((*got)[1].hdr, (header{1, 8, 5, 0}));
  EXPECT_EQ((*got)[1].payload, "");
  EXPECT_TRUE(d.idle());
}

TEST(WireFrame, PartialMessageStaysBuffered) {
  frame_decoder d;
  std::string_view part("\x02\0\0\0", 4);
  auto r = d.next(part);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_EQ(d.buffered(), 4u);
  EXPECT_FALSE(d.idle());
}

TEST(WireFrame, MaxPayloadAccepted) {
  const std::string body(xenwire::xenstore::payload_max, 'x');
  frame_decoder d;
  auto got = decode_chunked(d, frame(11, 1, 0, xenwire::xenstore::payload_max, body), {});
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].payload, body);
}

TEST(WireFrame, OversizedLenIsAProtocolViolationAndSticks) {
  for (std::uint32_t len : {4097u, 65536u, 0xffffffffu}) {
    frame_decoder d;
    std::string stream = frame(2, 1, 0, len, "abc");
    std::string_view in = stream;
    auto r = d.next(in);
    ASSERT_FALSE(r) << len;
    EXPECT_EQ(r.error(), xenwire::errc::protocol_error);
    EXPECT_TRUE(d.failed());
    EXPECT_LE(d.buffered(), header_size);
    // Stays failed, whatever comes next.
    std::string good = frame(2, 1, 0, 0, "");
    std::string_view in2 = good;
    EXPECT_FALSE(d.next(in2));
    d.reset();
    EXPECT_TRUE(d.next(in2));
  }
}

TEST(WireFrame, ViolationDetectedWhenHeaderCompletesEvenByteWise) {
  frame_decoder d;
  auto got = decode_chunked(d, frame(2, 1, 0, 5000, ""), {1});
  EXPECT_FALSE(got);
}

TEST(WireFrame, GoodMessagesBeforeAViolationAreDelivered) {
  frame_decoder d;
  std::string stream = frame(2, 1, 0, 3, "/a\0"s) + frame(2, 2, 0, 4097, "");
  std::string_view in = stream;
  auto first = d.next(in);
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->hdr.req_id, 1u);
  EXPECT_FALSE(d.next(in));
}

TEST(WireFrame, FeedCallsBackPerMessage) {
  frame_decoder d;
  std::string stream = frame(2, 1, 0, 1, "a") + frame(2, 2, 0, 1, "b") + frame(2, 3, 0, 1, "c");
  std::vector<std::uint32_t> ids;
  auto bytes = std::as_bytes(std::span(stream.data(), stream.size()));
  ASSERT_TRUE(d.feed(bytes, [&](const message_view& m) { ids.push_back(m.hdr.req_id); }));
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{1, 2, 3}));
}

TEST(WireEncode, WriterPatchesLenAndRejectsOverflow) {
  std::string out = "prefix";
  {
    message_writer w(out, msg_type::write, 9, 4);
    w.arg("/a/b").raw("val");
    ASSERT_TRUE(w.finish());
  }
  header h;
  std::memcpy(&h, out.data() + 6, sizeof h);
  EXPECT_EQ(h, (header{11, 9, 4, 8}));
  EXPECT_EQ(out.substr(6 + 16), "/a/b\0val"s);

  const auto before = out;
  message_writer w(out, msg_type::write, 1, 0);
  w.arg(std::string(4000, 'a')).raw(std::string(96, 'b'));  // 4097 bytes
  EXPECT_TRUE(w.overflowed());
  EXPECT_EQ(w.finish().error(), xs_error::e2big);
  EXPECT_EQ(out, before);
}

TEST(WireEncode, ExactlyPayloadMaxFits) {
  std::string out;
  message_writer w(out, msg_type::write, 1, 0);
  w.arg(std::string(4000, 'a')).raw(std::string(95, 'b'));
  EXPECT_TRUE(w.finish());
  EXPECT_EQ(out.size(), header_size + 4096);
}

TEST(WireEncode, DestructorFinishes) {
  std::string out;
  { message_writer(out, msg_type::read, 1, 0).arg("/x"); }
  header h;
  std::memcpy(&h, out.data(), sizeof h);
  EXPECT_EQ(h.len, 3u);
}

TEST(WireEncode, EncodeToFixedBuffer) {
  std::array<std::byte, 32> buf{};
  auto n = encode_to(buf, header{2, 3, 4, 999}, "/a\0"s);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 19u);
  header h;
  std::memcpy(&h, buf.data(), sizeof h);
  EXPECT_EQ(h, (header{2, 3, 4, 3}));
  std::array<std::byte, 18> small{};
  EXPECT_FALSE(encode_to(small, header{2, 3, 4, 0}, "/a\0"s));
  std::string big(4097, 'x');
  std::string out;
  EXPECT_FALSE(encode(out, header{}, big));
  EXPECT_TRUE(out.empty());
}

RC_GTEST_PROP(WireFrameProp, RandomChunkingRoundTrips, ()) {
  const auto count = *rc::gen::inRange<std::size_t>(0, 20);
  std::vector<message> sent;
  std::string stream;
  for (std::size_t i = 0; i < count; ++i) {
    header h{*rc::gen::arbitrary<std::uint32_t>(), *rc::gen::arbitrary<std::uint32_t>(),
             *rc::gen::arbitrary<std::uint32_t>(), 0};
    const auto len = *rc::gen::oneOf(rc::gen::inRange<std::size_t>(0, 64),
                                     rc::gen::inRange<std::size_t>(0, xenwire::xenstore::payload_max + 1));
    std::string payload = *rc::gen::container<std::string>(len, rc::gen::arbitrary<char>());
    RC_ASSERT(encode(stream, h, payload));
    h.len = static_cast<std::uint32_t>(len);
    sent.emplace_back(h, std::move(payload));
  }
  const auto sizes = *rc::gen::container<std::vector<std::size_t>>(
      rc::gen::oneOf(rc::gen::inRange<std::size_t>(1, 5), rc::gen::inRange<std::size_t>(1, 9000)));
  frame_decoder d;
  auto got = decode_chunked(d, stream, sizes);
  RC_ASSERT(got.has_value());
  RC_ASSERT(*got == sent);
  RC_ASSERT(d.idle());
}

// Whatever the bytes, the decoder neither crashes nor buffers more than one frame, and once it
// fails it stays failed.
RC_GTEST_PROP(WireFrameProp, ArbitraryBytesAreBounded, ()) {
  const auto bytes = *rc::gen::container<std::string>(rc::gen::arbitrary<char>());
  const auto sizes = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(1, 40)));
  frame_decoder d;
  std::string_view rest = bytes;
  std::size_t i = 0;
  bool failed = false;
  while (!rest.empty()) {
    std::string_view chunk = rest.substr(0, sizes[i++ % sizes.size()]);
    rest.remove_prefix(chunk.size());
    for (;;) {
      auto r = d.next(chunk);
      RC_ASSERT(d.buffered() <= frame_max);
      if (!r) { failed = true; break; }
      if (!*r) break;
      RC_ASSERT((*r)->payload.size() <= xenwire::xenstore::payload_max);
    }
    if (failed) break;
  }
  if (failed) RC_ASSERT(d.failed());
}
