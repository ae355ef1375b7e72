// One request: decode, check privilege and transaction, run the handler, queue its reply.
#include <variant>

#include "core_state.hpp"

namespace xenwire::xenstore::detail {

namespace {

template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

// Ops that ignore tx_id (C xenstored's XS_FLAG_NOTID; XSA-115). RESET_WATCHES too: it ends every
// transaction of the connection, so it must never run inside one (XSA-484).
constexpr bool ignores_tx(msg_type t) noexcept {
  return t == msg_type::watch || t == msg_type::unwatch || t == msg_type::reset_watches;
}

}  // namespace

void core_impl::handle(connection& c, const message_view& m, time_point now) {
  ++counters.requests;
  const header& h = m.hdr;
  if (config.trace)
    logf(log_level::trace, "IN  conn ", c.id, " dom ", c.domid(), " ", type_name(h.type), " req ", h.req_id, " tx ",
         h.tx_id, " len ", h.len);

  // As C xenstored: an unknown type is ENOSYS, privilege is checked before the arguments.
  const auto type = to_msg_type(h.type);
  if (type && is_privileged_op(*type) && !c.privileged) return reply_error(c, h, xs_error::eacces, now);
  auto parsed = parse_request(m);
  if (!parsed) return reply_error(c, h, parsed.error(), now);

  transaction* tx = nullptr;
  if (!ignores_tx(*type) && h.tx_id != 0) {
    auto it = c.transactions.find(h.tx_id);
    if (it == c.transactions.end()) return reply_error(c, h, xs_error::enoent, now);
    tx = it->second.tx.get();
  }

  handled r = std::visit(
      overloaded{
          [&](const req::read& q) { return op_read(c, h, tx, q, now); },
          [&](const req::directory& q) { return op_directory(c, h, tx, q, now); },
          [&](const req::directory_part& q) { return op_directory_part(c, h, tx, q, now); },
          [&](const req::get_perms& q) { return op_get_perms(c, h, tx, q, now); },
          [&](const req::write& q) { return op_write(c, h, tx, q, now); },
          [&](const req::mkdir& q) { return op_mkdir(c, h, tx, q, now); },
          [&](const req::rm& q) { return op_rm(c, h, tx, q, now); },
          [&](const req::set_perms& q) { return op_set_perms(c, h, tx, q, now); },
          [&](const req::watch& q) { return op_watch(c, h, q, now); },
          [&](const req::unwatch& q) { return op_unwatch(c, h, q, now); },
          [&](const req::reset_watches&) { return op_reset_watches(c, h, now); },
          [&](const req::transaction_start&) -> handled {
            if (h.tx_id != 0) return xs_fail(xs_error::ebusy);  // no nesting
            return op_transaction_start(c, h, now);
          },
          [&](const req::transaction_end& q) -> handled {
            if (!tx) return xs_fail(xs_error::enoent);
            return op_transaction_end(c, h, q, now);
          },
          [&](const req::introduce& q) { return op_introduce(c, h, q, now); },
          [&](const req::release& q) { return op_release(c, h, q, now); },
          [&](const req::resume& q) { return op_resume(c, h, q, now); },
          [&](const req::set_target& q) { return op_set_target(c, h, q, now); },
          [&](const req::get_domain_path& q) { return op_get_domain_path(c, h, q, now); },
          [&](const req::is_domain_introduced& q) { return op_is_domain_introduced(c, h, q, now); },
          [&](const req::get_feature& q) { return op_get_feature(c, h, q, now); },
          [&](const req::set_feature& q) { return op_set_feature(c, h, q, now); },
          [&](const req::get_quota& q) { return op_get_quota(c, h, q, now); },
          [&](const req::set_quota& q) { return op_set_quota(c, h, q, now); },
          [&](const req::control& q) { return op_control(c, h, q, now); },
      },
      *parsed);
  if (!r) reply_error(c, h, r.error(), now);
}

xs_result<resolved_path> core_impl::resolve(const connection& c, std::string_view sent, bool allow_special) const {
  resolve_options opt;
  opt.home_domid = c.domid();
  opt.allow_special = allow_special;
  opt.path_quota = quota_of(c, quota::path_max);
  return resolve_path(sent, opt);
}

}  // namespace xenwire::xenstore::detail
