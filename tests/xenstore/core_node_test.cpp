// Node requests through the core: READ, WRITE, MKDIR, RM, DIRECTORY(_PART), GET/SET_PERMS, with
// C xenstored's permission and errno rules.
#include <gtest/gtest.h>

#include "core_harness.hpp"

namespace xenwire::xenstore::testing {
namespace {

using H = core_harness;

TEST(CoreNode, WriteReadRoundTripWithRawBytes) {
  H h;
  auto d0 = h.dom0();
  std::string value("a\0b\xff", 4);
  EXPECT_TRUE(h.write(d0, "/a/b/c", value).ok());
  auto r = h.read(d0, "/a/b/c");
  EXPECT_EQ(r.type, msg_type::read);
  EXPECT_EQ(r.payload, value);  // no NUL added
  EXPECT_EQ(h.read(d0, "/a/b").payload, "");  // parents created empty
}

TEST(CoreNode, ReadMissingIsEnoent) {
  H h;
  EXPECT_EQ(h.read(h.dom0(), "/nope").error(), "ENOENT");
}

TEST(CoreNode, InvalidPathsAreEinval) {
  H h;
  auto d0 = h.dom0();
  for (std::string p : {"", "/a//b", "/a/", "/a b", "relative-from-dom0-is-fine-but-this/has space"})
    EXPECT_EQ(h.read(d0, p).error(), "EINVAL") << p;
  EXPECT_EQ(h.read(d0, std::string(3100, 'a').insert(0, "/")).error(), "EINVAL");
}

TEST(CoreNode, ReplyEchoesReqIdAndTxId) {
  H h;
  auto d0 = h.dom0();
  h.send_raw(d0, static_cast<std::uint32_t>(msg_type::write), 77, 0, std::string_view("/x\0v", 4));
  auto r = h.try_reply(d0, 77);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok());
}

TEST(CoreNode, UnknownTypeIsEnosysAndWatchEventFromClientToo) {
  H h;
  auto d0 = h.dom0();
  h.send_raw(d0, 20, 5, 0, "");
  EXPECT_EQ(h.take_reply(d0, 5).error(), "ENOSYS");
  h.send_raw(d0, 999, 6, 0, "");
  EXPECT_EQ(h.take_reply(d0, 6).error(), "ENOSYS");
  h.send_raw(d0, static_cast<std::uint32_t>(msg_type::watch_event), 7, 0, std::string_view("a\0b\0", 4));
  EXPECT_EQ(h.take_reply(d0, 7).error(), "ENOSYS");
}

TEST(CoreNode, OversizedFrameDropsTheConnection) {
  H h;
  auto d0 = h.dom0();
  std::string frame(16, '\0');
  header hd{static_cast<std::uint32_t>(msg_type::read), 1, 0, 5000};
  std::memcpy(frame.data(), &hd, sizeof hd);
  auto r = h.core().feed(d0, std::as_bytes(std::span(frame.data(), frame.size())), h.now());
  EXPECT_FALSE(r);
  auto drops = h.take_drops();
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].first, d0);
  EXPECT_EQ(drops[0].second, drop_reason::protocol_error);
}

TEST(CoreNode, MkdirIsIdempotentAndRmSemantics) {
  H h;
  auto d0 = h.dom0();
  EXPECT_TRUE(h.mkdir(d0, "/m").ok());
  EXPECT_TRUE(h.mkdir(d0, "/m").ok());
  EXPECT_TRUE(h.write(d0, "/m/x/y", "1").ok());
  EXPECT_TRUE(h.rm(d0, "/m/absent").ok());          // parent exists: success
  EXPECT_EQ(h.rm(d0, "/m/absent/deeper").error(), "ENOENT");  // parent absent
  EXPECT_EQ(h.rm(d0, "/").error(), "EINVAL");
  EXPECT_TRUE(h.rm(d0, "/m").ok());
  EXPECT_EQ(h.read(d0, "/m/x/y").error(), "ENOENT");
}

