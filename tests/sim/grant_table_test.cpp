// Grant tables: share/map, access modes, faults on read-only writes, unshare while mapped,
// unmap-notify on unmap, unshare and death, and every error of the seam.
#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "sim_test_support.hpp"
#include "xenwire/sim/host.hpp"

namespace xenwire::sim {
namespace {

using test_support::error_of;
using grants = test_support::three_domains;

TEST_F(grants, SharedBytesAreVisibleBothWays) {
  auto shared = t1->grants().share(0, 2, access::read_write).value();
  ASSERT_EQ(shared->refs().size(), 2U);
  EXPECT_EQ(shared->bytes().size(), 2 * page_size);
  EXPECT_EQ(shared->peer(), 0);
  for (std::byte b : shared->bytes()) ASSERT_EQ(b, std::byte{0});  // fresh pages are zeroed
  auto mapped = t0->grants().map(1, shared->refs(), access::read_write).value();
  EXPECT_EQ(mapped->peer(), 1);
  EXPECT_EQ(mapped->mode(), access::read_write);
  ASSERT_EQ(mapped->bytes().size(), 2 * page_size);
  shared->bytes()[page_size + 3] = std::byte{0x5A};
  EXPECT_EQ(mapped->bytes()[page_size + 3], std::byte{0x5A});
  mapped->bytes()[17] = std::byte{0xA5};
  EXPECT_EQ(shared->bytes()[17], std::byte{0xA5});
}

TEST_F(grants, MultiRefMapIsOneContiguousRegionInRefOrder) {
  std::array<std::unique_ptr<shared_pages>, 3> pages;
  std::array<grant_ref_t, 3> refs{};
  for (std::size_t i = 0; i < 3; ++i) {
    pages[i] = t1->grants().share(2, 1, access::read_write).value();
    pages[i]->bytes()[0] = std::byte(i + 1);
  }
  refs = {pages[2]->refs()[0], pages[0]->refs()[0], pages[1]->refs()[0]};
  auto mapped = t2->grants().map(1, refs, access::read_write).value();
  EXPECT_EQ(mapped->bytes()[0], std::byte{3});
  EXPECT_EQ(mapped->bytes()[page_size], std::byte{1});
  EXPECT_EQ(mapped->bytes()[2 * page_size], std::byte{2});
  mapped->bytes()[page_size + 1] = std::byte{9};
  EXPECT_EQ(pages[0]->bytes()[1], std::byte{9});
}

TEST_F(grants, FreshPagesAreZeroedAfterReuse) {
  auto first = t1->grants().share(0, 4, access::read_write).value();
  std::memset(first->bytes().data(), 0xFF, first->bytes().size());
  first.reset();
  auto second = t1->grants().share(0, 4, access::read_write).value();
  for (std::byte b : second->bytes()) ASSERT_EQ(b, std::byte{0});
  EXPECT_NE(second->refs()[0], grant_ref_t{8});  // next-fit: freed refs are not reused at once
}

TEST_F(grants, OnlyTheGranteeMayMap) {
  auto shared = t1->grants().share(0, 1, access::read_write).value();
  EXPECT_EQ(error_of(t2->grants().map(1, shared->refs(), access::read_write)), errc::permission_denied);
  EXPECT_EQ(error_of(t1->grants().map(domid_self, shared->refs(), access::read_only)), errc::permission_denied);
}

TEST_F(grants, ReadOnlyGrantsRefuseWritableMaps) {
  auto shared = t1->grants().share(0, 1, access::read_only).value();
  shared->bytes()[0] = std::byte{1};
  EXPECT_EQ(error_of(t0->grants().map(1, shared->refs(), access::read_write)), errc::permission_denied);
  auto mapped = t0->grants().map(1, shared->refs(), access::read_only).value();
  EXPECT_EQ(mapped->mode(), access::read_only);
  EXPECT_EQ(mapped->bytes()[0], std::byte{1});
}

TEST_F(grants, BadArgumentsAreTypedErrors) {
  auto shared = t1->grants().share(0, 1, access::read_write).value();
  const grant_ref_t unknown[] = {4000};
  EXPECT_EQ(error_of(t0->grants().map(1, unknown, access::read_only)), errc::bad_grant_ref);
  EXPECT_EQ(error_of(t0->grants().map(1, {}, access::read_only)), errc::invalid_argument);
  EXPECT_EQ(error_of(t0->grants().map(9, shared->refs(), access::read_only)), errc::no_such_domain);
  EXPECT_EQ(error_of(t1->grants().share(0, 0, access::read_write)), errc::invalid_argument);
  EXPECT_EQ(error_of(t1->grants().share(0x7FF1, 1, access::read_write)), errc::invalid_argument);
  // Granting to a domain that does not exist yet is allowed, as in Xen.
  EXPECT_TRUE(t1->grants().share(42, 1, access::read_write));
}

TEST_F(grants, SharingToSelfWorks) {
  auto shared = t1->grants().share(domid_self, 1, access::read_write).value();
  EXPECT_EQ(shared->peer(), 1);
  auto mapped = t1->grants().map(domid_self, shared->refs(), access::read_write).value();
  mapped->bytes()[5] = std::byte{5};
  EXPECT_EQ(shared->bytes()[5], std::byte{5});
}

using grants_death = grants;

TEST_F(grants_death, WritesThroughReadOnlyMappingsFault) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto ro_grant = t1->grants().share(0, 1, access::read_only).value();
  auto mapped = t0->grants().map(1, ro_grant->refs(), access::read_only).value();
  volatile std::byte* p = mapped->bytes().data();
  const std::byte before = p[0];
  EXPECT_EQ(before, std::byte{0});
  EXPECT_DEATH({ p[0] = std::byte{1}; }, "");

