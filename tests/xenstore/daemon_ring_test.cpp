// The daemon's ring side over the simulator: dom0 INTRODUCEs a guest through the socket, the guest
// talks through its xenstore page and event channel; bad indices and bad frames stop the ring.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "xenwire/ring/xenstore_ring.hpp"
#include "xenwire/sim/host.hpp"
#include "xenwire/base/unique_fd.hpp"
#include "xenwire/xenstore/daemon/xenstored.hpp"

namespace xs = xenwire::xenstore;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

constexpr std::uint32_t t_read = 2, t_introduce = 8, t_write = 11, t_error = 16;
constexpr xenwire::domid_t guest_domid = 3;

std::string frame(std::uint32_t type, std::string_view payload, std::uint32_t len_override = 0) {
  const std::uint32_t h[4] = {type, 0, 0, len_override ? len_override : static_cast<std::uint32_t>(payload.size())};
  std::string out(sizeof h, '\0');
  std::memcpy(out.data(), h, sizeof h);
  return out + std::string(payload);
}

std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// A blocking dom0 client of the daemon's socket: one request, one reply.
std::optional<std::pair<std::uint32_t, std::string>> dom0_call(const std::string& path, std::uint32_t type,
                                                               std::string_view payload) {
  xenwire::unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd.get(), static_cast<const sockaddr*>(static_cast<const void*>(&addr)), sizeof addr) != 0) return {};
  const std::string f = frame(type, payload);
  if (::send(fd.get(), f.data(), f.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(f.size())) return {};
  std::string in;
  char buf[4096];
  while (in.size() < 16 || in.size() < 16 + [&] { std::uint32_t l; std::memcpy(&l, in.data() + 12, 4); return l; }()) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return {};
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) return {};
    in.append(buf, static_cast<std::size_t>(n));
  }
  std::uint32_t type_out;
  std::memcpy(&type_out, in.data(), 4);
  return std::make_pair(type_out, in.substr(16));
}

std::uint32_t load(const std::uint32_t& field) {
  return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(field)).load(std::memory_order_acquire);
}

// A guest's side of its ring: writes all of `bytes`, signalling the daemon as it goes.
void ring_send(xs::guest_ring& ring, xenwire::sim::xenstore_endpoint& ep, const std::string& bytes) {
  auto rest = as_bytes(bytes);
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!rest.empty() && std::chrono::steady_clock::now() < until) {
    auto t = ring.write(rest);
    ASSERT_TRUE(t) << t.error().message();
    rest = rest.subspan(t->bytes);
    ASSERT_TRUE(ep.events->notify(ep.port));
    if (!rest.empty()) (void)ep.events->wait(10ms);
  }
  ASSERT_TRUE(rest.empty());
}

// The next frame the daemon wrote to the ring: its type and payload. `in` keeps what was read past it.
std::optional<std::pair<std::uint32_t, std::string>> ring_next(xs::guest_ring& ring, xenwire::sim::xenstore_endpoint& ep,
                                                               std::string& in) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    if (in.size() >= 16) {
      std::uint32_t h[4];
      std::memcpy(h, in.data(), sizeof h);
      if (in.size() >= 16 + h[3]) {
        auto out = std::make_pair(h[0], in.substr(16, h[3]));
        in.erase(0, 16 + h[3]);
        return out;
      }
    }
    std::array<std::byte, 1024> buf{};
    auto t = ring.read(buf);
    if (!t) return {};
    in.append(static_cast<const char*>(static_cast<const void*>(buf.data())), t->bytes);
    if (t->notify) (void)ep.events->notify(ep.port);
    if (t->bytes == 0) (void)ep.events->wait(20ms);
  }
  return {};
}

class DaemonRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "xs-ring-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    socket_ = (dir_ / "socket").string();
    ASSERT_TRUE(host_.create_domain(0));
    auto info = host_.create_domain(guest_domid, {.xenstore = true, .xenstore_domid = 0});
    ASSERT_TRUE(info);
    dom0_ = std::move(host_.transport(0).value());
    guest_ = std::move(host_.transport(guest_domid).value());
    auto ep = guest_->take_xenstore();
    ASSERT_TRUE(ep);
    ep_ = std::move(*ep);
    page_ = static_cast<xs::domain_interface*>(static_cast<void*>(ep_.page->bytes().data()));

    xs::daemon_settings s;
    s.socket_path = socket_;
    s.stop_on_signals = false;
    auto d = xs::xenstored::create(std::move(s), dom0_.get(), {});
    ASSERT_TRUE(d) << d.error().message();
    daemon_ = std::move(*d);
    thread_ = std::thread([this] { (void)daemon_->run(); });

    // With port_in_page_, Xen's dom0less builder's way: the port in the page, a useless one in INTRODUCE.
    if (port_in_page_)
      std::atomic_ref<std::uint32_t>(page_->evtchn_port).store(ep_.port, std::memory_order_release);
    const auto introduce_port = port_in_page_ ? ep_.port + 1000 : ep_.port;
    auto r = dom0_call(socket_, t_introduce, "3\0"s + "0\0"s + std::to_string(introduce_port) + '\0');
    ASSERT_TRUE(r);
    ASSERT_EQ(r->first, t_introduce) << r->second;
    auto ring = xs::guest_ring::attach(ep_.page->bytes());
    ASSERT_TRUE(ring);
    ring_.emplace(*ring);
  }
  void TearDown() override {
    if (thread_.joinable()) {
      daemon_->stop();
      thread_.join();
    }
    daemon_.reset();
    fs::remove_all(dir_);
  }

  void guest_send(const std::string& bytes) { ring_send(*ring_, ep_, bytes); }
  // The first frame waiting; bytes read past it are dropped.
  std::optional<std::pair<std::uint32_t, std::string>> guest_reply() {
    std::string in;
    return ring_next(*ring_, ep_, in);
  }
  bool error_becomes(xs::ring_error want) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
      if (load(page_->error) == static_cast<std::uint32_t>(want)) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  bool port_in_page_ = false;
  xenwire::sim::host host_;
  std::unique_ptr<xenwire::sim::domain_transport> dom0_, guest_;
  xenwire::sim::xenstore_endpoint ep_;
  xs::domain_interface* page_ = nullptr;
  std::optional<xs::guest_ring> ring_;
  fs::path dir_;
  std::string socket_;
  std::unique_ptr<xs::xenstored> daemon_;
  std::thread thread_;
};

class DaemonRingPortInPageTest : public DaemonRingTest {
 protected:
  DaemonRingPortInPageTest() { port_in_page_ = true; }
};

}  // namespace

// The store domain's own ring (C xenstored's dom0_init): its kernel's page and a port unbound for
// dom0 itself, handed to the daemon in daemon_settings::dom0_ring, served as dom0's connection.
TEST(DaemonOwnRing, TheKernelsXenbusRingIsServedAsDom0) {
  struct kernel_page final : xenwire::mapped_pages {
    alignas(4096) std::array<std::byte, xenwire::page_size> mem{};
    std::span<std::byte> bytes() noexcept override { return mem; }
    xenwire::access mode() const noexcept override { return xenwire::access::read_write; }
    xenwire::domid_t peer() const noexcept override { return 0; }
  };
  std::string tmpl = (fs::temp_directory_path() / "xs-own-XXXXXX").string();
  const fs::path dir = ::mkdtemp(tmpl.data());
  xenwire::sim::host host;
  ASSERT_TRUE(host.create_domain(0));
  auto dom0 = host.transport(0).value();
  auto kernel = host.transport(0).value();
  auto kernel_events = kernel->open_event_channel().value();
  const auto kport = kernel_events->bind_unbound(0).value();
  auto page = std::make_shared<kernel_page>();
  auto ring = xs::guest_ring::attach(page->bytes()).value();

  xs::daemon_settings s;
  s.socket_path = (dir / "socket").string();
  s.stop_on_signals = false;
  s.dom0_ring = xs::daemon_settings::local_ring{page, kport};
  auto d = xs::xenstored::create(std::move(s), dom0.get(), {});
  ASSERT_TRUE(d) << d.error().message();
  std::thread t([&] { (void)(*d)->run(); });

  const std::string req = frame(t_write, "/kernel/x\0from dom0's kernel ring"s);
  auto w = ring.write(as_bytes(req));
  ASSERT_TRUE(w);
  ASSERT_EQ(w->bytes, req.size());
  ASSERT_TRUE(kernel_events->notify(kport));
  std::string in;
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (in.size() < 16 && std::chrono::steady_clock::now() < until) {
    (void)kernel_events->wait(20ms);
    std::array<std::byte, 256> buf{};
    auto r = ring.read(buf);
    ASSERT_TRUE(r);
    in.append(static_cast<const char*>(static_cast<const void*>(buf.data())), r->bytes);
  }
  ASSERT_GE(in.size(), 16u);
  std::uint32_t type = 0;
  std::memcpy(&type, in.data(), 4);
  EXPECT_EQ(type, t_write) << in.substr(16);  // dom0 may write outside any home path
  auto back = dom0_call((dir / "socket").string(), t_read, "/kernel/x\0"s);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->second, "from dom0's kernel ring");

  (*d)->stop();
  t.join();
  d->reset();
  fs::remove_all(dir);
}

