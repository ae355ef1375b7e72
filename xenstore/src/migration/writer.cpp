// Records -> bytes. Layouts as in docs/designs/xenstore-migration.md; every record's len is its
// body rounded up to 8 (as C xenstored writes it), padding zero.
#include <limits>
#include <string>
#include <type_traits>
#include <variant>

#include "byte_order.hpp"
#include "xenwire/xenstore/migration/stream.hpp"

namespace xenwire::xenstore::migration {

namespace {

using detail::put;

class writer {
 public:
  explicit writer(const stream& s) : s_(s), order_(s.pre.order) {}

  stream_result<std::string> run() {
    out_.append(detail::ident);
    put<std::uint32_t>(out_, static_cast<std::uint32_t>(s_.pre.version), byte_order::big);
    put<std::uint32_t>(out_, s_.pre.order == byte_order::big ? 1U : 0U, byte_order::big);
    if (s_.pre.version != stream_version::v1 && s_.pre.version != stream_version::v2)
      return tl::unexpected(stream_error{std::nullopt, std::nullopt, 0, "version is neither 1 nor 2"});
    if (s_.records.empty() || !std::holds_alternative<end_record>(s_.records.back()))
      return tl::unexpected(stream_error{s_.records.size(), std::nullopt, out_.size(), "the last record is not END"});
    for (index_ = 0; index_ < s_.records.size(); ++index_) {
      const record& r = s_.records[index_];
      const std::size_t start = out_.size();
      type_ = static_cast<std::uint32_t>(type_of(r));
      header_ = start;
      if (std::holds_alternative<end_record>(r) && index_ + 1 != s_.records.size()) return fail("END before the last record");
      put<std::uint32_t>(out_, type_, order_);
      put<std::uint32_t>(out_, 0, order_);  // len, patched below
      auto ok = std::visit([&](const auto& rec) { return body(rec); }, r);
      if (!ok) return tl::unexpected(ok.error());
      const std::size_t len = out_.size() - start - detail::record_header_size;
      out_.append(detail::round_up8(len) - len, '\0');
      const std::size_t padded = out_.size() - start - detail::record_header_size;
      if (padded > std::numeric_limits<std::uint32_t>::max()) return fail("record longer than 4 GiB");
      std::string len_bytes;
      put<std::uint32_t>(len_bytes, static_cast<std::uint32_t>(padded), order_);
      out_.replace(start + 4, 4, len_bytes);
    }
    return std::move(out_);
  }

 private:
  tl::unexpected<stream_error> fail(std::string what) const {
    return tl::unexpected(stream_error{index_, type_, header_, std::move(what)});
  }
  using status = tl::expected<void, stream_error>;

  template <class T>
  void u(T v) { put<T>(out_, v, order_); }

  // A NUL-free, non-empty string for a u16 length field that counts the NUL.
  status check_cstring(std::string_view s, const char* what, bool allow_empty) const {
    if (!allow_empty && s.empty()) return fail(std::string(what) + " is empty");
    if (s.find('\0') != std::string_view::npos) return fail(std::string(what) + " contains a NUL byte");
    if (s.size() + 1 > 0xFFFF) return fail(std::string(what) + " is longer than 65534 bytes");
    return {};
  }

  status body(const end_record&) { return {}; }

  status body(const global_record& g) {
    u<std::int32_t>(g.socket_fd);
    u<std::int32_t>(g.evtchn_fd);
    return {};
  }

  status body(const connection_record& c) {
    if (c.unprocessed_input.size() > 0xFFFF) return fail("unprocessed input longer than 65535 bytes");
    if (c.unsent_output.size() > std::numeric_limits<std::uint32_t>::max()) return fail("unsent output longer than 4 GiB");
    if (c.partial_response_len > c.unsent_output.size()) return fail("partial response longer than the unsent output");
    u<std::uint32_t>(c.conn_id);
    const bool ring = std::holds_alternative<ring_spec>(c.spec);
    u<std::uint16_t>(ring ? 0 : 1);
    u<std::uint16_t>(c.unique_id ? 1 : 0);
    if (ring) {
      const auto& r = std::get<ring_spec>(c.spec);
      u<std::uint16_t>(r.domid);
      u<std::uint16_t>(r.target_domid);
      u<std::uint32_t>(r.evtchn);
    } else {
      u<std::int32_t>(std::get<socket_spec>(c.spec).fd);
      u<std::uint32_t>(0);
    }
    u<std::uint16_t>(static_cast<std::uint16_t>(c.unprocessed_input.size()));
    u<std::uint16_t>(c.partial_response_len);
    u<std::uint32_t>(static_cast<std::uint32_t>(c.unsent_output.size()));
    out_ += c.unprocessed_input;
    out_ += c.unsent_output;
    if (c.unique_id) {
      const std::size_t len = out_.size() - header_ - detail::record_header_size;
      out_.append(detail::round_up8(len) - len, '\0');
      u<std::uint64_t>(*c.unique_id);
    }
    return {};
  }

