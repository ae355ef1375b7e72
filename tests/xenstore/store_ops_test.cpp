// Store operations one by one: Xenstore semantics, edge cases, what each reports.
#include <gtest/gtest.h>

#include <string>

#include "xenwire/xenstore/server/store.hpp"

namespace xenwire::xenstore {
namespace {

constexpr creator dom0{0, true};
constexpr creator dom5{5, false};

std::string value_of(const store& s, std::string_view path) { return std::string(s.read(path).value()->value()); }

TEST(store_ops, EmptyStoreHasRootOwnedByDom0) {
  store s;
  auto root = s.read("/");
  ASSERT_TRUE(root);
  EXPECT_EQ((*root)->perms(), (node_perms{{0, perm::none}}));
  EXPECT_EQ((*root)->generation(), 0u);
  EXPECT_TRUE((*root)->children().empty());
  EXPECT_EQ(s.node_count(), 1u);
  EXPECT_TRUE(s.check());
}

TEST(store_ops, WriteCreatesNodeAndMissingParents) {
  store s;
  auto c = s.write("/a/b/c", "hello", dom0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, change_kind::write);
  EXPECT_EQ(c->created, (std::vector<std::string>{"/a", "/a/b", "/a/b/c"}));
  EXPECT_FALSE(c->modified);
  EXPECT_EQ(value_of(s, "/a/b/c"), "hello");
  EXPECT_EQ(value_of(s, "/a/b"), "");
  EXPECT_EQ(value_of(s, "/a"), "");
  EXPECT_EQ(s.read("/a").value()->children().names(), (std::vector<std::string>{"b"}));
  EXPECT_EQ(s.node_count(), 4u);
  EXPECT_TRUE(s.check());
}

TEST(store_ops, WriteValueIsRawBytes) {
  store s;
  const std::string bytes("a\0b\xff", 4);
  ASSERT_TRUE(s.write("/x", bytes, dom0));
  EXPECT_EQ(value_of(s, "/x"), bytes);
}

TEST(store_ops, WriteExistingKeepsPermsAndChildren) {
  store s;
  ASSERT_TRUE(s.write("/a/b", "1", dom0));
  ASSERT_TRUE(s.set_perms("/a", {{3, perm::read}}));
  const auto before = s.read("/a").value();
  auto c = s.write("/a", "v", dom5);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->modified);
  EXPECT_TRUE(c->created.empty());
  const auto after = s.read("/a").value();
  EXPECT_EQ(after->value(), "v");
  EXPECT_EQ(after->perms(), before->perms());  // the writer does not become owner of an existing node
  EXPECT_EQ(after->children().names(), std::vector<std::string>{"b"});
  EXPECT_GT(after->generation(), before->generation());
}

TEST(store_ops, UnprivilegedCreatorOwnsNewNodesAndKeepsInheritedAcl) {
  store s;
  ASSERT_TRUE(s.write("/local/domain/5", "", dom0));
  ASSERT_TRUE(s.set_perms("/local/domain/5", {{0, perm::none}, {5, perm::both}, {7, perm::read}}));
  ASSERT_TRUE(s.write("/local/domain/5/dev/vif", "x", dom5));
  for (auto p : {"/local/domain/5/dev", "/local/domain/5/dev/vif"})
    EXPECT_EQ(s.read(p).value()->perms(), (node_perms{{5, perm::none}, {5, perm::both}, {7, perm::read}})) << p;
}

TEST(store_ops, PrivilegedCreatorKeepsParentOwner) {
  store s;
  ASSERT_TRUE(s.write("/vm", "", dom0));
  ASSERT_TRUE(s.set_perms("/vm", {{9, perm::read}}));
  ASSERT_TRUE(s.write("/vm/a/b", "", creator{0, true}));
  EXPECT_EQ(s.read("/vm/a/b").value()->perms(), (node_perms{{9, perm::read}}));
  // A privileged creator other than dom0 (e.g. a control domain) too.
  ASSERT_TRUE(s.write("/vm/c", "", creator{3, true}));
  EXPECT_EQ(s.read("/vm/c").value()->owner(), 9);
}

TEST(store_ops, GenerationsAreFreshAndParentsChangeOnlyWithTheirChildList) {
  store s;
  ASSERT_TRUE(s.write("/d", "", dom0));
  const auto g0 = s.read("/d").value()->generation();
  ASSERT_TRUE(s.write("/d/x", "1", dom0));
  const auto g1 = s.read("/d").value()->generation();
  EXPECT_GT(g1, g0);  // child added: DIRECTORY_PART's gencnt changes
  ASSERT_TRUE(s.write("/d/x", "2", dom0));
  EXPECT_EQ(s.read("/d").value()->generation(), g1);  // child's value: parent unchanged
  ASSERT_TRUE(s.rm("/d/x"));
  EXPECT_GT(s.read("/d").value()->generation(), g1);  // child removed
  EXPECT_LE(s.read("/d").value()->generation(), s.generation());
}

TEST(store_ops, MkdirIsIdempotent) {
  store s;
  auto c1 = s.mkdir("/m/n", dom5);
  ASSERT_TRUE(c1);
  EXPECT_EQ(c1->created, (std::vector<std::string>{"/m", "/m/n"}));
  ASSERT_TRUE(s.write("/m/n", "keep", dom0));
  const auto gen = s.read("/m/n").value()->generation();
  auto c2 = s.mkdir("/m/n", dom0);
  ASSERT_TRUE(c2);
  EXPECT_FALSE(c2->changed());
  EXPECT_EQ(value_of(s, "/m/n"), "keep");
  EXPECT_EQ(s.read("/m/n").value()->generation(), gen);
  EXPECT_TRUE(s.mkdir("/", dom0));
}

TEST(store_ops, RmRemovesSubtreeAndReportsOldPerms) {
  store s;
  ASSERT_TRUE(s.write("/a/b/c", "", dom0));
  ASSERT_TRUE(s.write("/a/b/d", "", dom5));
  ASSERT_TRUE(s.write("/a/e", "", dom0));
  ASSERT_TRUE(s.set_perms("/a/b/c", {{4, perm::both}}));
  auto c = s.rm("/a/b");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, change_kind::rm);
  ASSERT_EQ(c->removed.size(), 3u);
  EXPECT_EQ(c->removed[0], (removed_node{"/a/b", {{0, perm::none}}}));
  EXPECT_EQ(c->removed[1], (removed_node{"/a/b/c", {{4, perm::both}}}));
  EXPECT_EQ(c->removed[2], (removed_node{"/a/b/d", {{5, perm::none}}}));
  EXPECT_EQ(s.read("/a/b").error(), xs_error::enoent);
  EXPECT_EQ(s.read("/a").value()->children().names(), std::vector<std::string>{"e"});
  EXPECT_EQ(s.usage(5), domain_usage{});
  EXPECT_TRUE(s.check());
}

