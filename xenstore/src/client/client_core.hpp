// The shared state behind a client handle and its watches: the connection, the read turn, the
// background reader thread, the requests waiting for replies (by req_id) and the registered
// watches (by token).
//
// The read turn (leader/follower): at most one thread at a time reads the stream and dispatches
// what it reads. A blocking caller whose reply is due takes the turn itself when it is free, so a
// lone caller reads its own reply with no other thread involved; replies for other callers and
// watch events it reads go to their owners. Whoever gives the turn up hands it on: to a caller
// still waiting, else to the background thread when watches or asynchronous requests need a
// reader. With neither, the background thread reads only once the stream has been idle a moment
// (to notice the server's end), so back-to-back calls all read their own replies.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "deadline_read.hpp"
#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::xenstore::detail {

struct watch_state {
  watch_state(std::string p, std::string t, std::optional<std::uint32_t> d, std::size_t lim);
  ~watch_state();
  watch_state(const watch_state&) = delete;
  watch_state& operator=(const watch_state&) = delete;

  const std::string path, token;
  const std::optional<std::uint32_t> depth;
  const std::size_t limit;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<watch_event> queue;    // at most `limit` entries
  std::uint64_t unreported_drops = 0;  // dropped after the queue's last entry
  std::optional<client_error> ended;  // the connection's error, or invalid_argument once removed
  // An eventfd whose counter is non-zero exactly while next() would not block (an entry, a pending
  // marker or the end): level-triggered for the watcher's poll loop. -1 if none could be made.
  const int ready_fd;
  bool fd_raised = false;

  // Whoever reads the stream: never blocks on the watcher.
  void push(std::string_view event_path);
  void end(client_error why);
  client_result<watch_event> next(std::chrono::milliseconds timeout);
  std::optional<watch_event> try_next();

 private:
  std::optional<watch_event> pop_locked();
  void push_locked(std::string_view event_path);
  // Brings ready_fd in line with the queue; called with `mu` held after every change.
  void sync_fd_locked() noexcept;
};

class client_core {
 public:
  client_core(std::unique_ptr<client_connection> conn, client_options opts);
  ~client_core();
  client_core(const client_core&) = delete;
  client_core& operator=(const client_core&) = delete;

  void start();
  std::uint32_t submit(std::string frame, reply_handler done);
  // Waits for the reply, reading the stream itself while nobody else does.
  client_result<message> call_blocking(std::string frame);
  client_result<void> reconnect();
  void close(client_error why) noexcept;

  client_result<void> add_watch(const std::shared_ptr<watch_state>& w);
  void forget_watch(const std::string& token) noexcept;
  std::string next_token();

  std::optional<client_error> failure() const;
  const client_options& options() const noexcept { return opts_; }
  std::string describe() const { return conn_->describe(); }

 private:
  using time_point = deadline_read::time_point;
  // A blocking caller's reply, answered in place under mu_.
  struct reply_slot {
    std::condition_variable cv;  // with mu_: the reply came, or the read turn is free
    std::optional<client_result<message>> result;
  };
  struct waiting {
    msg_type type;
    reply_handler done;          // asynchronous requests
    reply_slot* slot = nullptr;  // blocking callers
  };

  // Registers the request and patches its req_id into `frame`.
  std::uint32_t enqueue_locked(std::string& frame, reply_handler done, reply_slot* slot);
  void send(std::uint32_t id, const std::string& frame);
  // Holds the read turn until `slot` is answered; false if `deadline` passed first.
  bool lead(std::unique_lock<std::mutex>& lk, reply_slot& slot, time_point deadline);
  // One read_some and the dispatch of every frame it completes; only with the read turn.
  result<void> read_round(time_point deadline);
  // After a read_round failure, with the read turn still held and `lk` locked.
  void stream_failed(std::unique_lock<std::mutex>& lk, std::error_code why);
  void reader_loop();
  void dispatch(const message_view& m);
  bool reader_needed_locked() const;
  bool quiet_locked() const;  // nobody reads, nobody waits, the stream is up
  void hand_on_locked();
  // Ends the connection: every waiting request and every watch gets `why`.
  void fail_all(client_error why);
  // Answers blocking callers in place; returns the asynchronous handlers to call outside mu_.
  std::vector<reply_handler> answer_pending_locked(const client_error& why);

  std::unique_ptr<client_connection> conn_;
  deadline_read* const timed_;  // conn_ as a deadline_read; null: callers never take the read turn
  const client_options opts_;

  std::mutex write_mu_;  // one frame at a time on the stream; held across reconnect
  mutable std::mutex mu_;
  std::condition_variable reader_cv_;  // the background thread: a reader is needed, or stop
  std::condition_variable idle_cv_;    // reconnect(): the read turn was given up
  std::unordered_map<std::uint32_t, waiting> pending_;
  std::size_t blocking_ = 0;   // entries of pending_ with a slot
  std::uint64_t requests_ = 0;  // requests ever sent: the background thread's idle test
  std::unordered_map<std::string, std::shared_ptr<watch_state>> watches_;
  std::optional<client_error> failure_;
  bool reading_ = false;  // someone holds the read turn
  bool reconnecting_ = false;
  bool stopping_ = false;  // the background thread is to exit
  std::uint32_t next_id_ = 1;
  std::uint64_t next_token_ = 1;
  std::thread reader_;

  // Only with the read turn (handed over under mu_).
  frame_decoder decoder_;
  std::array<std::byte, 4096> buf_{};
};

}  // namespace xenwire::xenstore::detail
