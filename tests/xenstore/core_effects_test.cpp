// The core's effects (server_core::take_effects) and the two-phase INTRODUCE: nothing happens until
// the adapter completes, a failed mapping answers the requester and leaves no state, the requester's
// later requests wait for the INTRODUCE reply, effects come in the order the core decided them.
#include <cstring>

#include "core_fixture.hpp"

namespace xenwire::xenstore::testing {
namespace {

using H = core_harness;
using CoreEffects = CoreTest;

std::string introduce_payload(domid_t domid, std::uint64_t gfn = 1, evtchn_port_t port = 3) {
  return H::z(std::to_string(domid)) + H::z(std::to_string(gfn)) + H::z(std::to_string(port));
}

// The req_ids of the replies queued for `c`, in the order they are sent (events skipped).
std::vector<std::uint32_t> reply_order(server_core& core, conn_id c, time_point now) {
  std::string bytes;
  for (auto out = core.peek_output(c); !out.empty(); out = core.peek_output(c)) {
    bytes.append(reinterpret_cast<const char*>(out.data()), out.size());
    core.consume_output(c, out.size(), now);
  }
  std::vector<std::uint32_t> ids;
  while (bytes.size() >= header_size) {
    header hd;
    std::memcpy(&hd, bytes.data(), sizeof hd);
    if (hd.type != static_cast<std::uint32_t>(msg_type::watch_event)) ids.push_back(hd.req_id);
    bytes.erase(0, header_size + hd.len);
  }
  return ids;
}

template <class E>
std::vector<E> only(const std::vector<core_effect>& effects) {
  std::vector<E> out;
  for (const auto& e : effects)
    if (const auto* x = std::get_if<E>(&e)) out.push_back(*x);
  return out;
}

TEST_F(CoreEffects, NothingHappensUntilTheAdapterCompletesTheIntroduce) {
  auto d0 = h.dom0();
  auto other = h.open_socket();
  h.watch(other, "@introduceDomain", "in");
  ev(other);
  h.host().hold_introduce = true;
  h.send_raw(d0, static_cast<std::uint32_t>(msg_type::introduce), 41, 0, introduce_payload(5, 0x1234, 7));
  ASSERT_EQ(h.host().introductions.size(), 1u);
  const auto in = h.host().introductions[0];
  EXPECT_NE(in.token, 0u);
  EXPECT_EQ(in.domid, 5);
  EXPECT_EQ(in.gfn, 0x1234u);
  EXPECT_EQ(in.port, 7u);
  // No reply, no event, no ring, the domain is not introduced, and the requester is not read from.
  EXPECT_FALSE(h.try_reply(d0, 41));
  EXPECT_EQ(ev(other), EV{});
  EXPECT_TRUE(h.host().rings.empty());
  EXPECT_EQ(h.request(other, msg_type::is_domain_introduced, H::z("5")).str(), "F");
  EXPECT_FALSE(core().wants_input(d0, h.now()));
  EXPECT_TRUE(core().wants_input(other, h.now()));
  EXPECT_TRUE(core().take_effects().empty());  // the adapter holds the INTRODUCE; nothing else is due

  auto ring = h.host().complete(core(), in, h.now());
  ASSERT_TRUE(ring);
  EXPECT_EQ(h.host().rings[5], *ring);
  h.run_effects();
  h.drain(d0);
  EXPECT_TRUE(h.take_reply(d0, 41).ok());
  EXPECT_TRUE(core().wants_input(d0, h.now()));
  EXPECT_EQ(ev(other), (EV{{"@introduceDomain", "in"}}));
  EXPECT_EQ(h.request(other, msg_type::is_domain_introduced, H::z("5")).str(), "T");
  EXPECT_TRUE(h.write(*ring, "x", "1").ok());
  EXPECT_EQ(h.read(d0, "/local/domain/5/x").payload, "1");
}

TEST_F(CoreEffects, AFailedMappingAnswersTheRequesterAndLeavesNoState) {
  auto d0 = h.dom0();
  h.watch(d0, "@introduceDomain", "in");
  ev(d0);
  const auto nodes_before = core().stats().nodes;
  h.host().hold_introduce = true;
  h.send_raw(d0, static_cast<std::uint32_t>(msg_type::introduce), 9, 0, introduce_payload(5));
  ASSERT_EQ(h.host().introductions.size(), 1u);
  const auto in = h.host().introductions[0];
  auto r = core().complete_introduce(in.token, fail(errc::bad_grant_ref), h.now());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::bad_grant_ref));
  h.run_effects();
  h.drain(d0);
  EXPECT_EQ(h.take_reply(d0, 9).error(), "EINVAL");
  EXPECT_EQ(ev(d0), EV{});
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "F");
  EXPECT_EQ(get_quota(5, "nodes").error(), "ENOENT");  // no domain record left behind
  EXPECT_EQ(core().stats().nodes, nodes_before);
  EXPECT_EQ(core().stats().connections, 1u);
  EXPECT_TRUE(core().wants_input(d0, h.now()));
  // The token is spent.
  EXPECT_FALSE(core().complete_introduce(in.token, {}, h.now()));
  EXPECT_TRUE(h.host().rings.empty());
}

