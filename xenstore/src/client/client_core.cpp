#include "client_core.hpp"

#include <array>
#include <cstring>
#include <vector>

#include "xenwire/xenstore/replies.hpp"

namespace xenwire::xenstore::detail {
namespace {

std::span<const std::byte> bytes_of(const std::string& s) noexcept {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// How long the stream must go without requests before the background thread reads it anyway.
constexpr auto idle_read_delay = std::chrono::milliseconds(20);

// What the caller of a locally closed client sees.
client_error closed_locally() noexcept { return std::make_error_code(std::errc::operation_canceled); }

}  // namespace

client_core::client_core(std::unique_ptr<client_connection> conn, client_options opts)
    : conn_(std::move(conn)), timed_(dynamic_cast<deadline_read*>(conn_.get())), opts_(opts) {}

client_core::~client_core() {
  close(closed_locally());
  if (reader_.joinable()) {
    // Only when the last owner lets go from a reply callback, on the background thread itself.
    if (reader_.get_id() == std::this_thread::get_id()) {
      reader_.detach();
    } else {
      reader_.join();
    }
  }
}

void client_core::start() { reader_ = std::thread([this] { reader_loop(); }); }

std::uint32_t client_core::enqueue_locked(std::string& frame, reply_handler done, reply_slot* slot) {
  header h{};
  std::memcpy(&h, frame.data(), sizeof h);
  std::uint32_t id = 0;
  do {
    id = next_id_++;
  } while (id == 0 || pending_.contains(id));
  pending_.emplace(id, waiting{static_cast<msg_type>(h.type), std::move(done), slot});
  if (slot != nullptr) ++blocking_;
  ++requests_;
  std::memcpy(frame.data() + offsetof(header, req_id), &id, sizeof id);
  return id;
}

void client_core::send(std::uint32_t id, const std::string& frame) {
  result<void> written;
  {
    std::lock_guard wl(write_mu_);
    // A reconnect or failure between registering and writing already answered this request.
    std::unique_lock check(mu_);
    if (!pending_.contains(id)) return;
    check.unlock();
    written = conn_->write_all(bytes_of(frame));
  }
  // Outside write_mu_: handlers may send again.
  if (!written) fail_all(written.error());
}

std::uint32_t client_core::submit(std::string frame, reply_handler done) {
  if (frame.size() < header_size) {
    done(client_fail(errc::invalid_argument));
    return 0;
  }
  std::unique_lock lk(mu_);
  if (failure_) {
    const client_error why = *failure_;
    lk.unlock();
    done(client_fail(why));
    return 0;
  }
  const std::uint32_t id = enqueue_locked(frame, std::move(done), nullptr);
  // No caller may be waiting to read this reply: the background thread may have to.
  if (reader_needed_locked()) reader_cv_.notify_one();
  lk.unlock();
  send(id, frame);
  return id;
}

client_result<message> client_core::call_blocking(std::string frame) {
  if (frame.size() < header_size) return client_fail(errc::invalid_argument);
  reply_slot slot;
  std::unique_lock lk(mu_);
  if (failure_) return client_fail(*failure_);
  const std::uint32_t id = enqueue_locked(frame, {}, &slot);
  lk.unlock();
  send(id, frame);

  const bool bounded = opts_.timeout.count() > 0;
  const time_point deadline = bounded ? std::chrono::steady_clock::now() + opts_.timeout : time_point::max();
  lk.lock();
  for (;;) {
    if (slot.result) return std::move(*slot.result);
    bool expired = false;
    if (timed_ != nullptr && !reading_ && !reconnecting_ && !failure_) {
      expired = !lead(lk, slot, deadline);
    } else if (!bounded) {
      slot.cv.wait(lk);
    } else {
      expired = slot.cv.wait_until(lk, deadline) == std::cv_status::timeout;
    }
    if (expired && !slot.result) {
      pending_.erase(id);  // a late reply is dropped
      --blocking_;
      hand_on_locked();  // we may have been the one picked to read next
      return client_fail(errc::timed_out);
    }
  }
}

bool client_core::lead(std::unique_lock<std::mutex>& lk, reply_slot& slot, time_point deadline) {
  reading_ = true;
  bool in_time = true;
  while (!slot.result) {
    lk.unlock();
    auto r = read_round(deadline);
    lk.lock();
    if (r) continue;
    if (r.error() == make_error_code(errc::timed_out)) {
      in_time = false;
    } else {
      stream_failed(lk, r.error());  // answers every caller, or leaves that to reconnect()
    }
    break;
  }
  reading_ = false;
  hand_on_locked();
  return in_time;
}

result<void> client_core::read_round(time_point deadline) {
  auto n = timed_ != nullptr ? timed_->read_some_until(buf_, deadline) : conn_->read_some(buf_);
  if (!n) return fail(n.error());
  return decoder_.feed(std::span<const std::byte>(buf_.data(), *n), [this](const message_view& m) { dispatch(m); });
}

void client_core::stream_failed(std::unique_lock<std::mutex>& lk, std::error_code why) {
  if (reconnecting_) return;  // reconnect() answers the waiting requests itself
  lk.unlock();
  fail_all(why);
  lk.lock();
}

void client_core::reader_loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    if (stopping_) return;
    if (!reader_needed_locked()) {
      if (failure_ || reconnecting_) {
        reader_cv_.wait(lk);  // reconnect() wakes us when it is done
        continue;
      }
      // Nothing needs reading now, but a stream nobody reads would hide the server's end
      // (failure() stays empty). Read once no request came for idle_read_delay: between the calls
      // of a busy client, callers keep reading their own replies. A timer rather than a wake-up
      // from every call that ends: that wake-up would cost what the read turn saves.
      const std::uint64_t seen = requests_;
      if (reader_cv_.wait_for(lk, idle_read_delay) == std::cv_status::no_timeout) continue;
      if (requests_ != seen || !quiet_locked()) continue;
    }
    reading_ = true;
    lk.unlock();
    auto r = read_round(time_point::max());
    lk.lock();
    if (!r) stream_failed(lk, r.error());
    // Give the turn up after every read: a caller that waits now reads its own replies.
    reading_ = false;
    hand_on_locked();
  }
}

