// The shared state behind a client handle and its watches: the connection, the reader thread, the
// requests waiting for replies (by req_id) and the registered watches (by token).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

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

  // Reader thread: never blocks on the watcher.
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
  struct waiting {
    msg_type type;
    reply_handler done;
  };
  void reader_loop();
  void dispatch(const message_view& m);
  // Ends the connection: every waiting request (and, unless keep_watches, every watch) gets `why`.
  void fail_all(client_error why, bool keep_watches);
  bool cancel(std::uint32_t id);
  std::unordered_map<std::uint32_t, waiting> take_pending();

  std::unique_ptr<client_connection> conn_;
  const client_options opts_;

  std::mutex write_mu_;  // one frame at a time on the stream; held across reconnect
  mutable std::mutex mu_;
  std::unordered_map<std::uint32_t, waiting> pending_;
  std::unordered_map<std::string, std::shared_ptr<watch_state>> watches_;
  std::optional<client_error> failure_;
  bool reconnecting_ = false;
  std::uint32_t next_id_ = 1;
  std::uint64_t next_token_ = 1;
  std::thread reader_;
};

}  // namespace xenwire::xenstore::detail