TEST(CoreNode, DirectoryListsChildrenSorted) {
  H h;
  auto d0 = h.dom0();
  for (auto n : {"c", "a", "b"}) h.write(d0, std::string("/d/") + n, "");
  EXPECT_EQ(H::split(h.directory(d0, "/d").payload), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(h.directory(d0, "/d/a").payload, "");
}

TEST(CoreNode, DirectoryTooBigIsE2bigButDirectoryPartPages) {
  H h;
  auto d0 = h.dom0();
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) {
    names.push_back("child-with-a-longish-name-" + std::to_string(1000 + i));
    h.write(d0, "/big/" + names.back(), "");
  }
  EXPECT_EQ(h.directory(d0, "/big").error(), "E2BIG");
  std::vector<std::string> got;
  std::uint32_t offset = 0;
  std::string gen;
  for (int guard = 0; guard < 20; ++guard) {
    auto r = h.request(d0, msg_type::directory_part, H::z("/big") + H::z(std::to_string(offset)));
    ASSERT_FALSE(r.is_error()) << r.error();
    auto parts = H::split(r.payload);
    ASSERT_FALSE(parts.empty());
    if (gen.empty()) gen = parts[0];
    EXPECT_EQ(parts[0], gen);
    bool done = r.payload.size() >= 2 && r.payload.substr(r.payload.size() - 2) == std::string("\0\0", 2);
    for (std::size_t i = 1; i < parts.size(); ++i) {
      if (parts[i].empty()) continue;
      got.push_back(parts[i]);
      offset += static_cast<std::uint32_t>(parts[i].size() + 1);
    }
    if (done) break;
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(got, names);
}

TEST(CoreNode, GuestRelativePathsResolveUnderHome) {
  H h;
  auto g = h.guest(7);
  EXPECT_TRUE(h.write(g, "data/x", "hello").ok());
  EXPECT_EQ(h.read(h.dom0(), "/local/domain/7/data/x").payload, "hello");
  EXPECT_EQ(h.read(g, "/local/domain/7/data/x").payload, "hello");
  // The guest owns what it creates.
  EXPECT_EQ(H::split(h.get_perms(h.dom0(), "/local/domain/7/data/x").payload)[0], "n7");
}

TEST(CoreNode, GuestCannotReadOrLearnAboutDom0Nodes) {
  H h;
  auto d0 = h.dom0();
  h.write(d0, "/secret/a", "x");
  auto g = h.guest(7);
  EXPECT_EQ(h.read(g, "/secret/a").error(), "EACCES");
  EXPECT_EQ(h.read(g, "/secret/missing").error(), "EACCES");  // may not even learn it is absent
  EXPECT_EQ(h.write(g, "/secret/b", "y").error(), "EACCES");
  EXPECT_EQ(h.rm(g, "/secret/a").error(), "EACCES");
  EXPECT_EQ(h.read(g, "data/missing").error(), "ENOENT");  // its own home: it may know
}

TEST(CoreNode, PermissionsGrantAndOwnerRules) {
  H h;
  auto d0 = h.dom0();
  auto g7 = h.guest(7);
  auto g8 = h.guest(8);
  h.write(d0, "/shared", "v");
  EXPECT_TRUE(h.set_perms(d0, "/shared", {"n0", "r7", "b8"}).ok());
  EXPECT_EQ(h.read(g7, "/shared").payload, "v");
  EXPECT_EQ(h.write(g7, "/shared", "w").error(), "EACCES");
  EXPECT_TRUE(h.write(g8, "/shared", "w").ok());
  // Only the owner (or the privileged) may change perms; nobody unprivileged may change the owner.
  EXPECT_EQ(h.set_perms(g8, "/shared", {"b8"}).error(), "EACCES");
  h.write(g7, "mine", "1");
  EXPECT_EQ(h.set_perms(g7, "mine", {"n8"}).error(), "EPERM");  // XSA-352
  EXPECT_TRUE(h.set_perms(g7, "mine", {"n7", "r8"}).ok());
  EXPECT_EQ(h.read(g8, "/local/domain/7/mine").payload, "1");
  EXPECT_EQ(h.get_perms(g7, "mine").payload, std::string("n7\0r8\0", 6));
}

TEST(CoreNode, Dom0CreatedNodesKeepParentOwner) {
  H h;
  auto d0 = h.dom0();
  h.guest(5);  // home /local/domain/5 owned by 5
  EXPECT_TRUE(h.write(d0, "/local/domain/5/device/vif", "x").ok());
  EXPECT_EQ(H::split(h.get_perms(d0, "/local/domain/5/device/vif").payload)[0], "n5");
}

TEST(CoreNode, ReadOnlySocketCannotWrite) {
  H h;
  h.write(h.dom0(), "/r", "1");
  auto ro = h.open_socket(true);
  EXPECT_EQ(h.read(ro, "/r").payload, "1");
  EXPECT_EQ(h.write(ro, "/r", "2").error(), "EROFS");
  EXPECT_EQ(h.rm(ro, "/r").error(), "EROFS");
}

TEST(CoreNode, PrivilegedOpsRefusedToGuests) {
  H h;
  auto g = h.guest(3);
  for (auto t : {msg_type::control, msg_type::introduce, msg_type::release, msg_type::is_domain_introduced,
                 msg_type::resume, msg_type::set_target, msg_type::set_feature, msg_type::get_quota,
                 msg_type::set_quota})
    EXPECT_EQ(h.request(g, t, H::z("1")).error(), "EACCES") << static_cast<int>(t);
}

// Found by the model test: a transaction changing /a/b must not carry its snapshot's /a over a
// change made to /a outside the transaction meanwhile.
TEST(CoreNode, CommitKeepsAConcurrentChangeToAnAncestor) {
  H h;
  auto d0 = h.dom0();
  ASSERT_TRUE(h.write(d0, "/a/b", "").ok());
  auto tx = h.start(d0);
  ASSERT_TRUE(h.set_perms(d0, "/a", {"b0"}).ok());
  ASSERT_TRUE(h.set_perms(d0, "/a/b", {"n0", "r6"}, tx).ok());
  ASSERT_TRUE(h.end(d0, tx, true).ok());
  EXPECT_EQ(H::split(h.get_perms(d0, "/a").payload), (std::vector<std::string>{"b0"}));
  EXPECT_EQ(H::split(h.get_perms(d0, "/a/b").payload), (std::vector<std::string>{"n0", "r6"}));
}

TEST(CoreNode, StoreStaysConsistent) {
  H h;
  auto d0 = h.dom0();
  auto g = h.guest(4);
  h.write(d0, "/a/b", "1");
  h.write(g, "x/y/z", "2");
  h.rm(d0, "/a");
  EXPECT_TRUE(h.core().check());
  auto ctl = h.request(d0, msg_type::control, H::z("check"));
  EXPECT_TRUE(ctl.ok()) << ctl.payload;
}

}  // namespace
}  // namespace xenwire::xenstore::testing
