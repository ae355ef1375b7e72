// Domains, their states and transports, check_clean diagnostics, object lifetimes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "sim_test_support.hpp"
#include "xenwire/sim/host.hpp"

namespace xenwire::sim {
namespace {

using test_support::error_of;
using ::testing::HasSubstr;

TEST(SimHost, DomainLifecycle) {
  host h;
  EXPECT_EQ(error_of(h.state(1)), errc::no_such_domain);
  ASSERT_TRUE(h.create_domain(1));
  EXPECT_EQ(h.state(1).value(), domain_state::alive);
  EXPECT_EQ(error_of(h.create_domain(1)), errc::invalid_argument);  // exists
  EXPECT_EQ(error_of(h.create_domain(domid_self)), errc::invalid_argument);
  EXPECT_EQ(error_of(h.create_domain(0x7FF0)), errc::invalid_argument);
  ASSERT_TRUE(h.destroy_domain(1));
  EXPECT_EQ(h.state(1).value(), domain_state::dead);  // nobody mapped its pages
  EXPECT_TRUE(h.destroy_domain(1));                   // idempotent
  EXPECT_EQ(error_of(h.destroy_domain(7)), errc::no_such_domain);
  EXPECT_EQ(error_of(h.transport(1)), errc::domain_dying);
  EXPECT_EQ(error_of(h.transport(7)), errc::no_such_domain);
  ASSERT_TRUE(h.create_domain(1));  // a dead domid can be reused
  EXPECT_EQ(h.state(1).value(), domain_state::alive);
  EXPECT_TRUE(h.check_clean());
}

TEST(SimHost, DyingUntilPeersUnmap) {
  host h;
  ASSERT_TRUE(h.create_domain(1));
  ASSERT_TRUE(h.create_domain(2));
  auto t1 = h.transport(1).value();
  auto t2 = h.transport(2).value();
  auto shared = t1->grants().share(2, 2, access::read_write).value();
  auto mapped = t2->grants().map(1, shared->refs(), access::read_write).value();
  std::memcpy(shared->bytes().data(), "hello", 5);

  ASSERT_TRUE(h.destroy_domain(1));
  EXPECT_EQ(h.state(1).value(), domain_state::dying);
  EXPECT_EQ(error_of(h.create_domain(1)), errc::invalid_argument);  // not dead yet
  // The mapper's memory stays valid and shared with the dead domain's stale view.
  EXPECT_EQ(std::memcmp(mapped->bytes().data(), "hello", 5), 0);
  mapped->bytes()[0] = std::byte{'j'};
  EXPECT_EQ(shared->bytes()[0], std::byte{'j'});
  EXPECT_FALSE(h.check_clean(1));
  // Nothing new can be mapped from a dying domain.
  EXPECT_EQ(error_of(t2->grants().map(1, shared->refs(), access::read_write)), errc::domain_dying);

  mapped.reset();
  EXPECT_EQ(h.state(1).value(), domain_state::dead);
  EXPECT_TRUE(h.check_clean(1));
  ASSERT_TRUE(h.destroy_domain(2));
  EXPECT_TRUE(h.check_clean());
  EXPECT_EQ(h.pages_in_use(), 2U);  // the dead domain's `shared` object still views them
  shared.reset();
  EXPECT_EQ(h.pages_in_use(), 0U);
}

TEST(SimHost, StaleObjectsFailWithDomainDying) {
  host h;
  ASSERT_TRUE(h.create_domain(1));
  ASSERT_TRUE(h.create_domain(2));
  auto t1 = h.transport(1).value();
  auto ev = t1->open_event_channel().value();
  auto port = ev->bind_unbound(2).value();
  auto shared = t1->grants().share(2, 1, access::read_only).value();
  ASSERT_TRUE(h.destroy_domain(1));
  EXPECT_EQ(t1->self(), 1);
  EXPECT_EQ(error_of(t1->grants().share(2, 1, access::read_only)), errc::domain_dying);
  EXPECT_EQ(error_of(t1->open_event_channel()), errc::domain_dying);
  EXPECT_EQ(error_of(ev->notify(port)), errc::domain_dying);
  EXPECT_EQ(error_of(ev->pending()), errc::domain_dying);
  EXPECT_EQ(error_of(ev->wait(std::chrono::milliseconds(-1))), errc::domain_dying);  // does not block
  EXPECT_TRUE(test_support::readable(ev->fd()));
  shared->bytes()[0] = std::byte{1};  // still mapped for code still running on behalf of dom1
  EXPECT_TRUE(h.check_clean());
}

TEST(SimHost, CheckCleanListsEveryLeak) {
  host h;
  ASSERT_TRUE(h.create_domain(1));
  ASSERT_TRUE(h.create_domain(2));
  auto t1 = h.transport(1).value();
  auto t2 = h.transport(2).value();
  auto shared = t1->grants().share(2, 1, access::read_only).value();
  auto mapped = t2->grants().map(1, shared->refs(), access::read_only).value();
  auto ev = t1->open_event_channel().value();
  auto port = ev->bind_unbound(2).value();

  clean_report report = h.check_clean();
  EXPECT_FALSE(report.ok());
  ASSERT_EQ(report.leaks().size(), 3U);
  const std::string ref = std::to_string(shared->refs()[0]);
  EXPECT_THAT(report.describe(), HasSubstr("dom1: grant ref " + ref + " to dom2 (read_only), shared, mapped 1x"));
  EXPECT_THAT(report.describe(), HasSubstr("dom2: mapping of dom1 refs [" + ref + "] (read_only)"));
  EXPECT_THAT(report.describe(), HasSubstr("dom1: port " + std::to_string(port) + " unbound for dom2"));
  // Converts to an AssertionResult carrying the listing, so EXPECT_TRUE(h.check_clean()) explains itself.
  ::testing::AssertionResult as_assertion = h.check_clean();
  EXPECT_FALSE(as_assertion);
  EXPECT_THAT(as_assertion.message(), HasSubstr("3 leaked resource(s)"));
  EXPECT_FALSE(h.check_clean(2));
  EXPECT_EQ(h.check_clean(9).leaks().at(0), "dom9: no such domain");

  mapped.reset();
  shared.reset();
  ASSERT_TRUE(ev->unbind(port));
  EXPECT_TRUE(h.check_clean());
  EXPECT_EQ(h.check_clean().describe(), "clean");
}

TEST(SimHost, ObjectsMayOutliveTheHost) {
  std::unique_ptr<shared_pages> shared;
  std::unique_ptr<mapped_pages> mapped;
  std::unique_ptr<event_channel> ev;
  std::unique_ptr<domain_transport> t1;
  {
    host h;
    ASSERT_TRUE(h.create_domain(1, {.xenstore = true}));
    ASSERT_TRUE(h.create_domain(2));
    t1 = h.transport(1).value();
    auto t2 = h.transport(2).value();
    shared = t1->grants().share(2, 1, access::read_write).value();
    mapped = t2->grants().map(1, shared->refs(), access::read_write).value();
    ev = t2->open_event_channel().value();
    ASSERT_TRUE(ev->bind_unbound(1));
  }
  mapped->bytes()[0] = std::byte{7};
  EXPECT_EQ(shared->bytes()[0], std::byte{7});
  EXPECT_TRUE(t1->open_event_channel());  // the domains live on with the objects
  mapped.reset();
  shared.reset();
  ev.reset();
  t1.reset();
}

TEST(SimHost, XenstoreDomainSetup) {
  host h;
  ASSERT_TRUE(h.create_domain(0));
  auto info = h.create_domain(5, {.xenstore = true}).value();
  EXPECT_EQ(info.domid, 5);
  ASSERT_TRUE(info.xenstore_ref);
  ASSERT_TRUE(info.xenstore_port);
  EXPECT_EQ(*info.xenstore_ref, gnttab_reserved_xenstore);
  EXPECT_EQ(h.info(5).value().xenstore_port, info.xenstore_port);

  // xenstored's side: map ref 1 and bind to the guest's port.
  auto t0 = h.transport(0).value();
  auto page = t0->grants().map(5, std::span(&*info.xenstore_ref, 1), access::read_write).value();
  auto xs_events = t0->open_event_channel().value();
  auto local = xs_events->bind_interdomain(5, *info.xenstore_port).value();
  EXPECT_EQ(xs_events->pending().value(), local);

  // The guest's side.
  auto t5 = h.transport(5).value();
  auto guest = t5->take_xenstore().value();
  EXPECT_EQ(error_of(t5->take_xenstore()), errc::invalid_argument);  // once
  ASSERT_EQ(guest.page->refs().size(), 1U);
  EXPECT_EQ(guest.page->refs()[0], gnttab_reserved_xenstore);
  EXPECT_EQ(guest.page->peer(), 0);
  EXPECT_EQ(guest.port, *info.xenstore_port);
  guest.page->bytes()[100] = std::byte{42};
  EXPECT_EQ(page->bytes()[100], std::byte{42});
  ASSERT_TRUE(guest.events->notify(guest.port));
  EXPECT_EQ(xs_events->pending().value(), local);

  // Ordinary grants never use the reserved refs.
  auto other = t5->grants().share(0, 1, access::read_only).value();
  EXPECT_GE(other->refs()[0], 8U);

  for (domid_t d : {domid_t{0}, domid_t{5}}) ASSERT_TRUE(h.destroy_domain(d));
  EXPECT_TRUE(h.check_clean());
}

TEST(SimHost, XenstoreSetupReleasedOnDeathWhenNeverTaken) {
  host h;
  ASSERT_TRUE(h.create_domain(3, {.xenstore = true, .xenstore_domid = 0}));
  EXPECT_FALSE(h.check_clean(3));  // the page and the port are allocated
  ASSERT_TRUE(h.destroy_domain(3));
  EXPECT_EQ(h.state(3).value(), domain_state::dead);
  EXPECT_TRUE(h.check_clean());
  EXPECT_EQ(h.pages_in_use(), 0U);
}

TEST(SimHost, GrantLimitsPerDomain) {
  host h(host_options{.grant_limit = 4, .port_limit = 1024});
  ASSERT_TRUE(h.create_domain(1));
  auto t1 = h.transport(1).value();
  auto a = t1->grants().share(0, 3, access::read_write).value();
  EXPECT_EQ(error_of(t1->grants().share(0, 2, access::read_write)), errc::grant_exhausted);
  auto b = t1->grants().share(0, 1, access::read_write).value();
  EXPECT_EQ(error_of(t1->grants().share(0, 1, access::read_write)), errc::grant_exhausted);
  ASSERT_TRUE(h.set_grant_limit(1, 5));
  auto c = t1->grants().share(0, 1, access::read_write).value();
  a.reset();
  auto d = t1->grants().share(0, 3, access::read_write).value();
  EXPECT_EQ(error_of(h.set_grant_limit(9, 1)), errc::no_such_domain);
}

TEST(SimHost, DefaultGrantLimitIsGntallocs) {
  host h;
  ASSERT_TRUE(h.create_domain(1));
  auto t1 = h.transport(1).value();
  auto all = t1->grants().share(0, 1024, access::read_only).value();
  EXPECT_EQ(all->refs().size(), 1024U);
  EXPECT_EQ(all->bytes().size(), 1024U * page_size);
  EXPECT_EQ(error_of(t1->grants().share(0, 1, access::read_only)), errc::grant_exhausted);
}

}  // namespace
}  // namespace xenwire::sim
