// store::load: a whole tree given at once equals the same tree written node by node (values, perms,
// child order, accounting), and anything a hostile state could hold is refused, store untouched.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "xenwire/xenstore/server/store.hpp"

namespace xenwire::xenstore {
namespace {

using dump = std::vector<std::tuple<std::string, std::string, std::string>>;

void walk(const store_node& n, const std::string& path, dump& out) {
  out.emplace_back(path, n.value(), format_perms(n.perms()));
  for (auto c = n.children().begin(); !c.done(); c.next()) {
    walk(c.node(), (path == "/" ? "" : path) + "/" + std::string(c.name()), out);
  }
}

dump dump_of(const store& s) {
  dump out;
  walk(*s.read("/").value(), "/", out);
  return out;
}

// Writes each node in order, as import did before load existed.
void write_all(store& s, const std::vector<loaded_node>& nodes) {
  for (const auto& n : nodes) {
    if (n.path != "/" || !n.value.empty()) {
      EXPECT_TRUE(s.write(n.path, n.value, creator{0, true}));
    }
    EXPECT_TRUE(s.set_perms(n.path, n.perms));
  }
}

std::vector<loaded_node> sample() {
  return {{"/", "", {{0, perm::read}}},
          {"/local", "", {{0, perm::none}}},
          {"/local/domain", "", {{0, perm::none}}},
          {"/local/domain/7", "", {{7, perm::none}}},
          {"/local/domain/7/name", "guest", {{7, perm::none}, {0, perm::read}}},
          {"/local/domain/10", "", {{10, perm::none}}},
          {"/local/domain/2", std::string("bin\0ary", 7), {{2, perm::write}}},
          {"/vm", "", {{0, perm::none}}}};
}

TEST(store_load, AWholeTreeEqualsTheSameTreeWrittenNodeByNode) {
  auto nodes = sample();
  store by_writes;
  write_all(by_writes, nodes);
  store loaded;
  ASSERT_TRUE(loaded.load(std::move(nodes)));
  EXPECT_EQ(dump_of(loaded), dump_of(by_writes));
  EXPECT_EQ(loaded.usage(), by_writes.usage());
  EXPECT_EQ(loaded.node_count(), 8U);
  EXPECT_EQ(loaded.generation(), 8U);
  EXPECT_TRUE(loaded.check());
  EXPECT_EQ(loaded.read("/local/domain").value()->children().names(), (std::vector<std::string>{"10", "2", "7"}));
  // It serves on as any store.
  ASSERT_TRUE(loaded.write("/local/domain/7/x", "1", creator{7, false}));
  EXPECT_TRUE(loaded.check());
}

TEST(store_load, WithoutARootRecordTheRootKeepsItsPerms) {
  store loaded;
  ASSERT_TRUE(loaded.load({{"/a", "1", {{3, perm::none}}}}));
  EXPECT_EQ(format_perms(loaded.read("/").value()->perms()), format_perms({{0, perm::none}}));
  EXPECT_EQ(loaded.usage(3).nodes, 1U);
  EXPECT_TRUE(loaded.check());
}

TEST(store_load, BrokenTreesAreRefusedAndTheStoreIsUntouched) {
  const node_perms p{{0, perm::none}};
  const std::vector<std::vector<loaded_node>> broken = {
      {{"/a/b", "", p}},                           // parent missing
      {{"/a", "", p}, {"/a", "", p}},              // duplicate
      {{"/", "", p}, {"/", "", p}},                // two roots
      {{"/a", "", node_perms{}}},                  // no perms
      {{"a", "", p}},                              // not absolute
      {{"/a/", "", p}},                            // empty name
      {{"//a", "", p}},                            // empty name
      {{"/a b", "", p}},                           // bad character
      {{"/a", "", p}, {"/a/" + std::string(4096, 'x'), "", p}},  // too long
      {{"/b/c", "", p}, {"/b", "", p}},            // child before parent
      {{"/a", "", p}, {"/a/b", "", p}, {"/a/b", "", p}},              // duplicate, depth first
      {{"/a", "", p}, {"/c", "", p}, {"/a/b", "", p}, {"/a/b", "", p}},  // duplicate, indexed
      {{"/a", "", p}, {"/c", "", p}, {"/c/d/e", "", p}},              // parent missing, indexed
  };
  for (const auto& nodes : broken) {
    store s;
    const dump before = dump_of(s);
    auto copy = nodes;
    EXPECT_FALSE(s.load(std::move(copy))) << nodes.back().path;
    EXPECT_EQ(dump_of(s), before);
    EXPECT_EQ(s.generation(), 0U);
    EXPECT_TRUE(s.check());
  }
  store used;
  ASSERT_TRUE(used.write("/x", "1", creator{0, true}));
  EXPECT_FALSE(used.load({{"/a", "", p}}));
}

// Random trees in pre-order (parents first), random values and owners.
RC_GTEST_PROP(store_load, LoadEqualsWritesForRandomTrees, ()) {
  const auto count = *rc::gen::inRange<std::size_t>(0, 120);
  std::vector<loaded_node> nodes;
  std::vector<std::string> paths{"/"};
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& parent = paths[*rc::gen::inRange<std::size_t>(0, paths.size())];
    const std::string name = *rc::gen::element<std::string>("a", "b", "c", "dd", "e-1", "F_2", "@x", "9");
    std::string path = (parent == "/" ? "" : parent) + "/" + name;
    bool seen = false;
    for (const auto& p : paths) seen = seen || p == path;
    if (seen) continue;
    paths.push_back(path);
    const auto owner = *rc::gen::inRange<domid_t>(0, 4);
    nodes.push_back({path, *rc::gen::element<std::string>("", "v", "value"), {{owner, perm::none}, {5, perm::read}}});
  }
  store by_writes;
  write_all(by_writes, nodes);
  // In creation order (parents first, not depth first: load's fallback index) ...
  store loaded;
  RC_ASSERT(loaded.load(std::move(nodes)).has_value());
  RC_ASSERT(dump_of(loaded) == dump_of(by_writes));
  RC_ASSERT(loaded.usage() == by_writes.usage());
  RC_ASSERT(loaded.check().has_value());
  // ... and depth first, as writers list them (load's path stack).
  std::vector<loaded_node> pre_order;
  for (const auto& [path, value, perms] : dump_of(by_writes)) {
    if (path != "/") pre_order.push_back({path, value, node_perms(by_writes.read(path).value()->perms())});
  }
  store from_pre_order;
  RC_ASSERT(from_pre_order.load(std::move(pre_order)).has_value());
  RC_ASSERT(dump_of(from_pre_order) == dump_of(by_writes));
  RC_ASSERT(from_pre_order.usage() == by_writes.usage());
}

}  // namespace
}  // namespace xenwire::xenstore