TEST(store_ops, RmEdgeCases) {
  store s;
  ASSERT_TRUE(s.write("/a", "", dom0));
  EXPECT_EQ(s.rm("/").error(), xs_error::einval);
  auto missing = s.rm("/a/nope");  // parent exists: success, nothing happens
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->changed());
  EXPECT_EQ(s.rm("/nope/deeper").error(), xs_error::enoent);
  EXPECT_TRUE(s.rm("/nope"));  // parent is "/"
}

TEST(store_ops, SetPerms) {
  store s;
  ASSERT_TRUE(s.write("/p", "", dom5));
  auto c = s.set_perms("/p", {{7, perm::read}, {5, perm::write}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, change_kind::set_perms);
  EXPECT_TRUE(c->modified);
  EXPECT_EQ(c->old_perms, (node_perms{{5, perm::none}}));  // dom5 created it: its owner
  EXPECT_EQ(s.read("/p").value()->perms(), (node_perms{{7, perm::read}, {5, perm::write}}));
  EXPECT_EQ(s.set_perms("/p", {}).error(), xs_error::einval);
  EXPECT_EQ(s.set_perms("/q", {{0, perm::none}}).error(), xs_error::enoent);
  EXPECT_TRUE(s.set_perms("/", {{0, perm::read}}));
}

TEST(store_ops, InvalidPathsAreEinval) {
  store s;
  using namespace std::literals;
  for (std::string_view p : {""sv, "a"sv, "a/b"sv, "/a/"sv, "//"sv, "/a//b"sv, "/a b"sv, "/a\0b"sv, "/a.b"sv, "/a/./b"sv}) {
    EXPECT_EQ(s.write(p, "", dom0).error(), xs_error::einval) << p;
    EXPECT_EQ(s.read(p).error(), xs_error::einval) << p;
  }
  std::string longest = "/" + std::string(3071, 'x');
  EXPECT_TRUE(s.write(longest, "", dom0));
  EXPECT_EQ(s.write(longest + "y", "", dom0).error(), xs_error::einval);
  EXPECT_TRUE(s.write("/@odd-_Name9", "", dom0));
}

TEST(store_ops, ChildrenAreSortedAndSeekableByByteOffset) {
  store s;
  for (auto n : {"zeta", "alpha", "mid", "b"}) ASSERT_TRUE(s.write(std::string("/d/") + n, "", dom0));
  const auto d = s.read("/d").value();
  EXPECT_EQ(d->children().names(), (std::vector<std::string>{"alpha", "b", "mid", "zeta"}));
  EXPECT_EQ(d->children().name_bytes(), 6u + 2 + 4 + 5);
  // "alpha\0b\0mid\0zeta\0": starts at 0, 6, 8, 12.
  auto at = [&](std::uint64_t off) {
    auto c = d->children().from_byte_offset(off);
    return c.done() ? std::string("<end>") : std::string(c.name());
  };
  EXPECT_EQ(at(0), "alpha");
  EXPECT_EQ(at(6), "b");
  EXPECT_EQ(at(7), "mid");
  EXPECT_EQ(at(12), "zeta");
  EXPECT_EQ(at(13), "<end>");
  EXPECT_EQ(at(17), "<end>");
  auto c = d->children().from_byte_offset(6);
  c.next();
  EXPECT_EQ(c.name(), "mid");
}

TEST(store_ops, PlanThenApply) {
  store s;
  auto plan = s.plan_write("/a/b", "v", dom5);
  ASSERT_TRUE(plan);
  EXPECT_EQ(s.read("/a").error(), xs_error::enoent);  // nothing happened yet
  EXPECT_EQ(plan->delta().at(5).nodes, 2);
  EXPECT_EQ(plan->changes().created.size(), 2u);
  ASSERT_TRUE(s.apply(std::move(*plan)));
  EXPECT_EQ(value_of(s, "/a/b"), "v");
  EXPECT_EQ(s.usage(5).nodes, 2u);

  auto stale = s.plan_write("/x", "", dom0);
  ASSERT_TRUE(s.write("/y", "", dom0));
  EXPECT_EQ(s.apply(std::move(*stale)).error(), xs_error::eagain);
  EXPECT_EQ(s.read("/x").error(), xs_error::enoent);
  EXPECT_TRUE(s.check());
}

TEST(store_ops, SnapshotNeverChanges) {
  store s;
  ASSERT_TRUE(s.write("/a", "old", dom0));
  const auto snap = s.snapshot();
  ASSERT_TRUE(s.write("/a", "new", dom0));
  ASSERT_TRUE(s.write("/b", "", dom0));
  ASSERT_TRUE(s.rm("/a"));
  EXPECT_EQ(snap.read("/a").value()->value(), "old");
  EXPECT_EQ(snap.read("/b").error(), xs_error::enoent);
  EXPECT_EQ(snap.node_count(), 2u);
}

}  // namespace
}  // namespace xenwire::xenstore
