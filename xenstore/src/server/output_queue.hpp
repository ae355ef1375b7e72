// A connection's queue of encoded frames (replies and watch events) waiting to be sent.
// Keeps what quotas need to know: bytes queued, replies outstanding; drops duplicate and expired
// events as C xenstored does. Strings are recycled so steady-state queuing does not allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "xenwire/xenstore/server/core.hpp"

namespace xenwire::xenstore::detail {

class output_queue {
 public:
  enum class kind : std::uint8_t { reply, event };

  // A buffer to encode the next frame into; hand it back with push() (or recycle()).
  std::string take_buffer();
  void recycle(std::string buffer);
  // Queues an encoded frame. Events identical to one still queued and unsent are dropped (returns
  // false), as C xenstored does not queue the same event twice.
  bool push(std::string frame, kind k, time_point now);

  std::span<const std::byte> front() const noexcept;
  // Copies up to `max` unacknowledged bytes, across frames, into `into`, and marks the frames
  // started: they are in an asynchronous send's hands now.
  std::size_t stage(std::vector<std::byte>& into, std::size_t max);
  // Acknowledges `n` bytes of the front frames as sent; returns how many replies completed.
  std::size_t consume(std::size_t n);
  // Drops events queued before `cutoff` that have not started to go out; returns how many.
  std::size_t expire_events(time_point cutoff);
  std::optional<time_point> oldest_unsent_event() const noexcept;
  void clear();

  // Live update: every byte not sent yet, in order; `partial` is how many of them finish a frame
  // already partly sent (0 if none was).
  std::string unsent(std::size_t& partial) const;
  // The rest of a frame that was partly sent before a live update: goes out first, never expires.
  void push_rest(std::string rest, kind k);

  bool empty() const noexcept { return frames_.empty(); }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t replies() const noexcept { return replies_; }
  std::size_t events() const noexcept { return frames_.size() - replies_; }

 private:
  struct frame {
    std::string bytes;  // >= 16 bytes, so always heap-allocated: views survive moves
    kind k;
    time_point queued;
    bool started = false;  // some bytes went out: no longer an unsent duplicate, cannot expire
  };
  void pop_front();
  void mark_started(frame& f);

  std::deque<frame> frames_;
  std::size_t sent_ = 0;  // bytes of frames_.front() already sent
  std::size_t bytes_ = 0;
  std::size_t replies_ = 0;
  std::unordered_set<std::string_view> unsent_events_;  // views into frames_ (stable in a deque)
  std::vector<std::string> spare_;
};

}  // namespace xenwire::xenstore::detail
