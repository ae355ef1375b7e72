// Fuzzes the Xenstore server core through its real interface: the input is a sequence of steps
//   [selector u8][length u16 little-endian][length bytes]
// selector & 3 picks the connection (0 dom0 socket, 1 guest 5, 2 guest 6, 3 the newest ring opened by
// INTRODUCE, else dom0); selector & 0x80 advances the clock by `length` ms and ticks instead of
// feeding; selector & 0x40 leaves the output queued (unread replies/events pile up);
// selector == 0x3f makes domain 5 or 6 die (length picks which). After each step the core's effects
// are carried out: drops (close, then reopen so later steps still have a peer) and INTRODUCE, which
// completes at once (a mapping failure when the gfn ends in 0xfe). At the end every queue is drained
// and core.check() must hold.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "xenwire/xenstore/server/core.hpp"

namespace {

using namespace xenwire;
using namespace xenwire::xenstore;

void drain(server_core& core, conn_id c, time_point now) {
  for (int guard = 0; guard < 1'000'000; ++guard) {
    auto out = core.peek_output(c);
    if (out.empty()) return;
    // Consume in two halves now and then to exercise partial sends.
    std::size_t n = out.size() > 1 && (out.size() & 1) ? out.size() / 2 : out.size();
    core.consume_output(c, n, now);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  server_core core;
  time_point now{std::chrono::seconds(1000)};
  std::vector<conn_id> rings;

  conn_id peers[3] = {
      core.open({conn_kind::socket, 0, false}, now),
      core.open({conn_kind::guest_socket, 5, false}, now),
      core.open({conn_kind::guest_socket, 6, false}, now),
  };
  const domid_t peer_domid[3] = {0, 5, 6};
  const conn_kind peer_kind[3] = {conn_kind::socket, conn_kind::guest_socket, conn_kind::guest_socket};

  auto all_conns = [&] {
    std::vector<conn_id> v(std::begin(peers), std::end(peers));
    v.insert(v.end(), rings.begin(), rings.end());
    return v;
  };
  std::vector<core_effect> effects;
  auto handle_effects = [&] {
    for (core.take_effects(effects); !effects.empty(); core.take_effects(effects)) {
      for (const core_effect& e : effects) {
        if (const auto* in = std::get_if<effect::introduce_domain>(&e)) {
          result<void> mapped;
          if ((in->gfn & 0xff) == 0xfe) mapped = fail(errc::bad_grant_ref);
          if (auto c = core.complete_introduce(in->token, mapped, now)) rings.push_back(*c);
        } else if (const auto* lu = std::get_if<effect::live_update>(&e)) {
          // Half the requests see their live update exported (with the answer), half answered.
          if ((lu->token & 1) != 0) (void)core.export_state({.answer = std::make_pair(lu->token, std::string("OK"))});
          (void)core.complete_live_update(lu->token, "BUSY", now);
        } else if (const auto* d = std::get_if<effect::drop>(&e)) {
          core.close(d->conn, now);
          std::erase(rings, d->conn);
          for (int i = 0; i < 3; ++i)
            if (peers[i] == d->conn) peers[i] = core.open({peer_kind[i], peer_domid[i], false}, now);
        }
      }
    }
  };

  std::size_t at = 0;
  int steps = 0;
  while (at + 3 <= size && steps++ < 4096) {
    const std::uint8_t sel = data[at];
    const std::size_t len = static_cast<std::size_t>(data[at + 1]) | (static_cast<std::size_t>(data[at + 2]) << 8);
    at += 3;
    if (sel & 0x80) {
      now += std::chrono::milliseconds(len);
      core.tick(now);
      handle_effects();
      continue;
    }
    if (sel == 0x3f) {
      domid_t victim = (len & 1) ? 6 : 5;
      core.domain_died(victim, now);
      handle_effects();
      // The guest plays its domain again (a new domain reusing the domid).
      for (int i = 1; i < 3; ++i)
        if (peer_domid[i] == victim) {
          core.close(peers[i], now);
          peers[i] = core.open({peer_kind[i], peer_domid[i], false}, now);
        }
      continue;
    }
    const std::size_t n = std::min(len, size - at);
    std::span<const std::byte> chunk(reinterpret_cast<const std::byte*>(data + at), n);
    at += n;
    conn_id target = peers[0];
    switch (sel & 3) {
      case 0: target = peers[0]; break;
      case 1: target = peers[1]; break;
      case 2: target = peers[2]; break;
      case 3: target = rings.empty() ? peers[0] : rings.back(); break;
    }
    (void)core.feed(target, chunk, now);  // unconsumed input is dropped: a quota paused the peer
    handle_effects();
    if (!(sel & 0x40))
      for (conn_id c : all_conns()) drain(core, c, now);
  }

  for (conn_id c : all_conns()) drain(core, c, now);
  handle_effects();
  if (auto ok = core.check(); !ok) {
    std::fprintf(stderr, "xenstore_core: core.check() failed: %s\n", ok.error().message().c_str());
    std::abort();
  }
  for (conn_id c : all_conns()) core.close(c, now);
  if (auto ok = core.check(); !ok) {
    std::fprintf(stderr, "xenstore_core: core.check() failed after closing: %s\n", ok.error().message().c_str());
    std::abort();
  }
  return 0;
}
