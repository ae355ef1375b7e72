// A two-actor vchan transfer under sim::scheduler (deterministic, single-threaded): the server and
// the client each have a script of messages to send (stream bytes or packets) and expect the
// peer's script in return. Endpoints are non-blocking; an actor whose every task would block goes to
// sleep and only wakes when its event-channel fd is readable, so a lost wake-up shows as a run that
// never finishes.
#pragma once

#include <poll.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "vchan_test_support.hpp"
#include "xenwire/ring/shared_memory.hpp"
#include "xenwire/sim/scheduler.hpp"

namespace xenwire::vchan::testing {

using vchan::interface;

struct message {
  bool packet = false;
  std::size_t size = 0;
};

inline bool fd_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// What one side sends: the concatenated bytes and where each message starts.
struct script {
  std::vector<message> messages;
  std::vector<std::byte> bytes;
  std::vector<std::size_t> starts;
  script(std::vector<message> m, std::uint32_t seed) : messages(std::move(m)) {
    std::size_t total = 0;
    for (auto& msg : messages) {
      starts.push_back(total);
      total += msg.size;
    }
    bytes = pattern(total, seed);
  }
};

// One side's progress through its outgoing and incoming scripts.
struct side_state {
  endpoint* ep = nullptr;
  const script* out = nullptr;
  const script* in = nullptr;
  std::size_t out_msg = 0, out_pos = 0;  // next message, bytes of it sent
  std::size_t in_msg = 0, in_pos = 0;
  const std::uint32_t* prod = nullptr;  // our write ring's producer index, via the spy mapping
  std::vector<std::byte> received;
  bool asleep = false;
  std::optional<std::error_code> ended;  // peer_closed or an error
  std::string failure;                   // a property violation

  bool done() const { return ended || (out_msg == out->messages.size() && in_msg == in->messages.size()); }
};

struct transfer_scenario {
  two_domains d;
  script to_client, to_server;
  std::unique_ptr<mapped_pages> spy;  // the client domain's extra view of the control page
  std::optional<endpoint> srv, cli;
  side_state s, c;

  transfer_scenario(std::size_t read_min, std::size_t write_min, std::vector<message> up, std::vector<message> down)
      : to_client(std::move(down), 11), to_server(std::move(up), 22) {
    srv.emplace(d.serve(read_min, write_min));
    cli.emplace(d.connect());
    spy = d.map_control();
    auto* page = static_cast<interface*>(static_cast<void*>(spy->bytes().data()));
    s.ep = &*srv, s.out = &to_client, s.in = &to_server;
    s.prod = &page->right.prod;
    c.ep = &*cli, c.out = &to_server, c.in = &to_client;
    c.prod = &page->left.prod;
  }

  // One task step; true if it moved bytes.
  static bool send_step(side_state& me, sim::scheduler& sched) {
    if (me.out_msg == me.out->messages.size()) return false;
    const message& m = me.out->messages[me.out_msg];
    const std::byte* base = me.out->bytes.data() + me.out->starts[me.out_msg];
    if (m.packet) {
      // All or nothing: our producer index moves by exactly the packet, or not at all. (Read through
      // a spy mapping, so the endpoints' notify bits are left alone.)
      const std::uint32_t before = shm::load_acquire(me.prod);
      auto r = me.ep->send({base, m.size});
      const std::uint32_t after = shm::load_acquire(me.prod);
      if (r) {
        if (after != before + m.size) me.failure = "packet split on send";
        ++me.out_msg;
        return true;
      }
      if (after != before) me.failure = "failed send moved bytes";
      if (r.error() != errc::would_block) me.ended = r.error();
      return false;
    }
    const std::size_t left = m.size - me.out_pos;
    const std::size_t chunk = 1 + static_cast<std::size_t>(sched.uniform(std::min<std::size_t>(left, 5000)));
    auto r = me.ep->write({base + me.out_pos, chunk});
    if (!r) {
      if (r.error() != errc::would_block) me.ended = r.error();
      return false;
    }
    me.out_pos += *r;
    if (me.out_pos == m.size) ++me.out_msg, me.out_pos = 0;
    return *r > 0;
  }

  static bool recv_step(side_state& me, sim::scheduler& sched) {
    if (me.in_msg == me.in->messages.size()) return false;
    const message& m = me.in->messages[me.in_msg];
    if (m.packet) {
      std::vector<std::byte> buf(m.size);
      auto r = me.ep->recv(buf);
      if (!r) {
        if (r.error() != errc::would_block) me.ended = r.error();
        return false;
      }
      me.received.insert(me.received.end(), buf.begin(), buf.end());
      ++me.in_msg;
      return true;
    }
    const std::size_t left = m.size - me.in_pos;
    std::vector<std::byte> buf(1 + static_cast<std::size_t>(sched.uniform(std::min<std::size_t>(left, 5000))));
    auto r = me.ep->read(buf);
    if (!r) {
      if (r.error() != errc::would_block) me.ended = r.error();
      return false;
    }
    me.received.insert(me.received.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*r));
    me.in_pos += *r;
    if (me.in_pos == m.size) ++me.in_msg, me.in_pos = 0;
    return *r > 0;
  }

  // One actor step for `me`. Returns false once the side is finished.
  static bool actor_step(side_state& me, sim::scheduler& sched) {
    if (me.done()) return false;
    if (me.asleep) {
      if (!fd_readable(me.ep->fd())) return true;  // nothing to do until an event arrives
      auto st = me.ep->handle_events();
      if (!st) {
        me.ended = st.error();
        return false;
      }
      me.asleep = false;
    }
    bool moved = false;
    if (sched.uniform(2) == 0) {
      moved |= send_step(me, sched);
      if (!me.ended) moved |= recv_step(me, sched);
    } else {
      moved |= recv_step(me, sched);
      if (!me.ended) moved |= send_step(me, sched);
    }
    if (!me.failure.empty()) return false;
    if (!moved && !me.done()) me.asleep = true;
    return !me.done();
  }

  void add_actors(sim::scheduler& sched) {
    sched.add_actor("server", [this, &sched] { return actor_step(s, sched); }, server_dom);
    sched.add_actor("client", [this, &sched] { return actor_step(c, sched); }, client_dom);
  }

  // Bytes a side received are a prefix of what the peer sent, message boundaries included.
  static bool prefix_ok(const side_state& me) {
    return me.received.size() <= me.in->bytes.size() &&
           std::equal(me.received.begin(), me.received.end(), me.in->bytes.begin());
  }
};

}  // namespace xenwire::vchan::testing
