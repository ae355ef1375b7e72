#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "xenwire/xenstore/path.hpp"

using namespace xenwire::xenstore;
namespace xs = xenwire::xenstore;

TEST(Path, SyntaxTable) {
  for (const char* good : {"/", "/a", "/a/b", "/local/domain/0", "/A-Z_a@9", "rel", "rel/x", "@x", "-"})
    EXPECT_TRUE(is_valid_path_syntax(good)) << good;
  for (const char* bad : {"", "//", "/a/", "/a//b", "a/", "/a b", "/a.b", "/a\\b", "/\xc3\xa9", "/a*", "/a\n", "rel/"})
    EXPECT_FALSE(is_valid_path_syntax(bad)) << bad;
  EXPECT_FALSE(is_valid_path_syntax(std::string("/a\0b", 4)));
}

TEST(Path, AbsoluteLengthLimit) {
  const std::string at_max = "/" + std::string(xs::abs_path_max - 1, 'a');
  EXPECT_TRUE(is_valid_absolute_path(at_max));
  EXPECT_FALSE(is_valid_absolute_path(at_max + "a"));
  EXPECT_FALSE(is_valid_absolute_path("rel"));
}

TEST(Path, ResolveAbsolute) {
  auto r = resolve_path("/a/b", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "/a/b");
  EXPECT_FALSE(r->relative);
  EXPECT_FALSE(r->special);
  EXPECT_EQ(resolve_path("/", {})->path, "/");
}

TEST(Path, ResolveRelativeUnderHome) {
  auto r = resolve_path("device/vif/0", {.home_domid = 7});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "/local/domain/7/device/vif/0");
  EXPECT_TRUE(r->relative);
  EXPECT_EQ(domain_home(65535), "/local/domain/65535");
}

TEST(Path, ResolveRejectsMalformed) {
  for (const char* bad : {"", "//", "/a/", "rel/", "a//b", "/a b", "@", "@foo", "@introduceDomain/x"})
    EXPECT_EQ(resolve_path(bad, {.allow_special = true}).error(), xs_error::einval) << bad;
}

TEST(Path, SpecialPaths) {
  EXPECT_EQ(parse_special_path("@introduceDomain"), (special_path{special_kind::introduce_domain, {}}));
  EXPECT_EQ(parse_special_path("@releaseDomain"), (special_path{special_kind::release_domain, {}}));
  EXPECT_EQ(parse_special_path("@releaseDomain/12"), (special_path{special_kind::release_one_domain, 12}));
  for (const char* bad : {"@releaseDomain/", "@releaseDomain/x", "@releaseDomain/65536", "@releaseDomain/-1",
                          "@releaseDomain/1/2", "@releaseDomainX", "@introduceDomain/1", "@", "introduceDomain",
                          "/@introduceDomain"})
    EXPECT_FALSE(parse_special_path(bad)) << bad;
  auto r = resolve_path("@releaseDomain/3", {.allow_special = true});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "@releaseDomain/3");
  EXPECT_EQ(r->special->domid, 3);
  EXPECT_FALSE(resolve_path("@releaseDomain", {}));  // only where allowed (WATCH/UNWATCH)
}

TEST(Path, RelativeLengthCheckedBeforeAndAfterPrefixing) {
  // XSA-323: the relative limit applies to what was sent, the absolute limit after prefixing.
  const std::string rel_max(xs::rel_path_max, 'r');
  EXPECT_TRUE(resolve_path(rel_max, {.home_domid = 1}));
  EXPECT_FALSE(resolve_path(rel_max + "r", {.home_domid = 1}));
  // A relative path of rel_path_max under a 5-digit home stays within the absolute limit.
  EXPECT_LE(resolve_path(rel_max, {.home_domid = 65535})->path.size(), xs::abs_path_max);
}

TEST(Path, QuotaCountsWhatFollowsTheHomePrefix) {
  EXPECT_EQ(quota_path_length("/local/domain/5/abc"), 3u);
  EXPECT_EQ(quota_path_length("/local/domain/65535/a"), 1u);
  EXPECT_EQ(quota_path_length("/local/domain/5"), 15u);     // the home itself: no "<home>/" prefix
  EXPECT_EQ(quota_path_length("/local/domain/x/abc"), 19u);  // not a domid
  EXPECT_EQ(quota_path_length("/local/domain/65536/a"), 21u);
  EXPECT_EQ(quota_path_length("/local/domain"), 13u);
  EXPECT_EQ(quota_path_length("/vm/abc"), 7u);

  // Relative and absolute spellings of the same node count the same (XSA-323 lesson).
  const std::string tail(100, 'q');
  resolve_options o{.home_domid = 3, .path_quota = 100};
  EXPECT_TRUE(resolve_path(tail, o));
  EXPECT_TRUE(resolve_path("/local/domain/3/" + tail, o));
  EXPECT_FALSE(resolve_path(tail + "q", o));
  EXPECT_FALSE(resolve_path("/local/domain/3/" + tail + "q", o));
  EXPECT_FALSE(resolve_path("/vm/" + tail, o));  // outside any home: the whole length counts
  o.path_quota = 0;                              // disabled (privileged callers)
  EXPECT_TRUE(resolve_path("/vm/" + std::string(3000, 'v'), o));
}

