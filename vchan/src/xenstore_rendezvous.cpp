#include "xenwire/vchan/xenstore_rendezvous.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace xenwire::vchan {

using xenstore::client_error;
using xenstore::client_result;
using xenstore::xs_error;

std::error_code to_error_code(const client_error& e) noexcept {
  if (auto ec = e.transport()) return *ec;
  switch (*e.xs()) {
    case xs_error::eacces:
    case xs_error::eperm:
    case xs_error::erofs: return make_error_code(errc::permission_denied);
    case xs_error::einval:
    case xs_error::eisdir:
    case xs_error::e2big: return make_error_code(errc::invalid_argument);
    case xs_error::eagain:
    case xs_error::ebusy: return make_error_code(errc::would_block);
    case xs_error::enoent: return make_error_code(errc::no_such_domain);
    default: return make_error_code(errc::protocol_error);
  }
}

namespace {

std::string key_path(std::string_view path, std::string_view key) {
  std::string p(path);
  p += '/';
  p += key;
  return p;
}

// Both keys, or nullopt while either is missing.
result<std::optional<keys>> read_keys(xenstore::client& c, std::string_view path) {
  auto ref = c.try_read(key_path(path, ring_ref_key));
  if (!ref) return fail(to_error_code(ref.error()));
  if (!*ref) return std::optional<keys>{};
  auto port = c.try_read(key_path(path, event_channel_key));
  if (!port) return fail(to_error_code(port.error()));
  if (!*port) return std::optional<keys>{};
  auto k = parse_keys(**ref, **port);
  if (!k) return fail(k.error());
  return std::optional<keys>{*k};
}

// The proper ancestors of `path`, deepest first, down to (not including) "/".
std::vector<std::string> ancestors(std::string_view path) {
  std::vector<std::string> out;
  for (auto slash = path.rfind('/'); slash != std::string_view::npos && slash > 0; slash = path.rfind('/')) {
    path = path.substr(0, slash);
    out.emplace_back(path);
  }
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// For "/local/domain/<srv>/data/vchan/<cli>/<port>": ".../data/vchan/<cli>" and ".../data/vchan",
// the levels only vchan servers create. Nothing for any other path.
std::vector<std::string> convention_dirs(std::string_view path) {
  constexpr std::string_view home = "/local/domain/", mid = "/data/vchan/";
  if (!path.starts_with(home)) return {};
  auto rest = path.substr(home.size());
  auto m = rest.find(mid);
  if (m == std::string_view::npos || !all_digits(rest.substr(0, m))) return {};
  auto tail = rest.substr(m + mid.size());  // "<cli>/<port>"
  auto slash = tail.find('/');
  if (slash == std::string_view::npos || !all_digits(tail.substr(0, slash)) || slash + 1 == tail.size() ||
      tail.find('/', slash + 1) != std::string_view::npos)
    return {};
  const std::size_t vchan_end = home.size() + m + mid.size() - 1;  // ".../data/vchan"
  return {std::string(path.substr(0, vchan_end + 1 + slash)), std::string(path.substr(0, vchan_end))};
}

class xenstore_wait final : public key_wait {
 public:
  xenstore_wait(xenstore::client& c, xenstore::watch w, std::string path)
      : client_(&c), watch_(std::move(w)), path_(std::move(path)) {}
  int fd() const noexcept override { return watch_.fd(); }
  result<std::optional<keys>> poll() override {
    bool changed = false;
    while (auto ev = watch_.try_next()) changed = true;  // overflow markers count as changes too
    if (!changed) {
      if (auto f = client_->failure()) return fail(to_error_code(*f));
      return std::optional<keys>{};
    }
    auto k = read_keys(*client_, path_);
    // Before the server publishes, the path's nearest existing ancestor is the server's home, which
    // we may not read: Xenstore answers EACCES, not ENOENT. For a wait that is "not there yet".
    if (!k && k.error() == errc::permission_denied) return std::optional<keys>{};
    return k;
  }

 private:
  xenstore::client* client_;
  xenstore::watch watch_;
  std::string path_;
};

}  // namespace

result<void> xenstore_rendezvous::publish(std::string_view path, domid_t server, domid_t client, const keys& k) {
  const xenstore::node_perms perms{{server, xenstore::perm::none}, {client, xenstore::perm::read}};
  const std::string ref_path = key_path(path, ring_ref_key), port_path = key_path(path, event_channel_key);
  const std::string ref = format_key(k.ring_ref), port = format_key(k.port);
  std::vector<std::string> created;
  auto done = xenstore::run_transaction(
      *client_,
      [&](xenstore::tx_id tx) -> client_result<void> {
        // The ancestors this transaction creates (the missing ones below the nearest existing one), for
        // remove(). An unreadable ancestor ends the search: nothing above it is ours.
        created.clear();
        for (auto& dir : ancestors(path)) {
          auto there = client_->exists(dir, tx);
          if (!there || *there) break;
          created.push_back(std::move(dir));
        }
        for (const auto& [node, value] : {std::pair{&ref_path, &ref}, std::pair{&port_path, &port}}) {
          if (auto ok = client_->write(*node, *value, tx); !ok) return ok;
          if (auto ok = client_->set_perms(*node, perms, tx); !ok) return ok;
        }
        return {};
      },
      retry_);
  if (!done) return fail(to_error_code(done.error()));
  created_.insert(std::make_move_iterator(created.begin()), std::make_move_iterator(created.end()));
  return {};
}

result<std::optional<keys>> xenstore_rendezvous::read(std::string_view path) { return read_keys(*client_, path); }

result<void> xenstore_rendezvous::remove(std::string_view path) {
  auto ok = client_->rm(path);
  if (!ok && !ok.error().is(xs_error::enoent)) return fail(to_error_code(ok.error()));
  // Then the now-empty directories the rendezvous created, deepest first; the first one that stays
  // (a sibling's, or an error) keeps everything above it. Best effort: the keys are gone either way.
  const auto conv = convention_dirs(path);
  for (const auto& dir : ancestors(path)) {
    const bool ours = created_.contains(dir) || std::find(conv.begin(), conv.end(), dir) != conv.end();
    if (!ours || !remove_if_empty(dir)) break;
    created_.erase(dir);
  }
  return {};
}

bool xenstore_rendezvous::remove_if_empty(const std::string& dir) {
  bool removed = false;
  auto done = xenstore::run_transaction(
      *client_,
      [&](xenstore::tx_id tx) -> client_result<void> {
        removed = false;
        auto kids = client_->directory(dir, tx);
        if (!kids) {
          if (!kids.error().is(xs_error::enoent)) return client_fail(kids.error());
          removed = true;  // already gone: go on upwards
          return {};
        }
        if (!kids->empty()) return {};
        // Listed empty in this transaction: a sibling created meanwhile makes the commit fail with
        // EAGAIN, and the retry sees it.
        if (auto ok = client_->rm(dir, tx); !ok) return ok;
        removed = true;
        return {};
      },
      retry_);
  return done && removed;
}

result<std::unique_ptr<key_wait>> xenstore_rendezvous::wait_for_keys(std::string_view path) {
  auto w = client_->add_watch(path);
  if (!w) return fail(to_error_code(w.error()));
  return std::unique_ptr<key_wait>(std::make_unique<xenstore_wait>(*client_, std::move(*w), std::string(path)));
}

}  // namespace xenwire::vchan