TEST_F(CoreEffects, LaterRequestsOfTheRequesterAreAnsweredAfterTheIntroduce) {
  auto d0 = h.dom0();
  std::string frames = frame_of(msg_type::introduce, introduce_payload(5), 1) +
                       frame_of(msg_type::write, wpayload("/a", "1"), 2) + frame_of(msg_type::read, H::z("/a"), 3);
  auto taken = core().feed(d0, std::as_bytes(std::span(frames.data(), frames.size())), h.now());
  ASSERT_TRUE(taken);
  // The INTRODUCE is consumed; the rest waits for its completion.
  const std::size_t first = frame_of(msg_type::introduce, introduce_payload(5), 1).size();
  EXPECT_EQ(*taken, first);
  auto effects = core().take_effects();
  auto ins = only<effect::introduce_domain>(effects);
  ASSERT_EQ(ins.size(), 1u);
  EXPECT_TRUE(reply_order(core(), d0, h.now()).empty());
  // Offering the rest again changes nothing until the adapter completes.
  auto rest = std::as_bytes(std::span(frames.data() + first, frames.size() - first));
  EXPECT_EQ(core().feed(d0, rest, h.now()).value_or(99), 0u);
  ASSERT_TRUE(core().complete_introduce(ins[0].token, {}, h.now()));
  // The requester is listed ready: its held input may be offered again.
  auto after = core().take_effects();
  bool listed = false;
  for (const auto& r : only<effect::ready>(after)) listed = listed || r.conn == d0;
  EXPECT_TRUE(listed);
  EXPECT_EQ(core().feed(d0, rest, h.now()).value_or(0), rest.size());
  EXPECT_EQ(reply_order(core(), d0, h.now()), (std::vector<std::uint32_t>{1, 2, 3}));
}

TEST_F(CoreEffects, EffectsComeInTheOrderTheCoreDecidedThem) {
  auto d0 = h.dom0();
  ASSERT_TRUE(h.introduce(5).ok());
  auto ring = h.host().rings[5];
  h.run_effects();
  h.host().seen.clear();
  // RELEASE: the ring is released (unmap) before it is dropped (close); the log line and the
  // requester's reply (ready) come after.
  ASSERT_TRUE(h.release(5).ok());
  const auto& seen = h.host().seen;
  auto index = [&](auto pred) -> std::ptrdiff_t {
    for (std::size_t i = 0; i < seen.size(); ++i)
      if (pred(seen[i])) return static_cast<std::ptrdiff_t>(i);
    return -1;
  };
  auto rel = index([&](const core_effect& e) {
    auto* x = std::get_if<effect::release_domain>(&e);
    return x && x->domid == 5 && x->conn == ring;
  });
  auto drop = index([&](const core_effect& e) {
    auto* x = std::get_if<effect::drop>(&e);
    return x && x->conn == ring && x->reason == drop_reason::released;
  });
  auto logged = index([&](const core_effect& e) {
    auto* x = std::get_if<effect::log>(&e);
    return x && x->text == "domain 5 released";
  });
  auto ready = index([&](const core_effect& e) {
    auto* x = std::get_if<effect::ready>(&e);
    return x && x->conn == d0;
  });
  ASSERT_GE(rel, 0);
  ASSERT_GE(drop, 0);
  ASSERT_GE(logged, 0);
  ASSERT_GE(ready, 0);
  EXPECT_LT(rel, drop);
  EXPECT_LT(drop, logged);
  EXPECT_LT(logged, ready);
  core().close(ring, h.now());

  // Two protocol errors: two drops, in the order they happened; a taken queue is empty.
  auto a = h.open_socket();
  auto b = h.open_socket();
  std::string bad(header_size, '\0');
  header hd{static_cast<std::uint32_t>(msg_type::read), 1, 0, 5000};
  std::memcpy(bad.data(), &hd, sizeof hd);
  auto bytes = std::as_bytes(std::span(bad.data(), bad.size()));
  EXPECT_FALSE(core().feed(b, bytes, h.now()));
  EXPECT_FALSE(core().feed(a, bytes, h.now()));
  auto drops = only<effect::drop>(core().take_effects());
  ASSERT_EQ(drops.size(), 2u);
  EXPECT_EQ(drops[0].conn, b);
  EXPECT_EQ(drops[1].conn, a);
  EXPECT_TRUE(core().take_effects().empty());
  core().close(a, h.now());
  core().close(b, h.now());
}

