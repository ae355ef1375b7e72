// The Xen backend on a real hypervisor, when there is one: dom0's own channel, a page it grants
// itself, its domain watch. Skips cleanly without /dev/xen (every CI machine): the same code runs
// on the libxen emulation in seam_contract_test.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "xenwire/xen/transport.hpp"

namespace xenwire::xen {
namespace {

using namespace std::chrono_literals;

class real_xen : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/dev/xen/evtchn", F_OK) != 0 || ::access("/dev/xen/gntdev", F_OK) != 0) {
      GTEST_SKIP() << "no /dev/xen/evtchn or /dev/xen/gntdev: not on a Xen host";
    }
    auto opened = transport::open();
    ASSERT_TRUE(opened) << "on a Xen host the backend must open: " << opened.error().message();
    t = std::move(*opened);
  }
  std::unique_ptr<transport> t;
};

TEST_F(real_xen, OwnChannelCarriesAnEventBackToUs) {
  auto h = t->open_event_channel().value();
  const auto local = h->bind_unbound(t->self()).value();
  const auto other = h->bind_interdomain(t->self(), local).value();
  ASSERT_TRUE(h->notify(other));
  EXPECT_EQ(h->wait(2s).value(), local);
}

TEST_F(real_xen, PagesGrantedToOurselvesAreTheSameMemory) {
  auto shared = t->grants().share(t->self(), 1, access::read_write).value();
  auto mapped = t->grants().map(t->self(), shared->refs(), access::read_write).value();
  shared->bytes()[7] = std::byte{42};
  EXPECT_EQ(mapped->bytes()[7], std::byte{42});
}

TEST_F(real_xen, Dom0WatchesDomains) {
  if (t->self() != 0) GTEST_SKIP() << "not dom0";
  auto w = t->watch_domains();
  if (!w && w.error() == errc::invalid_argument) GTEST_SKIP() << "VIRQ_DOM_EXC is bound (a xenstored runs)";
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ((*w)->life(0).value(), domain_life::running);
}

}  // namespace
}  // namespace xenwire::xen