TEST(Path, LocalDomainEdges) {
  // XSA-481: "/local/domain/" must be refused, not treated as a home with an empty remainder.
  EXPECT_FALSE(resolve_path("/local/domain/", {.path_quota = 2048}));
  EXPECT_FALSE(resolve_path("/local/domain//x", {.path_quota = 2048}));
  EXPECT_TRUE(resolve_path("/local/domain", {.path_quota = 2048}));
  EXPECT_TRUE(resolve_path("/local/domain/0", {.path_quota = 2048}));
  EXPECT_FALSE(to_relative("/local/domain/", 0));
  EXPECT_FALSE(to_relative("/local/domain/0", 0));
  EXPECT_FALSE(to_relative("/local/domain/0/", 0));
}

TEST(Path, HugeLengthsAreRejectedNotTruncated) {
  // XSA-420: lengths that wrap a 16-bit (or larger) counter must still be refused.
  for (std::size_t n : {std::size_t{65536 + 5}, std::size_t{1} << 17, std::size_t{4096} + 1}) {
    std::string p = "/" + std::string(n, 'a');
    EXPECT_FALSE(resolve_path(p, {})) << n;
    EXPECT_FALSE(resolve_path(std::string(n, 'a'), {})) << n;
    EXPECT_FALSE(is_valid_absolute_path(p));
  }
}

TEST(Path, TreeRelations) {
  EXPECT_EQ(parent("/a/b"), "/a");
  EXPECT_EQ(parent("/a"), "/");
  EXPECT_FALSE(parent("/"));
  EXPECT_EQ(base_name("/a/b"), "b");
  EXPECT_EQ(base_name("/a"), "a");
  EXPECT_EQ(base_name("/"), "");
  EXPECT_TRUE(is_ancestor_or_self("/", "/"));
  EXPECT_TRUE(is_ancestor_or_self("/", "/a/b"));
  EXPECT_TRUE(is_ancestor_or_self("/a", "/a"));
  EXPECT_TRUE(is_ancestor_or_self("/a", "/a/b/c"));
  EXPECT_FALSE(is_ancestor_or_self("/a", "/ab"));
  EXPECT_FALSE(is_ancestor_or_self("/a/b", "/a"));
  EXPECT_FALSE(is_ancestor_or_self("/", "@releaseDomain"));
  EXPECT_EQ(depth("/"), 0u);
  EXPECT_EQ(depth("/a"), 1u);
  EXPECT_EQ(depth("/a/b/c"), 3u);
}

TEST(Path, ToRelative) {
  EXPECT_EQ(to_relative("/local/domain/7/device/vif", 7), "device/vif");
  EXPECT_EQ(to_relative("/local/domain/7/x", 7), "x");
  EXPECT_FALSE(to_relative("/local/domain/7", 7));
  EXPECT_FALSE(to_relative("/local/domain/70/x", 7));
  EXPECT_FALSE(to_relative("/local/domain/8/x", 7));
  EXPECT_FALSE(to_relative("/vm/x", 7));
  EXPECT_FALSE(to_relative("/local/domain/7/", 7));
}

RC_GTEST_PROP(PathProp, RelativeResolvesAndComesBack, (std::uint16_t domid)) {
  const auto comps = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(
      rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::elementOf(std::string("abcXYZ019-_@"))))));
  std::string rel;
  for (const auto& c : comps) rel += (rel.empty() ? "" : "/") + c;
  RC_PRE(rel.size() <= xs::rel_path_max);
  RC_PRE(rel.front() != '@');  // "@..." is a special path, not a relative one
  auto r = resolve_path(rel, {.home_domid = domid});
  RC_ASSERT(r.has_value());
  RC_ASSERT(is_valid_absolute_path(r->path));
  RC_ASSERT(to_relative(r->path, domid) == std::optional<std::string_view>(rel));
  RC_ASSERT(quota_path_length(r->path) == rel.size());
  RC_ASSERT(is_ancestor_or_self(domain_home(domid), r->path));
  // Walking up parents always ends at the root, in depth() steps.
  std::string_view p = r->path;
  std::size_t steps = 0;
  while (auto up = parent(p)) {
    RC_ASSERT(is_ancestor_or_self(*up, p));
    p = *up;
    ++steps;
  }
  RC_ASSERT(p == "/");
  RC_ASSERT(steps == depth(r->path));
}

// Arbitrary input never crashes and whatever is accepted is a valid absolute or special path.
RC_GTEST_PROP(PathProp, AcceptedPathsAreValid, (const std::string& sent, std::uint16_t domid)) {
  auto r = resolve_path(sent, {.home_domid = domid, .allow_special = true, .path_quota = 2048});
  if (!r) return;
  const bool valid = r->special ? parse_special_path(r->path).has_value() : is_valid_absolute_path(r->path);
  RC_ASSERT(valid);
}
