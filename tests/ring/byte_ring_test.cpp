#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "ring_test_support.hpp"
#include "xenwire/ring/byte_ring.hpp"

namespace xenwire {
namespace {

using ring_test::chunk_size;
using ring_test::start_index;
using ring_test::stream_bytes;

// A ring whose data lives in its own heap block of exactly `size` bytes, so that ASan flags any
// access outside it.
struct test_ring {
  explicit test_ring(std::size_t size, std::uint32_t start = 0) : data(new std::byte[size]), n(size) {
    prod = cons = start;
  }
  byte_ring_producer producer() { return byte_ring_producer::attach(&prod, &cons, {data.get(), n}).value(); }
  byte_ring_consumer consumer() { return byte_ring_consumer::attach(&cons, &prod, {data.get(), n}).value(); }
  alignas(4) std::uint32_t prod = 0;
  alignas(4) std::uint32_t cons = 0;
  std::unique_ptr<std::byte[]> data;
  std::size_t n;
};

TEST(ByteRing, RejectsBadGeometry) {
  std::uint32_t a = 0, b = 0;
  std::vector<std::byte> buf(1000);
  EXPECT_EQ(byte_ring_producer::attach(&a, &b, buf).error(), errc::invalid_argument);  // not a power of two
  EXPECT_EQ(byte_ring_consumer::attach(&a, &b, {buf.data(), 0}).error(), errc::invalid_argument);
  EXPECT_EQ(byte_ring_consumer::attach(nullptr, &b, {buf.data(), 512}).error(), errc::invalid_argument);
  EXPECT_TRUE(byte_ring_consumer::attach(&a, &b, {buf.data(), 512}).has_value());
}

TEST(ByteRing, WritesThenReadsAcrossTheEnd) {
  test_ring r(8, 5);
  auto p = r.producer();
  auto c = r.consumer();
  auto in = stream_bytes(0, 6);
  EXPECT_EQ(p.write(in).value(), 6u);  // positions 5,6,7,0,1,2
  EXPECT_EQ(r.prod, 11u);
  EXPECT_EQ(p.space().value(), 2u);
  std::vector<std::byte> out(10);
  EXPECT_EQ(c.read(out).value(), 6u);
  EXPECT_EQ(r.cons, 11u);
  EXPECT_TRUE(std::equal(in.begin(), in.end(), out.begin()));
  EXPECT_EQ(c.available().value(), 0u);
}

TEST(ByteRing, FullRingAcceptsNothingEmptyRingYieldsNothing) {
  test_ring r(4);
  auto p = r.producer();
  auto c = r.consumer();
  std::vector<std::byte> buf(4);
  EXPECT_EQ(c.read(buf).value(), 0u);
  EXPECT_EQ(p.write(stream_bytes(0, 9)).value(), 4u);
  EXPECT_EQ(p.write(stream_bytes(0, 1)).value(), 0u);
  EXPECT_EQ(r.prod, 4u);
}

TEST(ByteRing, WrapsAtTwoToThe32) {
  test_ring r(16, 0xFFFFFFFAu);
  auto p = r.producer();
  auto c = r.consumer();
  auto in = stream_bytes(3, 12);
  ASSERT_EQ(p.write(in).value(), 12u);
  EXPECT_EQ(r.prod, 6u);  // wrapped
  std::vector<std::byte> out(12);
  ASSERT_EQ(c.read(out).value(), 12u);
  EXPECT_EQ(out, in);
}

TEST(ByteRing, PeerOverclaimIsStickyCorruption) {
  test_ring r(16);
  auto c = r.consumer();
  r.prod = 17;  // one more than the ring can hold
  std::vector<std::byte> out(64);
  EXPECT_EQ(c.read(out).error(), errc::ring_corrupt);
  r.prod = 3;  // the peer "fixes" it: too late
  EXPECT_EQ(c.read(out).error(), errc::ring_corrupt);
  EXPECT_EQ(c.available().error(), errc::ring_corrupt);
  EXPECT_EQ(c.error(), errc::ring_corrupt);
  EXPECT_EQ(r.cons, 0u);  // we never moved
}

TEST(ByteRing, PeerConsumerAheadOfUsIsCorruption) {
  test_ring r(16, 100);
  auto p = r.producer();
  r.cons = 101;  // consumed a byte we never wrote
  EXPECT_EQ(p.write(stream_bytes(0, 1)).error(), errc::ring_corrupt);
}

TEST(ByteRing, PeerRewritingOurIndexDoesNotMoveUs) {
  test_ring r(16);
  auto p = r.producer();
  auto c = r.consumer();
  ASSERT_EQ(p.write(stream_bytes(0, 4)).value(), 4u);
  r.cons = 0xDEAD;  // the producer-side peer scribbles on the consumer's index
  std::vector<std::byte> out(4);
  ASSERT_EQ(c.read(out).value(), 4u);  // the consumer uses its private copy
  EXPECT_EQ(out, stream_bytes(0, 4));
  EXPECT_EQ(r.cons, 4u);
}

TEST(ByteRing, ResetAndResync) {
  test_ring r(16, 7);
  auto p = r.producer();
  auto c = r.consumer();
  r.prod = 1000;
  std::vector<std::byte> out(4);
  ASSERT_FALSE(c.read(out).has_value());
  p.reset(0);
  r.cons = 0;
  c.resync();
  EXPECT_FALSE(c.error());
  EXPECT_EQ(c.index(), 0u);
  EXPECT_EQ(c.available().value(), 0u);
}

// Any sequence of write/read chunk sizes, interleaved as drawn, delivers the stream intact.
RC_GTEST_PROP(ByteRingProperty, StreamArrivesIntact, ()) {
  const auto size = *rc::gen::element<std::size_t>(1, 2, 16, 1024, 4096);
  const auto start = *start_index();
  test_ring r(size, start);
  auto p = r.producer();
  auto c = r.consumer();
  const auto ops = *rc::gen::container<std::vector<std::pair<bool, std::size_t>>>(
      rc::gen::pair(rc::gen::arbitrary<bool>(), chunk_size(size)));
  std::size_t written = 0;
  std::vector<std::byte> got;
  for (auto [is_write, len] : ops) {
    if (is_write) {
      const std::size_t space = p.space().value();
      const std::size_t n = p.write(stream_bytes(written, len)).value();
      RC_ASSERT(n == std::min(space, len));
      written += n;
    } else {
      std::vector<std::byte> out(len);
      const std::size_t ready = c.available().value();
      const std::size_t n = c.read(out).value();
      RC_ASSERT(n == std::min(ready, len));
      got.insert(got.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    }
    RC_ASSERT(static_cast<std::uint32_t>(r.prod - r.cons) <= size);
    RC_ASSERT(r.prod == static_cast<std::uint32_t>(start + written));
  }
  std::vector<std::byte> rest(size);
  got.insert(got.end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(c.read(rest).value()));
  RC_ASSERT(got == stream_bytes(0, written));
}

// A hostile peer index: in-range values behave, out-of-range ones give the sticky error once loaded;
// never an out-of-bounds access (the data block is exactly `size` bytes, so ASan would catch one).
// The model mirrors the documented cache: read()/write() load the peer's index only when the value
// last loaded cannot satisfy the whole call.
RC_GTEST_PROP(ByteRingProperty, HostileConsumerSideIndices, ()) {
  const auto size = *rc::gen::element<std::size_t>(1, 16, 1024);
  test_ring r(size, *start_index());
  auto c = r.consumer();
  bool corrupt = false;
  std::uint32_t seen = c.index();  // the model's cached prod: nothing ready before the first load
  const auto steps = *rc::gen::container<std::vector<std::pair<std::uint32_t, std::size_t>>>(
      rc::gen::pair(rc::gen::oneOf(rc::gen::arbitrary<std::uint32_t>(), rc::gen::inRange<std::uint32_t>(0, 2 * 1024u)),
                    chunk_size(size)));
  for (auto [delta, len] : steps) {
    const std::uint32_t cons = c.index();
    r.prod = cons + delta;  // the peer claims `delta` bytes
    std::vector<std::byte> out(len);
    auto n = c.read(out);
    std::size_t ready = seen - cons;
    if (!corrupt && ready < len) {  // the view loads prod
      corrupt = delta > size;
      if (!corrupt) ready = delta, seen = r.prod;
    }
    if (corrupt) {
      RC_ASSERT(!n.has_value());
      RC_ASSERT(n.error() == errc::ring_corrupt);
      RC_ASSERT(c.index() == cons);
    } else {
      RC_ASSERT(n.value() == std::min(ready, len));
      RC_ASSERT(c.index() == static_cast<std::uint32_t>(cons + n.value()));
    }
  }
}

RC_GTEST_PROP(ByteRingProperty, HostileProducerSideIndices, ()) {
  const auto size = *rc::gen::element<std::size_t>(1, 16, 1024);
  test_ring r(size, *start_index());
  auto p = r.producer();
  bool corrupt = false;
  std::uint32_t seen = p.index() - static_cast<std::uint32_t>(size);  // cached cons: no space before a load
  const auto steps = *rc::gen::container<std::vector<std::pair<std::uint32_t, std::size_t>>>(
      rc::gen::pair(rc::gen::arbitrary<std::uint32_t>(), chunk_size(size)));
  for (auto [cons, len] : steps) {
    r.cons = cons;
    const std::uint32_t prod = p.index();
    auto n = p.write(stream_bytes(0, len));
    std::size_t free = size - (prod - seen);
    if (!corrupt && free < len) {  // the view loads cons
      const std::uint32_t used = prod - cons;
      corrupt = used > size;
      if (!corrupt) free = size - used, seen = cons;
    }
    if (corrupt) {
      RC_ASSERT(!n.has_value());
      RC_ASSERT(n.error() == errc::ring_corrupt);
    } else {
      RC_ASSERT(n.value() == std::min(free, len));
    }
  }
}

// The cache never lets the producer overwrite what the consumer has not released: a consumer that
// moves its index backwards (a lie) is caught at the next load, and until then we only use space it
// had released.
TEST(ByteRing, CachedIndexLoadsOnlyWhenShort) {
  test_ring r(16);
  auto p = r.producer();
  auto c = r.consumer();
  std::vector<std::byte> out(16);
  EXPECT_EQ(p.write(stream_bytes(0, 8)).value(), 8u);
  EXPECT_EQ(c.read({out.data(), 8}).value(), 8u);
  EXPECT_EQ(p.space().value(), 16u);                   // loads cons = 8
  EXPECT_EQ(p.write(stream_bytes(0, 4)).value(), 4u);  // by the cache: 12 free after this
  r.cons = 0xdead;                                     // a lie the cached value does not need yet
  EXPECT_EQ(p.write(stream_bytes(0, 12)).value(), 12u);
  EXPECT_EQ(p.write(stream_bytes(0, 1)).error(), errc::ring_corrupt);  // full by the cache: loads
  EXPECT_EQ(p.space().error(), errc::ring_corrupt);
}

TEST(ByteRing, StagedBytesAreInvisibleUntilCommitted) {
  test_ring r(8);
  auto p = r.producer();
  auto c = r.consumer();
  EXPECT_EQ(p.stage(stream_bytes(0, 6)).value(), 6u);
  EXPECT_EQ(r.prod, 0u);
  EXPECT_EQ(c.available().value(), 0u);
  EXPECT_EQ(p.stage(stream_bytes(100, 12)).value(), 8u);  // staged again over the same space
  p.commit(3);
  EXPECT_EQ(r.prod, 3u);
  std::vector<std::byte> out(8);
  EXPECT_EQ(c.read(out).value(), 3u);
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 3, stream_bytes(100, 3).begin()));
}

TEST(ByteRing, SpaceAndAvailableAlwaysLoad) {
  test_ring r(16);
  auto p = r.producer();
  auto c = r.consumer();
  EXPECT_EQ(p.write(stream_bytes(0, 10)).value(), 10u);
  EXPECT_EQ(c.available().value(), 10u);
  r.prod = 100;  // a lie: available() sees it at once
  EXPECT_EQ(c.available().error(), errc::ring_corrupt);
}

}  // namespace
}  // namespace xenwire