TEST_F(CoreEffects, OneReadyPerConnectionUntilTaken) {
  auto d0 = h.dom0();
  h.run_effects();
  feed_raw(d0, msg_type::write, wpayload("/a", "1"), 1);
  feed_raw(d0, msg_type::write, wpayload("/b", "1"), 2);
  auto ready = only<effect::ready>(core().take_effects());
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].conn, d0);
  feed_raw(d0, msg_type::read, H::z("/a"), 3);
  EXPECT_EQ(only<effect::ready>(core().take_effects()).size(), 1u);
  // A closed connection's pending ready is withdrawn.
  auto s = h.open_socket();
  feed_raw(s, msg_type::read, H::z("/a"), 4);
  core().close(s, h.now());
  EXPECT_TRUE(only<effect::ready>(core().take_effects()).empty());
  // The swap form reuses the caller's buffer and leaves it holding only the new effects.
  std::vector<core_effect> buf(3, effect::ready{999});
  feed_raw(d0, msg_type::read, H::z("/a"), 5);
  core().take_effects(buf);
  ASSERT_EQ(buf.size(), 1u);
  EXPECT_EQ(std::get<effect::ready>(buf[0]).conn, d0);
  h.drain(d0);
}

TEST_F(CoreEffects, ASecondIntroduceOfTheSameDomainWaitsForTheFirst) {
  auto d0 = h.dom0();
  auto other = h.open_socket();
  h.host().hold_introduce = true;
  h.send_raw(d0, static_cast<std::uint32_t>(msg_type::introduce), 1, 0, introduce_payload(5));
  h.send_raw(other, static_cast<std::uint32_t>(msg_type::introduce), 2, 0, introduce_payload(5));
  ASSERT_EQ(h.host().introductions.size(), 1u);  // one mapping at a time
  EXPECT_FALSE(core().wants_input(other, h.now()));
  ASSERT_TRUE(h.host().complete(core(), h.host().introductions[0], h.now()));
  h.run_effects();
  h.drain(d0);
  h.drain(other);
  EXPECT_TRUE(h.take_reply(d0, 1).ok());
  EXPECT_TRUE(h.take_reply(other, 2).ok());  // a repeated INTRODUCE: resets the ring, succeeds
  EXPECT_EQ(h.host().introductions.size(), 1u);  // no second mapping
  EXPECT_EQ(h.host().rings.size(), 1u);
  EXPECT_TRUE(core().wants_input(other, h.now()));
}

TEST_F(CoreEffects, AWaitingIntroduceRetriesWhenTheFirstFails) {
  auto d0 = h.dom0();
  auto other = h.open_socket();
  h.host().hold_introduce = true;
  h.send_raw(d0, static_cast<std::uint32_t>(msg_type::introduce), 1, 0, introduce_payload(5));
  h.send_raw(other, static_cast<std::uint32_t>(msg_type::introduce), 2, 0, introduce_payload(5));
  ASSERT_EQ(h.host().introductions.size(), 1u);
  EXPECT_FALSE(core().complete_introduce(h.host().introductions[0].token, fail(errc::no_such_domain), h.now()));
  h.run_effects();
  h.drain(d0);
  EXPECT_EQ(h.take_reply(d0, 1).error(), "EINVAL");
  ASSERT_EQ(h.host().introductions.size(), 2u);  // the second asks the adapter again
  ASSERT_TRUE(h.host().complete(core(), h.host().introductions[1], h.now()));
  h.run_effects();
  h.drain(other);
  EXPECT_TRUE(h.take_reply(other, 2).ok());
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "T");
}

TEST_F(CoreEffects, ADomainThatDiesWhileBeingIntroducedStaysGone) {
  auto d0 = h.dom0();
  h.watch(d0, "@introduceDomain", "in");
  ev(d0);
  h.host().hold_introduce = true;
  h.send_raw(d0, static_cast<std::uint32_t>(msg_type::introduce), 1, 0, introduce_payload(5));
  ASSERT_EQ(h.host().introductions.size(), 1u);
  core().domain_died(5, h.now());
  // The adapter mapped it anyway: the core refuses, the adapter undoes, the requester gets EINVAL.
  auto r = core().complete_introduce(h.host().introductions[0].token, {}, h.now());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::domain_dying));
  h.run_effects();
  h.drain(d0);
  EXPECT_EQ(h.take_reply(d0, 1).error(), "EINVAL");
  EXPECT_EQ(ev(d0), EV{});
  EXPECT_EQ(h.request(d0, msg_type::is_domain_introduced, H::z("5")).str(), "F");
  EXPECT_EQ(core().stats().connections, 1u);
}

TEST_F(CoreEffects, ARequesterThatGoesAwayDoesNotStopTheIntroduction) {
  auto s = h.open_socket();
  h.host().hold_introduce = true;
  h.send_raw(s, static_cast<std::uint32_t>(msg_type::introduce), 1, 0, introduce_payload(5));
  ASSERT_EQ(h.host().introductions.size(), 1u);
  core().close(s, h.now());
  ASSERT_TRUE(h.host().complete(core(), h.host().introductions[0], h.now()));
  h.run_effects();
  EXPECT_EQ(h.request(h.dom0(), msg_type::is_domain_introduced, H::z("5")).str(), "T");
  EXPECT_TRUE(h.write(h.host().rings[5], "x", "1").ok());
}

TEST_F(CoreEffects, UnknownTokensAreRefused) {
  EXPECT_FALSE(core().complete_introduce(0, {}, h.now()));
  EXPECT_FALSE(core().complete_introduce(12345, {}, h.now()));
  EXPECT_EQ(core().stats().connections, 0u);
}

}  // namespace
}  // namespace xenwire::xenstore::testing