// Issue 13 / Xen 4.21+: the page's evtchn_port, when non-zero, is the port to bind, not INTRODUCE's.
TEST_F(DaemonRingPortInPageTest, TheDaemonBindsThePagesEvtchnPort) {
  guest_send(frame(t_write, "x\0via the page's port"s));
  auto r = guest_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, t_write) << r->second;
  auto d0 = dom0_call(socket_, t_read, "/local/domain/3/x\0"s);
  ASSERT_TRUE(d0);
  EXPECT_EQ(d0->second, "via the page's port");
}

TEST_F(DaemonRingTest, GuestTalksThroughItsRing) {
  EXPECT_NE(load(page_->server_features) & xs::feature::reconnection, 0u);
  guest_send(frame(t_write, "x\0from the ring"s));  // relative to /local/domain/3
  auto r = guest_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, t_write) << r->second;
  auto d0 = dom0_call(socket_, t_read, "/local/domain/3/x\0"s);
  ASSERT_TRUE(d0);
  EXPECT_EQ(d0->second, "from the ring");
  guest_send(frame(t_read, "/local/domain/3/x\0"s));
  r = guest_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->second, "from the ring");
}

// The daemon carries out the core's introduce_domain effect: a domain whose page cannot be mapped is
// refused (EINVAL) and the domains already served go on.
TEST_F(DaemonRingTest, AnIntroduceWhoseMappingFailsIsRefused) {
  auto r = dom0_call(socket_, t_introduce, "9\0"s + "0\0"s + "5\0"s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, t_error);
  EXPECT_EQ(r->second, "EINVAL"s + '\0');
  guest_send(frame(t_write, "y\0still here"s));
  auto g = guest_reply();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->first, t_write) << g->second;
}

TEST_F(DaemonRingTest, RepliesLargerThanTheRingArriveInPieces) {
  const std::string big(1500, 'b');  // under the node-size quota, over the 1024-byte ring
  guest_send(frame(t_write, "big\0"s + big));
  auto w = guest_reply();
  ASSERT_TRUE(w);
  ASSERT_EQ(w->first, t_write) << w->second;
  guest_send(frame(t_read, "big\0"s));
  auto r = guest_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->second, big);
}

// A dropped ring leaves its domain introduced (XSA-325); VIRQ_DOM_EXC must still release it.
TEST_F(DaemonRingTest, ADomainWhoseRingWasDroppedIsStillReleasedWhenItDies) {
  guest_send(frame(t_write, "x\0before"s));
  ASSERT_TRUE(guest_reply());
  std::atomic_ref<std::uint32_t>(page_->req_prod).store(load(page_->req_cons) + 5000, std::memory_order_release);
  ASSERT_TRUE(ep_.events->notify(ep_.port));
  ASSERT_TRUE(error_becomes(xs::ring_error::ringidx));
  auto d0 = dom0_call(socket_, t_read, "/local/domain/3/x\0"s);
  ASSERT_TRUE(d0);
  EXPECT_EQ(d0->second, "before");  // still introduced, its nodes kept
  ASSERT_TRUE(host_.destroy_domain(guest_domid));
  const auto until = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    d0 = dom0_call(socket_, t_read, "/local/domain/3/x\0"s);
    ASSERT_TRUE(d0);
    if (d0->first == t_error || std::chrono::steady_clock::now() > until) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(d0->second, "ENOENT"s + '\0');  // released: its nodes are gone
}

TEST_F(DaemonRingTest, CorruptIndicesStopTheRingWithRingidx) {
  std::atomic_ref<std::uint32_t>(page_->req_prod).store(load(page_->req_cons) + 5000, std::memory_order_release);
  ASSERT_TRUE(ep_.events->notify(ep_.port));
  EXPECT_TRUE(error_becomes(xs::ring_error::ringidx));
  auto d0 = dom0_call(socket_, t_read, "/local\0"s);  // the daemon still serves others
  ASSERT_TRUE(d0);
  EXPECT_NE(d0->first, t_error);
}

TEST_F(DaemonRingTest, AnOversizedFrameStopsTheRingWithProto) {
  guest_send(frame(t_write, "", 5000));
  EXPECT_TRUE(error_becomes(xs::ring_error::proto));
  EXPECT_TRUE(dom0_call(socket_, t_read, "/local\0"s));
}