bool client_core::quiet_locked() const {
  return !reading_ && !reconnecting_ && !failure_ && blocking_ == 0;
}

bool client_core::reader_needed_locked() const {
  if (reading_ || reconnecting_ || failure_) return false;
  if (timed_ == nullptr) return true;  // callers cannot read: always keep a reader
  // A waiting caller reads for everyone; otherwise only events and asynchronous replies need one.
  return blocking_ == 0 && (!watches_.empty() || !pending_.empty());
}

void client_core::hand_on_locked() {
  if (reading_) return;
  if (reconnecting_) {
    idle_cv_.notify_all();
    return;
  }
  if (failure_) return;
  if (timed_ != nullptr && blocking_ > 0) {
    for (auto& [id, w] : pending_) {
      if (w.slot != nullptr) {
        w.slot->cv.notify_one();
        return;
      }
    }
  }
  if (reader_needed_locked()) reader_cv_.notify_one();
}

void client_core::dispatch(const message_view& m) {
  if (m.hdr.type == static_cast<std::uint32_t>(msg_type::watch_event)) {
    auto ev = parse_watch_event(m.payload);
    if (!ev) return;  // malformed: nothing to deliver it to
    std::shared_ptr<watch_state> w;
    {
      std::lock_guard lk(mu_);
      auto it = watches_.find(std::string(ev->token));
      if (it == watches_.end()) return;  // unwatched meanwhile
      w = it->second;
    }
    w->push(ev->path);
    return;
  }
  auto outcome = [&m](msg_type expected) -> client_result<message> {
    if (m.hdr.type == static_cast<std::uint32_t>(msg_type::error)) return client_fail(parse_error_reply(m.payload));
    if (m.hdr.type != static_cast<std::uint32_t>(expected)) return client_fail(errc::protocol_error);
    return message(m);
  };
  std::unique_lock lk(mu_);
  auto it = pending_.find(m.hdr.req_id);
  if (it == pending_.end()) return;  // its caller timed out
  waiting w = std::move(it->second);
  pending_.erase(it);
  if (w.slot != nullptr) {
    --blocking_;
    w.slot->result = outcome(w.type);
    w.slot->cv.notify_one();  // under mu_: the slot lives until its owner sees the result
    return;
  }
  lk.unlock();
  w.done(outcome(w.type));
}

