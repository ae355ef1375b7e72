#include "xenwire/vchan/xenstore_rendezvous.hpp"

#include <string>

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
  auto done = xenstore::run_transaction(
      *client_,
      [&](xenstore::tx_id tx) -> client_result<void> {
        for (const auto& [node, value] : {std::pair{&ref_path, &ref}, std::pair{&port_path, &port}}) {
          if (auto ok = client_->write(*node, *value, tx); !ok) return ok;
          if (auto ok = client_->set_perms(*node, perms, tx); !ok) return ok;
        }
        return {};
      },
      retry_);
  if (!done) return fail(to_error_code(done.error()));
  return {};
}

result<std::optional<keys>> xenstore_rendezvous::read(std::string_view path) { return read_keys(*client_, path); }

result<void> xenstore_rendezvous::remove(std::string_view path) {
  auto ok = client_->rm(path);
  if (!ok && !ok.error().is(xs_error::enoent)) return fail(to_error_code(ok.error()));
  return {};
}

result<std::unique_ptr<key_wait>> xenstore_rendezvous::wait_for_keys(std::string_view path) {
  auto w = client_->add_watch(path);
  if (!w) return fail(to_error_code(w.error()));
  return std::unique_ptr<key_wait>(std::make_unique<xenstore_wait>(*client_, std::move(*w), std::string(path)));
}

}  // namespace xenwire::vchan