  status watch_strings(std::string_view path, std::string_view token) {
    if (auto ok = check_cstring(path, "watch path", false); !ok) return ok;
    if (auto ok = check_cstring(token, "watch token", true); !ok) return ok;
    return {};
  }

  status body(const watch_record& w) {
    if (auto ok = watch_strings(w.path, w.token); !ok) return ok;
    u<std::uint32_t>(w.conn_id);
    u<std::uint16_t>(static_cast<std::uint16_t>(w.path.size() + 1));
    u<std::uint16_t>(static_cast<std::uint16_t>(w.token.size() + 1));
    cstr(w.path);
    cstr(w.token);
    return {};
  }

  status body(const watch_extended_record& w) {
    if (s_.pre.version == stream_version::v1) return fail("WATCH_DATA_EXTENDED is not valid in version 1");
    if (!w.depth) return fail("depth unknown (read in C's layout): choose one before writing");
    if (auto ok = watch_strings(w.path, w.token); !ok) return ok;
    u<std::uint32_t>(w.conn_id);
    u<std::uint16_t>(static_cast<std::uint16_t>(w.path.size() + 1));
    u<std::uint16_t>(static_cast<std::uint16_t>(w.token.size() + 1));
    u<std::uint16_t>(*w.depth);
    u<std::uint16_t>(0);
    cstr(w.path);
    cstr(w.token);
    return {};
  }

  status body(const transaction_record& t) {
    u<std::uint32_t>(t.conn_id);
    u<std::uint32_t>(t.tx_id);
    return {};
  }

  status body(const node_record& n) {
    if (auto ok = check_cstring(n.path, "node path", false); !ok) return ok;
    if (n.value.size() > 0xFFFF) return fail("node value longer than 65535 bytes");
    if (n.perms.size() > 0xFFFF) return fail("more than 65535 permissions");
    u<std::uint32_t>(n.conn_id);
    u<std::uint32_t>(n.tx_id);
    u<std::uint16_t>(static_cast<std::uint16_t>(n.path.size() + 1));
    u<std::uint16_t>(static_cast<std::uint16_t>(n.value.size()));
    u<std::uint16_t>(n.access);
    u<std::uint16_t>(static_cast<std::uint16_t>(n.perms.size()));
    for (const perm_entry& p : n.perms) {
      out_ += perm_letter(p.access);
      out_ += static_cast<char>(p.ignored ? 1 : 0);
      u<std::uint16_t>(p.domid);
    }
    cstr(n.path);
    out_ += n.value;
    return {};
  }

  status quotas(const std::vector<quota_value>& a, const std::vector<quota_value>& b) {
    for (const auto* list : {&a, &b}) {
      for (const quota_value& q : *list)
        if (auto ok = check_cstring(q.name, "quota name", false); !ok) return ok;
    }
    for (const auto* list : {&a, &b})
      for (const quota_value& q : *list) u<std::uint32_t>(q.value);
    for (const auto* list : {&a, &b})
      for (const quota_value& q : *list) cstr(q.name);
    return {};
  }

  status body(const global_quota_record& g) {
    if (g.per_domain.size() > 0xFFFF || g.global_only.size() > 0xFFFF) return fail("more than 65535 quota values");
    u<std::uint16_t>(static_cast<std::uint16_t>(g.per_domain.size()));
    u<std::uint16_t>(static_cast<std::uint16_t>(g.global_only.size()));
    return quotas(g.per_domain, g.global_only);
  }

  status body(const domain_record& d) {
    if (d.quotas.size() > 0xFFFF) return fail("more than 65535 quota values");
    if (s_.pre.version == stream_version::v1 && d.features != 0) return fail("DOMAIN_DATA features are not valid in version 1");
    u<std::uint16_t>(d.domid);
    u<std::uint16_t>(static_cast<std::uint16_t>(d.quotas.size()));
    u<std::uint32_t>(d.features);
    static const std::vector<quota_value> none;
    return quotas(d.quotas, none);
  }

  void cstr(std::string_view s) {
    out_ += s;
    out_ += '\0';
  }

  const stream& s_;
  byte_order order_;
  std::string out_;
  std::size_t index_ = 0;
  std::uint32_t type_ = 0;
  std::size_t header_ = 0;
};

}  // namespace

stream_result<std::string> write_stream(const stream& s) { return writer(s).run(); }

}  // namespace xenwire::xenstore::migration
