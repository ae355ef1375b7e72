#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "xenwire/xenstore/perms.hpp"

using namespace xenwire::xenstore;
using namespace std::string_literals;

TEST(Perms, ParseGood) {
  EXPECT_EQ(parse_perms("r0\0"s).value(), (node_perms{{0, perm::read}}));
  EXPECT_EQ(parse_perms("n5\0w0\0b65535\0r12\0"s).value(),
            (node_perms{{5, perm::none}, {0, perm::write}, {65535, perm::both}, {12, perm::read}}));
  EXPECT_EQ(parse_perm_entry("b7").value(), (perm_entry{7, perm::both}));
}

TEST(Perms, ParseRejectsGarbage) {
  for (auto bad : {""s, "r0"s, "\0"s, "r\0"s, "x0\0"s, "R0\0"s, "r-1\0"s, "r+1\0"s, "r 1\0"s, "r1 \0"s,
                   "r65536\0"s, "r0\0\0"s, "r0\0w"s, "rw0\0"s, "r0x\0"s, "r99999999999999999999\0"s})
    EXPECT_EQ(parse_perms(bad).error(), xs_error::einval) << testing::PrintToString(bad);
}

TEST(Perms, FormatMatchesWire) {
  node_perms p{{0, perm::read}, {5, perm::both}, {65535, perm::none}, {3, perm::write}};
  EXPECT_EQ(format_perms(p), "r0\0b5\0n65535\0w3\0"s);
  EXPECT_EQ(formatted_perms_size(p), format_perms(p).size());
  std::string out = "x";
  format_perms(p, out);
  EXPECT_EQ(out, "xr0\0b5\0n65535\0w3\0"s);
}

namespace {
const node_perms owned_by_5{{5, perm::none}, {7, perm::read}, {8, perm::write}, {9, perm::both}};
const node_perms default_read{{5, perm::read}, {7, perm::none}};
}  // namespace

TEST(Perms, AccessTable) {
  struct row { const node_perms* perms; accessor who; perm expect; const char* why; };
  const row rows[] = {
      {&owned_by_5, {5}, perm::both, "owner always has full access"},
      {&owned_by_5, {7}, perm::read, "listed read"},
      {&owned_by_5, {8}, perm::write, "listed write"},
      {&owned_by_5, {9}, perm::both, "listed both"},
      {&owned_by_5, {10}, perm::none, "unlisted: entry 0's flag (none)"},
      {&default_read, {10}, perm::read, "unlisted: entry 0's flag (read)"},
      {&default_read, {7}, perm::none, "a listed entry overrides the default"},
      {&owned_by_5, {10, true}, perm::both, "privileged: everything"},
      {&owned_by_5, {0, false}, perm::none, "dom0 is only privileged when the caller says so"},
      {&owned_by_5, {11, false, 5}, perm::both, "target-holder of the owner: full"},
      {&owned_by_5, {11, false, 7}, perm::read, "inherits its target's entry"},
      {&owned_by_5, {11, false, 12}, perm::none, "target not listed: the default"},
      {&owned_by_5, {7, false, 9}, perm::read, "first matching entry wins (7 before 9)"},
      {&owned_by_5, {9, false, 7}, perm::read, "first matching entry wins (target 7 listed first)"},
  };
  for (const auto& r : rows) EXPECT_EQ(effective_perm(*r.perms, r.who), r.expect) << r.why;

  EXPECT_TRUE(can_access(owned_by_5, {7}, perm::read));
  EXPECT_FALSE(can_access(owned_by_5, {7}, perm::write));
  EXPECT_FALSE(can_access(owned_by_5, {7}, perm::both));
  EXPECT_TRUE(can_access(owned_by_5, {10}, perm::none));
  EXPECT_TRUE(has_owner_rights(owned_by_5, {5}));
  EXPECT_TRUE(has_owner_rights(owned_by_5, {1, false, 5}));
  EXPECT_TRUE(has_owner_rights(owned_by_5, {1, true}));
  EXPECT_FALSE(has_owner_rights(owned_by_5, {9}));
}

TEST(Perms, DomidAnyMatchesEveryDomainUnlessIgnored) {
  const node_perms any_reads{{5, perm::none}, {7, perm::write}, {domid_any, perm::read}};
  EXPECT_EQ(effective_perm(any_reads, {9}), perm::read);
  EXPECT_EQ(effective_perm(any_reads, {7}), perm::write);  // an earlier entry naming the caller wins
  EXPECT_EQ(effective_perm(any_reads, {5}), perm::both);
  node_perms ignored = any_reads;
  ignored[2].ignored = true;
  EXPECT_EQ(effective_perm(ignored, {9}), perm::none);
  EXPECT_EQ(format_perms(ignored), format_perms(any_reads));  // the wire form does not show it
  const node_perms any_owns{{domid_any, perm::none}};
  EXPECT_TRUE(has_owner_rights(any_owns, {9}));
  EXPECT_EQ(effective_perm(any_owns, {9}), perm::both);
  EXPECT_EQ(domid_any, 0x7FF5);
}

TEST(Perms, EmptyListGrantsNothingToTheUnprivileged) {
  EXPECT_EQ(effective_perm({}, {5}), perm::none);
  EXPECT_EQ(effective_perm({}, {5, true}), perm::both);
  EXPECT_FALSE(has_owner_rights({}, {5}));
}

TEST(Perms, LettersRoundTrip) {
  for (perm p : {perm::none, perm::read, perm::write, perm::both}) EXPECT_EQ(perm_from_letter(perm_letter(p)), p);
  EXPECT_FALSE(perm_from_letter('x'));
  EXPECT_FALSE(perm_from_letter('\0'));
}

namespace {
rc::Gen<perm_entry> gen_entry() {
  return rc::gen::build<perm_entry>(rc::gen::set(&perm_entry::domid),
                                    rc::gen::set(&perm_entry::access, rc::gen::element(perm::none, perm::read,
                                                                                      perm::write, perm::both)));
}
}  // namespace

RC_GTEST_PROP(PermsProp, FormatParseRoundTrip, ()) {
  const auto perms = *rc::gen::nonEmpty(rc::gen::container<node_perms>(gen_entry()));
  const auto wire = format_perms(perms);
  RC_ASSERT(wire.size() == formatted_perms_size(perms));
  RC_ASSERT(parse_perms(wire).value() == perms);
}

RC_GTEST_PROP(PermsProp, ParseIsStrict, (const std::string& bytes)) {
  auto p = parse_perms(bytes);
  if (p) RC_ASSERT(format_perms(*p).size() <= bytes.size());  // leading zeros may shrink, nothing else
}

RC_GTEST_PROP(PermsProp, OwnerAndPrivilegedAlwaysHaveBoth, ()) {
  const auto perms = *rc::gen::nonEmpty(rc::gen::container<node_perms>(gen_entry()));
  RC_ASSERT(effective_perm(perms, {perms[0].domid}) == perm::both);
  RC_ASSERT(effective_perm(perms, {*rc::gen::arbitrary<std::uint16_t>(), true}) == perm::both);
}
