// Peer death at every step: during setup (a crash before the k-th call a side makes through the
// seam) and during transfer (a crash at scheduler step k). The survivor never hangs, sees the peer
// closed (or never sees it connect), and once it closes the host is clean.
#include <gtest/gtest.h>

#include "transfer_scenario.hpp"

namespace xenwire::vchan {
namespace {

using namespace testing;

// A transport that destroys its own domain right before its k-th seam call (1-based): a crash at an
// exact point of a setup sequence. Calls after the crash reach the simulator, which fails them.
class crashing_transport final : public transport {
 public:
  crashing_transport(sim::host& h, transport& inner, std::size_t crash_at)
      : host_(h), inner_(inner), crash_at_(crash_at), grants_(*this) {}
  domid_t self() const noexcept override { return inner_.self(); }
  grant_table& grants() noexcept override { return grants_; }
  result<std::unique_ptr<event_channel>> open_event_channel() override {
    tick();
    auto ev = inner_.open_event_channel();
    if (!ev) return fail(ev.error());
    return std::unique_ptr<event_channel>(std::make_unique<events>(*this, std::move(*ev)));
  }
  result<std::unique_ptr<domain_watch>> watch_domains() override { return inner_.watch_domains(); }
  std::size_t calls() const { return calls_; }
  bool crashed() const { return crashed_; }

