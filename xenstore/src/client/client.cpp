#include "xenwire/xenstore/client/client.hpp"

#include "client_core.hpp"

namespace xenwire::xenstore {

namespace {
// Gives up after this many generation changes under one DIRECTORY_PART listing.
constexpr int directory_restarts_max = 64;
}  // namespace

client_result<client> client::open(std::unique_ptr<client_connection> conn, client_options opts) {
  if (!conn) return client_fail(errc::invalid_argument);
  auto core = std::make_shared<detail::client_core>(std::move(conn), opts);
  core->start();
  return client(std::move(core));
}

client_result<client> client::open_default(client_options opts) {
  auto conn = connect_default();
  if (!conn) return client_fail(conn.error());
  return open(std::move(*conn), opts);
}

client::client(std::shared_ptr<detail::client_core> core) noexcept : core_(std::move(core)) {}
client::client(client&&) noexcept = default;
client& client::operator=(client&& other) noexcept {
  if (this != &other) {
    close();
    core_ = std::move(other.core_);
  }
  return *this;
}
client::~client() { close(); }

void client::close() noexcept {
  if (core_) core_->close(std::make_error_code(std::errc::operation_canceled));
}

std::uint32_t client::submit(std::string frame, reply_handler done) {
  if (!core_) {
    done(client_fail(std::make_error_code(std::errc::operation_canceled)));
    return 0;
  }
  return core_->submit(std::move(frame), std::move(done));
}

client_result<message> client::wait_reply(std::string frame) {
  if (!core_) return client_fail(std::make_error_code(std::errc::operation_canceled));
  return core_->call_blocking(std::move(frame));
}

client_result<message> client::request(msg_type type, std::string_view payload, tx_id tx) {
  std::string frame;
  if (auto r = xenstore::encode(frame, header{static_cast<std::uint32_t>(type), 0, tx, 0}, payload); !r) return client_fail(r.error());
  return wait_reply(std::move(frame));
}

void client::request_async(msg_type type, std::string_view payload, tx_id tx, reply_handler done) {
  std::string frame;
  if (auto r = xenstore::encode(frame, header{static_cast<std::uint32_t>(type), 0, tx, 0}, payload); !r) {
    done(client_fail(r.error()));
    return;
  }
  submit(std::move(frame), std::move(done));
}

// --- nodes ---------------------------------------------------------------------------------------

client_result<std::string> client::read(std::string_view path, tx_id tx) { return call(ops::read{std::string(path)}, tx); }

client_result<std::optional<std::string>> client::try_read(std::string_view path, tx_id tx) {
  auto r = read(path, tx);
  if (r) return std::optional<std::string>(std::move(*r));
  if (r.error().is(xs_error::enoent)) return std::optional<std::string>();
  return client_fail(r.error());
}

client_result<void> client::write(std::string_view path, std::string_view value, tx_id tx) {
  return call(ops::write{std::string(path), std::string(value)}, tx);
}
client_result<void> client::mkdir(std::string_view path, tx_id tx) { return call(ops::mkdir{std::string(path)}, tx); }
client_result<void> client::rm(std::string_view path, tx_id tx) { return call(ops::rm{std::string(path)}, tx); }

client_result<bool> client::exists(std::string_view path, tx_id tx) {
  auto r = try_read(path, tx);
  if (!r) return client_fail(r.error());
  return r->has_value();
}

client_result<std::vector<std::string>> client::directory(std::string_view path, tx_id tx) {
  auto whole = call(ops::directory{std::string(path)}, tx);
  if (whole || !whole.error().is(xs_error::e2big)) return whole;
  // Too many children for one reply: read it in parts; a changed generation means the list
  // changed under us, so start again from 0.
  for (int attempt = 0; attempt < directory_restarts_max; ++attempt) {
    std::vector<std::string> children;
    std::optional<std::uint64_t> generation;
    std::uint32_t offset = 0;
    for (;;) {
      auto part = call(ops::directory_part{std::string(path), offset}, tx);
      if (!part) return client_fail(part.error());
      if (generation && part->generation != *generation) break;
      generation = part->generation;
      for (auto& c : part->children) children.push_back(std::move(c));
      if (part->complete) return children;
      if (part->next_offset == 0) return client_fail(errc::protocol_error);  // no progress
      offset += part->next_offset;
    }
  }
  return client_fail(xs_error::eagain);
}

client_result<node_perms> client::get_perms(std::string_view path, tx_id tx) {
  return call(ops::get_perms{std::string(path)}, tx);
}
client_result<void> client::set_perms(std::string_view path, const node_perms& perms, tx_id tx) {
  return call(ops::set_perms{std::string(path), perms}, tx);
}

// --- watches -------------------------------------------------------------------------------------

client_result<watch> client::add_watch(std::string_view path, watch_options opts) {
  if (!core_) return client_fail(std::make_error_code(std::errc::operation_canceled));
  std::string token = opts.token.empty() ? core_->next_token() : std::move(opts.token);
  const std::size_t limit = opts.queue_limit != 0 ? opts.queue_limit : core_->options().watch_queue_limit;
  auto state = std::make_shared<detail::watch_state>(std::string(path), std::move(token), opts.depth, limit);
  // Registered before WATCH is sent: the first event may come before the reply.
  if (auto r = core_->add_watch(state); !r) return client_fail(r.error());
  auto r = call(ops::watch{state->path, state->token, state->depth});
  if (!r) {
    core_->forget_watch(state->token);
    return client_fail(r.error());
  }
  return watch(std::move(state), core_);
}

client_result<void> client::reset_watches() { return call(ops::reset_watches{}); }

// --- transactions --------------------------------------------------------------------------------

client_result<tx_id> client::transaction_start() { return call(ops::transaction_start{}); }
client_result<void> client::transaction_end(tx_id tx, bool commit) { return call(ops::transaction_end{commit}, tx); }

// --- domains and server --------------------------------------------------------------------------

client_result<void> client::introduce(domid_t domid, std::uint64_t gfn, evtchn_port_t port) {
  return call(ops::introduce{domid, gfn, port});
}
client_result<void> client::release(domid_t domid) { return call(ops::release{domid}); }
client_result<void> client::resume(domid_t domid) { return call(ops::resume{domid}); }
client_result<bool> client::is_domain_introduced(domid_t domid) { return call(ops::is_domain_introduced{domid}); }
client_result<std::string> client::get_domain_path(domid_t domid) { return call(ops::get_domain_path{domid}); }
client_result<void> client::set_target(domid_t domid, domid_t target) { return call(ops::set_target{domid, target}); }
client_result<std::uint32_t> client::get_feature(std::optional<domid_t> domid) { return call(ops::get_feature{domid}); }
client_result<void> client::set_feature(domid_t domid, std::uint32_t features) {
  return call(ops::set_feature{domid, features});
}
client_result<std::vector<std::string>> client::quota_names() { return call(ops::quota_names{}); }
client_result<std::uint32_t> client::get_quota(std::string_view name, std::optional<domid_t> domid) {
  return call(ops::get_quota{domid, std::string(name)});
}
client_result<void> client::set_quota(std::string_view name, std::uint32_t value, std::optional<domid_t> domid) {
  return call(ops::set_quota{domid, std::string(name), value});
}
client_result<std::string> client::control(std::string_view command, std::vector<std::string> params) {
  return call(ops::control{std::string(command), std::move(params)});
}

// --- connection ----------------------------------------------------------------------------------

client_result<void> client::reconnect() {
  if (!core_) return client_fail(std::make_error_code(std::errc::operation_canceled));
  return core_->reconnect();
}

std::optional<client_error> client::failure() const {
  if (!core_) return client_error(std::make_error_code(std::errc::operation_canceled));
  return core_->failure();
}

const client_options& client::options() const noexcept {
  static const client_options defaults{};
  return core_ ? core_->options() : defaults;
}

std::string client::describe() const { return core_ ? core_->describe() : "closed client"; }

}  // namespace xenwire::xenstore