  // A read-only map of a writable grant is read-only too.
  auto rw_grant = t1->grants().share(0, 2, access::read_write).value();
  auto ro_map = t0->grants().map(1, rw_grant->refs(), access::read_only).value();
  volatile std::byte* q = ro_map->bytes().data();
  EXPECT_DEATH({ q[page_size + 1] = std::byte{1}; }, "");
  rw_grant->bytes()[page_size + 1] = std::byte{3};
  const std::byte seen = q[page_size + 1];
  EXPECT_EQ(seen, std::byte{3});
}

TEST_F(grants, UnshareWhileMappedKeepsTheRefUntilUnmap) {
  auto shared = t1->grants().share(0, 1, access::read_write).value();
  const grant_ref_t ref = shared->refs()[0];
  auto mapped = t0->grants().map(1, shared->refs(), access::read_write).value();
  shared->bytes()[0] = std::byte{1};
  shared.reset();  // gntalloc: the ref stays allocated while dom0 maps it
  auto report = host.check_clean(1);
  ASSERT_EQ(report.leaks().size(), 1U);
  EXPECT_EQ(report.leaks()[0], "dom1: grant ref " + std::to_string(ref) + " to dom0 (read_write), unshared, mapped 1x");
  EXPECT_EQ(mapped->bytes()[0], std::byte{1});  // memory valid for the mapper
  mapped->bytes()[1] = std::byte{2};
  EXPECT_EQ(error_of(t0->grants().map(1, std::span(&ref, 1), access::read_write)), errc::bad_grant_ref);
  EXPECT_EQ(host.pages_in_use(), 1U);
  mapped.reset();
  EXPECT_TRUE(host.check_clean());
  EXPECT_EQ(host.pages_in_use(), 0U);
}

TEST_F(grants, UnmapNotifyOnUnmap) {
  auto ch = test_support::connect(*t1, *t0);  // a in dom1, b in dom0
  auto shared = t1->grants().share(0, 2, access::read_write).value();
  shared->bytes()[10] = std::byte{1};
  auto mapped =
      t0->grants().map(1, shared->refs(), access::read_write, {.clear_byte = 10, .port = ch.pb}).value();
  EXPECT_EQ(ch.a->pending().value(), std::nullopt);
  mapped.reset();
  EXPECT_EQ(shared->bytes()[10], std::byte{0});
  EXPECT_EQ(ch.a->pending().value(), ch.pa);
}

TEST_F(grants, UnmapNotifyOnUnshare) {
  auto ch = test_support::connect(*t1, *t0);
  auto shared = t1->grants().share(0, 1, access::read_write, {.clear_byte = 4095, .port = ch.pa}).value();
  auto mapped = t0->grants().map(1, shared->refs(), access::read_write).value();
  mapped->bytes()[4095] = std::byte{1};
  shared.reset();
  EXPECT_EQ(mapped->bytes()[4095], std::byte{0});
  EXPECT_EQ(ch.b->pending().value(), ch.pb);
}

TEST_F(grants, UnmapNotifyFiresWhenTheMapperDies) {
  auto ch = test_support::connect(*t1, *t0);
  auto shared = t1->grants().share(0, 1, access::read_write).value();
  auto mapped = t0->grants().map(1, shared->refs(), access::read_write, {.clear_byte = 0, .port = ch.pb}).value();
  shared->bytes()[0] = std::byte{1};
  ASSERT_TRUE(host.destroy_domain(0));
  EXPECT_EQ(shared->bytes()[0], std::byte{0});
  EXPECT_EQ(ch.a->pending().value(), ch.pa);  // the notify, and the closure of dom0's port
  EXPECT_EQ(ch.a->state(ch.pa).value(), port_state::peer_closed);
  EXPECT_EQ(host.state(0).value(), domain_state::dead);
}

TEST_F(grants, ShareNotifyFiresWhenTheOwnerDies) {
  auto ch = test_support::connect(*t1, *t2);
  auto shared = t1->grants().share(2, 1, access::read_write, {.clear_byte = 7, .port = ch.pa}).value();
  auto mapped = t2->grants().map(1, shared->refs(), access::read_write).value();
  mapped->bytes()[7] = std::byte{1};
  ASSERT_TRUE(host.destroy_domain(1));
  EXPECT_EQ(mapped->bytes()[7], std::byte{0});
  EXPECT_EQ(ch.b->pending().value(), ch.pb);
  EXPECT_EQ(ch.b->state(ch.pb).value(), port_state::peer_closed);
  EXPECT_EQ(host.state(1).value(), domain_state::dying);
  mapped.reset();
  EXPECT_EQ(host.state(1).value(), domain_state::dead);
}

TEST_F(grants, UnmapNotifyArgumentsAreChecked) {
  auto ev = t0->open_event_channel().value();
  auto port = ev->bind_unbound(1).value();
  auto shared = t1->grants().share(0, 1, access::read_write).value();
  EXPECT_EQ(error_of(t0->grants().map(1, shared->refs(), access::read_write, {.clear_byte = page_size, .port = {}})),
            errc::invalid_argument);
  EXPECT_EQ(error_of(t0->grants().map(1, shared->refs(), access::read_write, {.clear_byte = {}, .port = 999})), errc::bad_port);
  EXPECT_EQ(error_of(t0->grants().map(1, shared->refs(), access::read_only, {.clear_byte = 0, .port = {}})), errc::read_only);
  EXPECT_EQ(error_of(t1->grants().share(0, 1, access::read_write, {.clear_byte = {}, .port = port})), errc::bad_port);  // dom0's
  EXPECT_EQ(error_of(t1->grants().share(0, 1, access::read_write, {.clear_byte = 5000, .port = {}})), errc::invalid_argument);
  // A notify port that was unbound since is skipped silently at unmap time (it has nobody to tell).
  auto mapped = t0->grants().map(1, shared->refs(), access::read_only, {.clear_byte = {}, .port = port}).value();
  ASSERT_TRUE(ev->unbind(port));
  mapped.reset();
  EXPECT_TRUE(host.check_clean(0));
}

}  // namespace
}  // namespace xenwire::sim
