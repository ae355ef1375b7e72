// A Xenstore client over one connection (Unix socket, xenbus device or guest ring), shared safely
// by any number of threads.
//
// Threading: one thread at a time reads the stream, matches each reply to its caller by req_id
// (every request gets its own id; servers echo it) and appends watch events to their watch's
// bounded queue: a blocking caller waiting for its reply (so a lone caller reads its own), else a
// background thread per client (docs/client.md). Writers take a mutex only to put one whole frame
// on the stream. Blocking calls wait (at most client_options::timeout) for their reply;
// asynchronous calls return a std::future or call a callback on the reading thread (keep
// callbacks short: they delay every other reply). Nothing a watcher does can delay a reply.
//
// Errors: client_result<T> = tl::expected<T, client_error>: the Xenstore error the server named,
// or a transport error (peer_closed when the connection broke: every waiting caller gets it,
// timed_out, protocol_error for a malformed stream, ring_corrupt...).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "xenwire/xenstore/client/connection.hpp"
#include "xenwire/xenstore/client/error.hpp"
#include "xenwire/xenstore/client/ops.hpp"
#include "xenwire/xenstore/client/watch.hpp"
#include "xenwire/xenstore/perms.hpp"
#include "xenwire/xenstore/wire.hpp"

namespace xenwire::xenstore {

struct client_options {
  std::chrono::milliseconds timeout{30'000};  // per blocking call
  std::size_t watch_queue_limit = 1024;       // default bound of each watch's queue
};

// What an asynchronous raw request completes with: the reply (never an ERROR message: that
// becomes the client_error) or why there is none.
using reply_handler = std::function<void(client_result<message>)>;

class client {
 public:
  static client_result<client> open(std::unique_ptr<client_connection> conn, client_options opts = {});
  // connect_default(): $XENSTORED_PATH & co., else the xenbus device.
  static client_result<client> open_default(client_options opts = {});

  client() = default;  // not connected: every call fails with operation_canceled
  client(client&&) noexcept;
  client& operator=(client&&) noexcept;
  ~client();  // close()

  // --- generic --------------------------------------------------------------------------------
  template <class Op>
  client_result<typename Op::value_type> call(const Op& op, tx_id tx = no_transaction);
  template <class Op>
  std::future<client_result<typename Op::value_type>> call_async(const Op& op, tx_id tx = no_transaction);
  // `done` runs on the reading thread, or at once on the caller's if the request cannot be sent.
  template <class Op, class F>
  void call_async(const Op& op, tx_id tx, F&& done);
  // Any message type with a ready payload (tools, tests): the reply message.
  client_result<message> request(msg_type type, std::string_view payload, tx_id tx = no_transaction);
  void request_async(msg_type type, std::string_view payload, tx_id tx, reply_handler done);

  // --- nodes ----------------------------------------------------------------------------------
  client_result<std::string> read(std::string_view path, tx_id tx = no_transaction);
  // nullopt for ENOENT.
  client_result<std::optional<std::string>> try_read(std::string_view path, tx_id tx = no_transaction);
  client_result<void> write(std::string_view path, std::string_view value, tx_id tx = no_transaction);
  client_result<void> mkdir(std::string_view path, tx_id tx = no_transaction);
  client_result<void> rm(std::string_view path, tx_id tx = no_transaction);
  client_result<bool> exists(std::string_view path, tx_id tx = no_transaction);
  // DIRECTORY, falling back to DIRECTORY_PART on E2BIG (restarting when the generation changes).
  client_result<std::vector<std::string>> directory(std::string_view path, tx_id tx = no_transaction);
  client_result<node_perms> get_perms(std::string_view path, tx_id tx = no_transaction);
  client_result<void> set_perms(std::string_view path, const node_perms& perms, tx_id tx = no_transaction);

  // --- watches --------------------------------------------------------------------------------
  // Registers a watch; the server fires one event for `path` at once.
  client_result<watch> add_watch(std::string_view path, watch_options opts = {});
  // As watch::unwatch().
  client_result<void> unwatch(watch& w) { return w.unwatch(); }
  client_result<void> reset_watches();

  // --- transactions (see transaction.hpp for the retrying runner) -------------------------------
  client_result<tx_id> transaction_start();
  client_result<void> transaction_end(tx_id tx, bool commit);

  // --- domains and server (privileged) --------------------------------------------------------
  client_result<void> introduce(domid_t domid, std::uint64_t gfn, evtchn_port_t port);
  client_result<void> release(domid_t domid);
  client_result<void> resume(domid_t domid);
  client_result<bool> is_domain_introduced(domid_t domid);
  client_result<std::string> get_domain_path(domid_t domid);
  client_result<void> set_target(domid_t domid, domid_t target);
  client_result<std::uint32_t> get_feature(std::optional<domid_t> domid = std::nullopt);
  client_result<void> set_feature(domid_t domid, std::uint32_t features);
  client_result<std::vector<std::string>> quota_names();
  client_result<std::uint32_t> get_quota(std::string_view name, std::optional<domid_t> domid = std::nullopt);
  client_result<void> set_quota(std::string_view name, std::uint32_t value, std::optional<domid_t> domid = std::nullopt);
  client_result<std::string> control(std::string_view command, std::vector<std::string> params = {});

  // --- connection -----------------------------------------------------------------------------
  // Starts over on a fresh stream (socket: a new connection; ring: the reconnect handshake).
  // Requests in flight fail with peer_closed; watches are registered again on the new stream (each
  // fires its initial event again); transactions are gone.
  client_result<void> reconnect();
  // Closes the connection: waiting callers and watches get peer_closed. Idempotent.
  void close() noexcept;
  // The error that ended the connection, if it ended.
  std::optional<client_error> failure() const;
  const client_options& options() const noexcept;
  std::string describe() const;

 private:
  explicit client(std::shared_ptr<detail::client_core> core) noexcept;
  // Sends `frame` (req_id patched in); `done` gets the reply. Returns the req_id, 0 if not sent.
  std::uint32_t submit(std::string frame, reply_handler done);
  client_result<message> wait_reply(std::string frame);

  template <class Op>
  static client_result<std::string> encode(const Op& op, tx_id tx) {
    std::string out;
    message_writer w(out, Op::type, 0, tx);
    op.args(w);
    if (auto r = w.finish(); !r) return client_fail(r.error());
    return out;
  }
  template <class Op>
  static client_result<typename Op::value_type> finish(client_result<message> m) {
    if (!m) return client_fail(m.error());
    return Op::parse(m->payload);
  }

  std::shared_ptr<detail::client_core> core_;
};

template <class Op>
client_result<typename Op::value_type> client::call(const Op& op, tx_id tx) {
  auto frame = encode(op, tx);
  if (!frame) return client_fail(frame.error());
  return finish<Op>(wait_reply(std::move(*frame)));
}

template <class Op, class F>
void client::call_async(const Op& op, tx_id tx, F&& done) {
  auto frame = encode(op, tx);
  if (!frame) {
    done(client_result<typename Op::value_type>(client_fail(frame.error())));
    return;
  }
  submit(std::move(*frame), [d = std::forward<F>(done)](client_result<message> m) mutable { d(finish<Op>(std::move(m))); });
}

template <class Op>
std::future<client_result<typename Op::value_type>> client::call_async(const Op& op, tx_id tx) {
  auto promise = std::make_shared<std::promise<client_result<typename Op::value_type>>>();
  auto fut = promise->get_future();
  call_async(op, tx, [promise](client_result<typename Op::value_type> r) { promise->set_value(std::move(r)); });
  return fut;
}

}  // namespace xenwire::xenstore
