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

// What the caller of a locally closed client sees.
client_error closed_locally() noexcept { return std::make_error_code(std::errc::operation_canceled); }

}  // namespace

client_core::client_core(std::unique_ptr<client_connection> conn, client_options opts)
    : conn_(std::move(conn)), opts_(opts) {}

client_core::~client_core() {
  close(closed_locally());
  if (reader_.joinable()) {
    // Only when the last owner lets go from a reply callback, on the reader thread itself.
    if (reader_.get_id() == std::this_thread::get_id()) {
      reader_.detach();
    } else {
      reader_.join();
    }
  }
}

void client_core::start() { reader_ = std::thread([this] { reader_loop(); }); }

std::uint32_t client_core::submit(std::string frame, reply_handler done) {
  if (frame.size() < header_size) {
    done(client_fail(errc::invalid_argument));
    return 0;
  }
  header h{};
  std::memcpy(&h, frame.data(), sizeof h);
  std::unique_lock lk(mu_);
  if (failure_) {
    const client_error why = *failure_;
    lk.unlock();
    done(client_fail(why));
    return 0;
  }
  std::uint32_t id = 0;
  do {
    id = next_id_++;
  } while (id == 0 || pending_.contains(id));
  pending_.emplace(id, waiting{static_cast<msg_type>(h.type), std::move(done)});
  lk.unlock();

  std::memcpy(frame.data() + offsetof(header, req_id), &id, sizeof id);
  result<void> written;
  {
    std::lock_guard wl(write_mu_);
    // A reconnect or failure between registering and writing already answered this request.
    std::unique_lock check(mu_);
    if (!pending_.contains(id)) return id;
    check.unlock();
    written = conn_->write_all(bytes_of(frame));
  }
  // Outside write_mu_: handlers may send again.
  if (!written) fail_all(written.error(), false);
  return id;
}

client_result<message> client_core::call_blocking(std::string frame) {
  struct slot {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<client_result<message>> result;
  };
  auto s = std::make_shared<slot>();
  const std::uint32_t id = submit(std::move(frame), [s](client_result<message> r) {
    std::lock_guard lk(s->mu);
    s->result = std::move(r);
    s->cv.notify_one();
  });
  std::unique_lock lk(s->mu);
  auto ready = [&] { return s->result.has_value(); };
  if (opts_.timeout.count() <= 0) {
    s->cv.wait(lk, ready);
  } else if (!s->cv.wait_for(lk, opts_.timeout, ready)) {
    lk.unlock();
    if (cancel(id)) return client_fail(errc::timed_out);
    lk.lock();
    s->cv.wait(lk, ready);  // the reply is being delivered right now
  }
  return std::move(*s->result);
}

bool client_core::cancel(std::uint32_t id) {
  std::lock_guard lk(mu_);
  return pending_.erase(id) != 0;
}

void client_core::reader_loop() {
  frame_decoder decoder;
  std::array<std::byte, 4096> buf;
  for (;;) {
    auto n = conn_->read_some(buf);
    client_error why = make_error_code(errc::peer_closed);
    if (n) {
      std::span<const std::byte> in(buf.data(), *n);
      auto fed = decoder.feed(in, [this](const message_view& m) { dispatch(m); });
      if (fed) continue;
      why = fed.error();
    } else {
      why = n.error();
    }
    std::unique_lock lk(mu_);
    if (reconnecting_) return;  // reconnect() answers the waiting requests itself
    lk.unlock();
    fail_all(why, false);
    return;
  }
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
  reply_handler done;
  msg_type expected{};
  {
    std::lock_guard lk(mu_);
    auto it = pending_.find(m.hdr.req_id);
    if (it == pending_.end()) return;  // its caller timed out
    done = std::move(it->second.done);
    expected = it->second.type;
    pending_.erase(it);
  }
  if (m.hdr.type == static_cast<std::uint32_t>(msg_type::error)) {
    done(client_fail(parse_error_reply(m.payload)));
  } else if (m.hdr.type != static_cast<std::uint32_t>(expected)) {
    done(client_fail(errc::protocol_error));
  } else {
    done(message(m));
  }
}

void client_core::fail_all(client_error why, bool keep_watches) {
  std::vector<std::shared_ptr<watch_state>> ended;
  std::unordered_map<std::uint32_t, waiting> answered;
  {
    std::lock_guard lk(mu_);
    if (!keep_watches) {
      if (!failure_) failure_ = why;
      why = *failure_;
      for (auto& [token, w] : watches_) ended.push_back(w);
    }
    answered.swap(pending_);
  }
  if (!keep_watches) conn_->close();
  for (auto& [id, w] : answered) w.done(client_fail(why));
  for (auto& w : ended) w->end(why);
}

std::unordered_map<std::uint32_t, client_core::waiting> client_core::take_pending() {
  std::unordered_map<std::uint32_t, waiting> taken;
  std::lock_guard lk(mu_);
  taken.swap(pending_);
  return taken;
}

void client_core::close(client_error why) noexcept {
  fail_all(why, false);
  if (reader_.joinable() && reader_.get_id() != std::this_thread::get_id()) reader_.join();
}

client_result<void> client_core::reconnect() {
  std::unordered_map<std::uint32_t, waiting> lost;  // sent on the old stream: never answered
  {
    std::unique_lock wl(write_mu_);
    {
      std::lock_guard lk(mu_);
      reconnecting_ = true;
    }
    conn_->close();
    if (reader_.joinable() && reader_.get_id() != std::this_thread::get_id()) reader_.join();
    lost = take_pending();
    auto r = conn_->reconnect();
    {
      std::lock_guard lk(mu_);
      reconnecting_ = false;
      if (!r) {
        if (!failure_) failure_ = r.error();
      } else {
        failure_.reset();
      }
    }
    if (r) start();
    wl.unlock();
    for (auto& [id, w] : lost) w.done(client_fail(errc::peer_closed));
    if (!r) {
      fail_all(r.error(), false);
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