TEST_F(DaemonRingTest, AGuestThatDiesIsReleasedAndLeavesNothingBehind) {
  guest_send(frame(t_write, "x\0alive"s));
  ASSERT_TRUE(guest_reply());
  // A dom0 watcher of @releaseDomain on its own connection.
  xenwire::unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(fd.get(), static_cast<const sockaddr*>(static_cast<const void*>(&addr)), sizeof addr), 0);
  const std::string w = frame(4, "@releaseDomain\0tok\0"s);
  ASSERT_EQ(::send(fd.get(), w.data(), w.size(), MSG_NOSIGNAL), static_cast<ssize_t>(w.size()));
  auto read_frames = [&](std::string& in, std::chrono::milliseconds wait) {
    char buf[4096];
    pollfd p{fd.get(), POLLIN, 0};
    while (::poll(&p, 1, static_cast<int>(wait.count())) > 0) {
      const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<std::size_t>(n));
    }
  };
  std::string in;
  read_frames(in, 300ms);  // the WATCH reply and the initial event
  const std::size_t before = in.size();

  ASSERT_TRUE(host_.destroy_domain(guest_domid));
  read_frames(in, 1000ms);
  EXPECT_NE(in.substr(before).find("@releaseDomain"), std::string::npos) << "no @releaseDomain event";
  auto d0 = dom0_call(socket_, t_read, "/local/domain/3/x\0"s);
  ASSERT_TRUE(d0);
  EXPECT_EQ(d0->first, t_error);  // the dead domain's nodes are gone
  EXPECT_EQ(d0->second, "ENOENT"s + '\0');
  // The daemon unmapped the page and unbound its port: nothing of the guest is left once the
  // guest's own objects are dropped.
  ring_.reset();
  ep_ = {};
  guest_.reset();
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!host_.check_clean(guest_domid) && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(host_.check_clean(guest_domid));
}

// The daemon visits only rings with work: a ring that sends nothing must still get output that
// another connection caused (a watch event), and requests on a few of many rings are all answered.
TEST_F(DaemonRingTest, ManyRingsWithOnlySomeBusyAreAllServed) {
  struct peer {
    xenwire::domid_t domid;
    std::unique_ptr<xenwire::sim::domain_transport> transport;
    xenwire::sim::xenstore_endpoint ep;
    std::optional<xs::guest_ring> ring;
    std::string in;

    void send(const std::string& bytes) { ring_send(*ring, ep, bytes); }
    std::optional<std::pair<std::uint32_t, std::string>> next() { return ring_next(*ring, ep, in); }
    std::string node() const { return "/local/domain/" + std::to_string(domid) + "/w"; }
  };
  constexpr std::uint32_t t_watch = 4, t_watch_event = 15;
  std::vector<peer> peers;
  for (xenwire::domid_t d = 10; d < 26; ++d) {
    ASSERT_TRUE(host_.create_domain(d, {.xenstore = true, .xenstore_domid = 0}));
    peer p{d, std::move(host_.transport(d).value()), {}, {}, {}};
    auto ep = p.transport->take_xenstore();
    ASSERT_TRUE(ep);
    p.ep = std::move(*ep);
    auto r = dom0_call(socket_, t_introduce, std::to_string(d) + '\0' + "0\0"s + std::to_string(p.ep.port) + '\0');
    ASSERT_TRUE(r);
    ASSERT_EQ(r->first, t_introduce) << r->second;
    auto ring = xs::guest_ring::attach(p.ep.page->bytes());
    ASSERT_TRUE(ring);
    p.ring.emplace(*ring);
    peers.push_back(std::move(p));
  }
  for (peer& p : peers) {
    p.send(frame(t_write, p.node() + '\0' + "0"));
    auto w = p.next();
    ASSERT_TRUE(w);
    ASSERT_EQ(w->first, t_write) << w->second;
    p.send(frame(t_watch, p.node() + '\0' + "tok\0"s));
    for (int frames = 0; frames < 2; ++frames) {  // the WATCH reply and the initial event, in either order
      auto f = p.next();
      ASSERT_TRUE(f);
      ASSERT_TRUE(f->first == t_watch || f->first == t_watch_event) << f->first << " " << f->second;
    }
  }
  // dom0 writes every guest's node; only every other guest asks for something meanwhile.
  for (std::size_t i = 0; i < peers.size(); ++i) {
    ASSERT_TRUE(dom0_call(socket_, t_write, peers[i].node() + '\0' + "1"));
    if (i % 2 == 1) peers[i].send(frame(t_read, peers[i].node() + '\0'));
  }
  for (std::size_t i = 0; i < peers.size(); ++i) {
    bool event = false, reply = i % 2 == 0;
    while (!event || !reply) {
      auto f = peers[i].next();
      ASSERT_TRUE(f) << "guest " << peers[i].domid << (event ? ": no READ reply" : ": no watch event");
      if (f->first == t_watch_event) {
        EXPECT_EQ(f->second, peers[i].node() + '\0' + "tok\0"s);
        event = true;
      } else {
        EXPECT_EQ(f->first, t_read);
        EXPECT_EQ(f->second, "1");
        reply = true;
      }
    }
  }
}
