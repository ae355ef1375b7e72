// The state behind a vchan::endpoint, shared by the setup (setup.cpp) and data path (io.cpp).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xenwire/ring/vchan_placement.hpp"
#include "xenwire/ring/vchan_ring.hpp"
#include "xenwire/vchan/endpoint.hpp"

namespace xenwire::vchan {

struct endpoint::impl {
  transport* t = nullptr;
  side who = side::server;
  domid_t peer = 0;
  io_options io{};

  // Server only.
  rendezvous* rdv = nullptr;
  std::string path;
  std::size_t read_min = 0, write_min = 0;
  bool persistent = false;
  // Set while write()/send() run: a persistent server must not re-arm inside them, or bytes meant
  // for the client that just left would land in the next client's fresh ring.
  bool writing = false;
  bool published = false;
  keys pub{};

  std::unique_ptr<event_channel> events;
  evtchn_port_t port = 0;
  bool port_bound = false;
  std::unique_ptr<shared_pages> ctl_share, left_share, right_share;  // server
  std::unique_ptr<mapped_pages> ctl_map, left_map, right_map;        // client
  std::span<std::byte> page;
  vchan::page_plan plan{};
  std::vector<grant_ref_t> grants;  // the grant list as set up: left's refs, then right's
  // Our side of the channel: both rings, the notify bits and live bytes (vchan_ring.hpp). The data
  // path uses its read_some/stage/commit, which never ask for a signal: we ask only before sleeping.
  std::optional<vchan::stream> s;

  status st = status::waiting;
  std::error_code err;
  bool port_closed = false;  // the peer's event-channel end went away
  // The backend cannot tell a port's state (Xen's libxenevtchn has no status call): the peer's
  // live byte, which its unmap-notify clears even when it crashes, is then the only sign.
  bool no_port_state = false;
  bool shut = false;         // close() was called

  // --- setup.cpp ---------------------------------------------------------------------------------
  result<void> server_setup();
  result<void> client_setup(const keys& k);
  // Releases pages and port (our live byte = 0 first, the peer signalled); the event handle stays.
  void teardown() noexcept;
  // Persistent server: a fresh control page, rings and port for the next client.
  result<void> rearm();

  // --- io.cpp ------------------------------------------------------------------------------------
  // Puts the endpoint in status::failed with `ec` (the first error sticks) and returns it.
  std::error_code fail_with(std::error_code ec) noexcept;
  // Before every data call, private state only: not closed by us, not failed.
  std::error_code quick_check() const noexcept;
  // The orders in the control page still match ours; failed if not.
  std::error_code check_orders() noexcept;
  // quick_check() and check_orders(): for the calls off the data path.
  std::error_code precheck() noexcept;
  // The peer's live byte (and what we know of its port) as a status; failed on a bad value.
  status live_status() noexcept;
  // Slow checks: grant list intact, port state; persistent re-arm.
  status refresh() noexcept;
  void signal_peer() noexcept;
  // Our role as the ring sees it: the one role-to-ring mapping is vchan's (read_side()).
  // Attaches s over the page and the rings.
  result<void> attach(vchan::ring_data rings) noexcept;
  // attach()'s undo: tells the peer we are closed (live byte), then drops s.
  void detach() noexcept;
  // After moving bytes: signals the peer if it asked (done.notify), then checks the orders; returns
  // the endpoint's error if it failed.
  std::error_code after_transfer(const transfer& done) noexcept;
  // A read (need 1) or recv (need: the packet) found fewer than `need` bytes: checks the orders and
  // the peer's live byte. false: the peer is live, go on waiting; true: it closed and there is
  // something to look at again (its last bytes, or a re-armed persistent server); peer_closed when
  // nothing more can come, would_block for a non-blocking re-armed server.
  result<bool> short_of_data(std::size_t need) noexcept;
  struct lazy_deadline;
  // Spins (pause, and a yield now and then so a peer on the same CPU can run); false once the
  // budget is spent. Starts `until` (blocking mode only).
  bool spin(unsigned& spins, lazy_deadline& until) const noexcept;
  // The spin budget is spent with no progress: asks the peer to signal `bit` (notify_write: we
  // wait for `need` bytes of data; notify_read: for `need` bytes of space), looks once more so no
  // wake-up is lost, then fails with would_block (non-blocking) or sleeps on the event channel.
  // false: the look found enough; true: slept (and woke); either way, look again.
  result<bool> await_peer(std::uint8_t bit, std::size_t need, lazy_deadline& until) noexcept;
  // Blocks on the event channel until `deadline`; timed_out after it.
  result<void> sleep(std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;
  std::optional<std::chrono::steady_clock::time_point> deadline() const noexcept;
  // A call's deadline, computed on first use: calls that never wait never read the clock.
  struct lazy_deadline {
    std::optional<std::chrono::steady_clock::time_point> get(const impl& m) noexcept;
    std::optional<std::chrono::steady_clock::time_point> at;
    bool known = false;
  };
};

}  // namespace xenwire::vchan