 private:
  void tick() {
    if (++calls_ == crash_at_) {
      crashed_ = true;
      (void)host_.destroy_domain(inner_.self());
    }
  }
  struct gt final : grant_table {
    explicit gt(crashing_transport& owner) : o(owner) {}
    result<std::unique_ptr<shared_pages>> share(domid_t peer, std::size_t pages, access a, unmap_notify n) override {
      o.tick();
      return o.inner_.grants().share(peer, pages, a, n);
    }
    result<std::unique_ptr<mapped_pages>> map(domid_t peer, std::span<const grant_ref_t> refs, access a,
                                              unmap_notify n) override {
      o.tick();
      return o.inner_.grants().map(peer, refs, a, n);
    }
    crashing_transport& o;
  };
  struct events final : event_channel {
    events(crashing_transport& owner, std::unique_ptr<event_channel> inner) : o(owner), in(std::move(inner)) {}
    result<evtchn_port_t> bind_unbound(domid_t r) override { return o.tick(), in->bind_unbound(r); }
    result<evtchn_port_t> bind_interdomain(domid_t r, evtchn_port_t p) override {
      return o.tick(), in->bind_interdomain(r, p);
    }
    result<void> unbind(evtchn_port_t p) override { return o.tick(), in->unbind(p); }
    result<void> notify(evtchn_port_t p) override { return o.tick(), in->notify(p); }
    result<std::optional<evtchn_port_t>> pending() override { return in->pending(); }
    result<evtchn_port_t> wait(std::chrono::milliseconds t) override { return in->wait(t); }
    result<void> mask(evtchn_port_t p) override { return in->mask(p); }
    result<void> unmask(evtchn_port_t p) override { return in->unmask(p); }
    result<port_state> state(evtchn_port_t p) override { return in->state(p); }
    int fd() const noexcept override { return in->fd(); }
    crashing_transport& o;
    std::unique_ptr<event_channel> in;
  };
  sim::host& host_;
  transport& inner_;
  std::size_t crash_at_;
  std::size_t calls_ = 0;
  bool crashed_ = false;
  gt grants_;
};

// How many seam calls a healthy setup makes, measured rather than assumed.
std::size_t setup_calls(bool server_side, std::size_t read_min, std::size_t write_min) {
  two_domains d;
  crashing_transport t(d.host, server_side ? *d.srv : *d.cli, 0);
  if (server_side) {
    auto s = endpoint::serve(t, d.rdv, d.server_cfg(read_min, write_min));
    EXPECT_TRUE(s);
    return t.calls();  // before the endpoint's close adds its own
  }
  auto s = d.serve(read_min, write_min);
  auto c = endpoint::connect(t, d.rdv, d.client_cfg());
  EXPECT_TRUE(c);
  return t.calls();
}

TEST(VchanDeath, ServerCrashAtEverySetupStep) {
  for (auto [lmin, rmin] : {std::pair<std::size_t, std::size_t>{1024, 2048}, {8192, 65536}}) {
    const std::size_t n = setup_calls(true, lmin, rmin);
    ASSERT_GE(n, 3u);
    for (std::size_t k = 1; k <= n; ++k) {
      SCOPED_TRACE("crash before server seam call " + std::to_string(k));
      two_domains d;
      crashing_transport t(d.host, *d.srv, k);
      auto srv = endpoint::serve(t, d.rdv, d.server_cfg(lmin, rmin));
      EXPECT_TRUE(t.crashed());
      // Whatever the server got done, the client fails cleanly or sees it closed: never hangs.
      auto cli = endpoint::connect(*d.cli, d.rdv, d.client_cfg(blocking_for(std::chrono::milliseconds(5000))));
      if (cli) {
        std::vector<std::byte> buf(4);
        EXPECT_EQ(cli->read(buf).error(), errc::peer_closed);
        EXPECT_EQ(cli->state(), status::closed);
        cli->close();
      }
      if (srv) srv->close();
      EXPECT_TRUE(d.host.check_clean());
    }
  }
}

TEST(VchanDeath, ClientCrashAtEverySetupStep) {
  for (auto [lmin, rmin] : {std::pair<std::size_t, std::size_t>{1024, 2048}, {8192, 65536}}) {
    const std::size_t n = setup_calls(false, lmin, rmin);
    ASSERT_GE(n, 3u);
    for (std::size_t k = 1; k <= n; ++k) {
      SCOPED_TRACE("crash before client seam call " + std::to_string(k));
      two_domains d;
      auto srv = d.serve(lmin, rmin, {.mode = io_mode::blocking, .timeout = std::chrono::milliseconds(2000)});
      crashing_transport t(d.host, *d.cli, k);
      auto cli = endpoint::connect(t, d.rdv, d.client_cfg());
      EXPECT_TRUE(t.crashed());
      // A client that bound the port is seen closed by the server; one that died earlier was never
      // seen at all (the server still waits, as libxenvchan's would).
      const status st = srv.state();
      EXPECT_TRUE(st == status::closed || st == status::waiting) << to_string(st);
      if (st == status::closed) {
        std::vector<std::byte> buf(4);
        EXPECT_EQ(srv.read(buf).error(), errc::peer_closed);  // blocking: returns, does not time out
      }
      if (cli) cli->close();
      srv.close();
      EXPECT_TRUE(d.host.check_clean());
    }
  }
}

// Crash one side at scheduler step k of a transfer; the survivor's actor must end with peer_closed.
// Returns whether the survivor saw the crash (false: the transfer completed first).
bool crash_during_transfer(domid_t victim, std::uint64_t k, std::uint64_t seed) {
  SCOPED_TRACE("victim " + std::to_string(victim) + " at step " + std::to_string(k));
  const std::vector<message> up{{false, 3000}, {true, 700}, {false, 5000}};
  const std::vector<message> down{{true, 2000}, {false, 9000}, {true, 1}};
  transfer_scenario t(1024, 2048, up, down);
  side_state& survivor = victim == server_dom ? t.c : t.s;
  {
    sim::faults f{.delay = 0.2};
    f.crash = sim::crash_plan{.domain = victim, .at_step = k};
    sim::scheduler sched(seed, f);
    EXPECT_TRUE(t.d.host.attach(sched));
    t.add_actors(sched);
    const auto r = sched.run(200'000);
    EXPECT_TRUE(r.finished) << "the survivor hung";
    EXPECT_TRUE(survivor.failure.empty()) << survivor.failure;
    EXPECT_TRUE(testing::transfer_scenario::prefix_ok(survivor));
    if (!survivor.done() || survivor.ended) {
      EXPECT_TRUE(survivor.ended.has_value());
      if (survivor.ended) {
        EXPECT_EQ(*survivor.ended, errc::peer_closed) << survivor.ended->message();
      }
    }
  }
  t.cli->close();
  t.srv->close();
  t.spy.reset();
  EXPECT_TRUE(t.d.host.check_clean());
  return survivor.ended.has_value();
}

// Every step until the transfer completes without a crash; both outcomes must occur.
void crash_at_every_step(domid_t victim) {
  std::size_t seen = 0, completed = 0;
  for (std::uint64_t k = 1; completed < 20 && k < 100'000; ++k) {
    if (crash_during_transfer(victim, k, 77)) {
      ++seen;
      completed = 0;
    } else {
      ++completed;
    }
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(seen, 50u);
  EXPECT_EQ(completed, 20u);
}

TEST(VchanDeath, ClientCrashAtEveryTransferStep) { crash_at_every_step(client_dom); }
TEST(VchanDeath, ServerCrashAtEveryTransferStep) { crash_at_every_step(server_dom); }

}  // namespace
}  // namespace xenwire::vchan