std::vector<reply_handler> client_core::answer_pending_locked(const client_error& why) {
  std::vector<reply_handler> handlers;
  for (auto& [id, w] : pending_) {
    if (w.slot != nullptr) {
      w.slot->result = client_fail(why);
      w.slot->cv.notify_one();
    } else {
      handlers.push_back(std::move(w.done));
    }
  }
  pending_.clear();
  blocking_ = 0;
  return handlers;
}

void client_core::fail_all(client_error why) {
  std::vector<std::shared_ptr<watch_state>> ended;
  std::vector<reply_handler> answered;
  {
    std::lock_guard lk(mu_);
    if (!failure_) failure_ = why;
    why = *failure_;
    for (auto& [token, w] : watches_) ended.push_back(w);
    answered = answer_pending_locked(why);
  }
  conn_->close();  // unblocks whoever reads
  for (auto& done : answered) done(client_fail(why));
  for (auto& w : ended) w->end(why);
}

void client_core::close(client_error why) noexcept {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    reader_cv_.notify_one();
  }
  fail_all(why);
  if (reader_.joinable() && reader_.get_id() != std::this_thread::get_id()) reader_.join();
}

client_result<void> client_core::reconnect() {
  std::vector<reply_handler> lost;  // sent on the old stream: never answered
  {
    std::unique_lock wl(write_mu_);
    std::unique_lock lk(mu_);
    reconnecting_ = true;
    lk.unlock();
    conn_->close();  // whoever reads gives the turn up
    lk.lock();
    idle_cv_.wait(lk, [this] { return !reading_; });
    lost = answer_pending_locked(make_error_code(errc::peer_closed));
    lk.unlock();
    decoder_.reset();  // nobody reads while reconnecting_: a fresh stream starts on a frame
    auto r = conn_->reconnect();
    lk.lock();
    reconnecting_ = false;
    bool restart = false;
    if (!r) {
      if (!failure_) failure_ = r.error();
    } else {
      failure_.reset();
      // After close() the background thread is gone: bring it back for the new stream.
      restart = stopping_ && !reader_.joinable();
      stopping_ = false;
    }
    hand_on_locked();
    reader_cv_.notify_one();  // it waits untimed while reconnecting
    lk.unlock();
    if (restart) start();
    wl.unlock();
    for (auto& done : lost) done(client_fail(errc::peer_closed));
    if (!r) {
      fail_all(r.error());
      return client_fail(r.error());
    }
  }
  // The server forgot our watches with the old stream: register them again.
  std::vector<std::shared_ptr<watch_state>> again;
  {
    std::lock_guard lk(mu_);
    for (auto& [token, w] : watches_) again.push_back(w);
  }
  for (auto& w : again) {
    std::string frame;
    message_writer mw(frame, msg_type::watch, 0, 0);
    mw.arg(w->path).arg(w->token);
    if (w->depth) mw.arg(*w->depth);
    if (auto f = mw.finish(); !f) return client_fail(f.error());
    auto r = call_blocking(std::move(frame));
    if (!r) return client_fail(r.error());
  }
  return {};
}

client_result<void> client_core::add_watch(const std::shared_ptr<watch_state>& w) {
  std::lock_guard lk(mu_);
  if (failure_) return client_fail(*failure_);
  if (!watches_.emplace(w->token, w).second) return client_fail(xs_error::eexist);
  // Events may now come while no caller waits: the background thread reads them.
  if (reader_needed_locked()) reader_cv_.notify_one();
  return {};
}

void client_core::forget_watch(const std::string& token) noexcept {
  std::lock_guard lk(mu_);
  watches_.erase(token);
}

std::string client_core::next_token() {
  std::lock_guard lk(mu_);
  return "xenwire-" + std::to_string(next_token_++);
}

std::optional<client_error> client_core::failure() const {
  std::lock_guard lk(mu_);
  return failure_;
}

}  // namespace xenwire::xenstore::detail
