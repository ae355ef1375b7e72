#include "xenwire/vchan/memory_rendezvous.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace xenwire::vchan {

namespace {

class event_fd {
 public:
  event_fd() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~event_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  event_fd(const event_fd&) = delete;
  event_fd& operator=(const event_fd&) = delete;
  int fd() const noexcept { return fd_; }
  void signal() const noexcept {
    const std::uint64_t one = 1;
    // A full counter (never in practice) still leaves the fd readable: nothing to handle.
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
  }
  void drain() const noexcept {
    std::uint64_t v = 0;
    [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
  }

 private:
  int fd_;
};

struct waiter {
  std::string path;
  event_fd ev;
};

}  // namespace

struct memory_rendezvous::shared {
  mutable std::mutex mu;
  std::map<std::string, entry, std::less<>> entries;
  std::vector<std::weak_ptr<waiter>> waiters;

  // Under mu.
  void wake(std::string_view path) {
    std::erase_if(waiters, [](const std::weak_ptr<waiter>& w) { return w.expired(); });
    for (auto& w : waiters) {
      if (auto s = w.lock(); s && (s->path == path || path.empty())) s->ev.signal();
    }
  }
  result<std::optional<keys>> read(std::string_view path) const {
    std::lock_guard lk(mu);
    auto it = entries.find(path);
    if (it == entries.end() || it->second.ring_ref.empty() || it->second.event_channel.empty()) {
      return std::optional<keys>{};
    }
    auto k = parse_keys(it->second.ring_ref, it->second.event_channel);
    if (!k) return fail(k.error());
    return std::optional<keys>{*k};
  }
};

namespace {

class memory_wait final : public key_wait {
 public:
  memory_wait(std::shared_ptr<memory_rendezvous::shared> s, std::shared_ptr<waiter> w)
      : state_(std::move(s)), waiter_(std::move(w)) {}
  int fd() const noexcept override { return waiter_->ev.fd(); }
  result<std::optional<keys>> poll() override {
    waiter_->ev.drain();
    return state_->read(waiter_->path);
  }

 private:
  std::shared_ptr<memory_rendezvous::shared> state_;
  std::shared_ptr<waiter> waiter_;
};

}  // namespace

memory_rendezvous::memory_rendezvous() : state_(std::make_shared<shared>()) {}
memory_rendezvous::~memory_rendezvous() = default;

result<void> memory_rendezvous::publish(std::string_view path, domid_t server, domid_t client, const keys& k) {
  if (path.empty()) return fail(errc::invalid_argument);
  std::lock_guard lk(state_->mu);
  entry& e = state_->entries[std::string(path)];
  e.ring_ref = format_key(k.ring_ref);
  e.event_channel = format_key(k.port);
  e.owner = server;
  e.reader = client;
  ++e.publishes;
  state_->wake(path);
  return {};
}

result<std::optional<keys>> memory_rendezvous::read(std::string_view path) { return state_->read(path); }

result<void> memory_rendezvous::remove(std::string_view path) {
  std::lock_guard lk(state_->mu);
  if (auto it = state_->entries.find(path); it != state_->entries.end()) state_->entries.erase(it);
  state_->wake(path);
  return {};
}

result<std::unique_ptr<key_wait>> memory_rendezvous::wait_for_keys(std::string_view path) {
  auto w = std::make_shared<waiter>();
  w->path = std::string(path);
  if (w->ev.fd() < 0) return fail(std::error_code(errno, std::system_category()));
  w->ev.signal();  // like a Xenstore watch: one event at once, so the first poll() looks
  std::lock_guard lk(state_->mu);
  state_->waiters.push_back(w);
  return std::unique_ptr<key_wait>(std::make_unique<memory_wait>(state_, std::move(w)));
}

std::optional<memory_rendezvous::entry> memory_rendezvous::lookup(std::string_view path) const {
  std::lock_guard lk(state_->mu);
  auto it = state_->entries.find(path);
  if (it == state_->entries.end()) return std::nullopt;
  return it->second;
}

void memory_rendezvous::set_raw(std::string_view path, std::string ring_ref, std::string event_channel) {
  std::lock_guard lk(state_->mu);
  entry& e = state_->entries[std::string(path)];
  e.ring_ref = std::move(ring_ref);
  e.event_channel = std::move(event_channel);
  ++e.publishes;
  state_->wake(path);
}

std::size_t memory_rendezvous::size() const {
  std::lock_guard lk(state_->mu);
  return state_->entries.size();
}

}  // namespace xenwire::vchan
