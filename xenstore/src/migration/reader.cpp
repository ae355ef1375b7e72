// Bytes -> records, on hostile input: every length, count, id and string is checked before use.
// Nothing is allocated before its size has been checked against the bytes actually present.
#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "byte_order.hpp"
#include "xenwire/ring/xenstore_layout.hpp"
#include "xenwire/xenstore/migration/stream.hpp"
#include "xenwire/xenstore/path.hpp"

namespace xenwire::xenstore::migration {

namespace {

using detail::round_up8;

// A record's body with a cursor; every read is bounds-checked by `need` first.
struct body_view {
  std::string_view b;
  byte_order order;
  std::size_t at = 0;

  bool has(std::size_t n) const noexcept { return n <= b.size() && at <= b.size() - n; }
  template <class T>
  T take() {
    T v = detail::get<T>(b, at, order);
    at += sizeof(T);
    return v;
  }
  std::string_view bytes(std::size_t n) {
    std::string_view v = b.substr(at, n);
    at += n;
    return v;
  }
};

bool valid_watch_path(std::string_view p) {
  if (p.empty()) return false;
  if (p.front() == '@') return parse_special_path(p).has_value();
  if (p.front() == '/') return is_valid_absolute_path(p);
  return p.size() <= rel_path_max && is_valid_path_syntax(p);
}

bool valid_node_path(std::string_view p) {
  return is_valid_absolute_path(p) || p == release_domain_path || p == introduce_domain_path;
}

bool valid_quota_name(std::string_view n) {
  return !n.empty() && n.size() <= 64 &&
         std::all_of(n.begin(), n.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

class reader {
 public:
  reader(std::string_view in, const read_options& opt) : in_(in), opt_(opt) {}

  stream_result<stream> run() {
    if (in_.size() > opt_.max_size)
      return tl::unexpected(stream_error{std::nullopt, std::nullopt, 0, "stream longer than the limit of " + std::to_string(opt_.max_size) + " bytes"});
    if (in_.size() < detail::preamble_size)
      return tl::unexpected(stream_error{std::nullopt, std::nullopt, 0, "truncated preamble (" + std::to_string(in_.size()) + " of 16 bytes)"});
    if (in_.substr(0, 8) != detail::ident)
      return tl::unexpected(stream_error{std::nullopt, std::nullopt, 0, "ident is not \"xenstore\""});
    const auto version = detail::get<std::uint32_t>(in_, 8, byte_order::big);
    const auto flags = detail::get<std::uint32_t>(in_, 12, byte_order::big);
    if (version != 1 && version != 2)
      return tl::unexpected(stream_error{std::nullopt, std::nullopt, 8, "unsupported version " + std::to_string(version) + " (1 or 2)"});
    if ((flags & ~1U) != 0)
      return tl::unexpected(stream_error{std::nullopt, std::nullopt, 12, "reserved flag bits set (flags " + std::to_string(flags) + ")"});
    out_.pre.version = static_cast<stream_version>(version);
    out_.pre.order = (flags & 1U) ? byte_order::big : byte_order::little;
    order_ = out_.pre.order;

    pos_ = detail::preamble_size;
    for (index_ = 0;; ++index_) {
      header_ = pos_;
      type_.reset();
      if (in_.size() - pos_ < detail::record_header_size) {
        if (in_.size() == pos_) return fail("stream ends without an END record");
        return fail("truncated record header (" + std::to_string(in_.size() - pos_) + " of 8 bytes)");
      }
      const auto type = detail::get<std::uint32_t>(in_, pos_, order_);
      const auto len = detail::get<std::uint32_t>(in_, pos_ + 4, order_);
      type_ = type;
      const std::size_t avail = in_.size() - pos_ - detail::record_header_size;
      if (len > avail)
        return fail("body length " + std::to_string(len) + " runs past the end of the stream (" + std::to_string(avail) + " bytes left)");
      body_view body{in_.substr(pos_ + detail::record_header_size, len), order_};
      // Where the next record starts unless a body says otherwise (C's WATCH_DATA_EXTENDED).
      std::size_t next = detail::record_header_size + round_up8(len);
      if (next > in_.size() - pos_) return fail("padding after the body runs past the end of the stream");

      if (type == static_cast<std::uint32_t>(record_type::end)) {
        if (len != 0) return fail("END has a body of " + std::to_string(len) + " bytes");
        if (pos_ + detail::record_header_size != in_.size())
          return fail(std::to_string(in_.size() - pos_ - detail::record_header_size) + " bytes after END");
        out_.records.emplace_back(end_record{});
        return std::move(out_);
      }
      tl::expected<void, stream_error> ok;
      switch (type) {
        case static_cast<std::uint32_t>(record_type::global): ok = global(body); break;
        case static_cast<std::uint32_t>(record_type::connection): ok = connection(body); break;
        case static_cast<std::uint32_t>(record_type::watch): ok = watch(body); break;
        case static_cast<std::uint32_t>(record_type::transaction): ok = transaction(body); break;
        case static_cast<std::uint32_t>(record_type::node): ok = node(body); break;
        case static_cast<std::uint32_t>(record_type::global_quota): ok = global_quota(body); break;
        case static_cast<std::uint32_t>(record_type::domain): ok = domain(body); break;
        case static_cast<std::uint32_t>(record_type::watch_extended):
          if (out_.pre.version == stream_version::v1) return fail("WATCH_DATA_EXTENDED is not valid in a version 1 stream");
          ok = watch_extended(body, next);
          break;
        default: {
          char hex[16];
          std::snprintf(hex, sizeof hex, "0x%08x", type);
          return fail(std::string("unknown record type ") + hex);
        }
      }
      if (!ok) return tl::unexpected(ok.error());
      pos_ += next;
    }
  }

 private:
  using status = tl::expected<void, stream_error>;

  tl::unexpected<stream_error> fail(std::string what) const {
    return tl::unexpected(stream_error{index_, type_, header_, std::move(what)});
  }
  static std::string at(std::size_t off) { return " (body offset " + std::to_string(off) + ")"; }

  // The bytes after the fields are padding: fewer than 8.
  status finish(const body_view& b) const {
    const std::size_t slack = b.b.size() - b.at;
    if (slack >= 8) return fail(std::to_string(slack) + " bytes after the record's fields (padding is at most 7)");
    return {};
  }

  // `len` bytes that end with the only NUL among them; returns them without it.
  tl::expected<std::string_view, stream_error> cstring(body_view& b, std::size_t len, const char* what) const {
    if (len == 0) return fail(std::string(what) + " length is 0 (it counts the NUL)");
    if (!b.has(len)) return fail(std::string(what) + " of " + std::to_string(len) + " bytes runs past the record" + at(b.at));
    const std::size_t start = b.at;
    std::string_view s = b.bytes(len);
    if (s.back() != '\0') return fail(std::string(what) + " is not NUL-terminated" + at(start));
    s.remove_suffix(1);
    if (s.find('\0') != std::string_view::npos) return fail(std::string(what) + " contains a NUL byte" + at(start));
    return s;
  }

  status global(body_view& b) {
    if (seen_global_) return fail("a second GLOBAL_DATA record");
    if (!b.has(8)) return fail("body of " + std::to_string(b.b.size()) + " bytes, GLOBAL_DATA needs 8");
    global_record g;
    g.socket_fd = b.take<std::int32_t>();
    g.evtchn_fd = b.take<std::int32_t>();
    if (g.socket_fd < -1) return fail("socket fd " + std::to_string(g.socket_fd) + " is neither -1 nor a descriptor");
    if (g.evtchn_fd < -1) return fail("event-channel fd " + std::to_string(g.evtchn_fd) + " is neither -1 nor a descriptor");
    if (auto ok = finish(b); !ok) return ok;
    seen_global_ = true;
    out_.records.emplace_back(g);
    return {};
  }

  status connection(body_view& b) {
    if (!b.has(24)) return fail("body of " + std::to_string(b.b.size()) + " bytes, CONNECTION_DATA needs at least 24");
    connection_record c;
    c.conn_id = b.take<std::uint32_t>();
    const auto conn_type = b.take<std::uint16_t>();
    const auto fields = b.take<std::uint16_t>();
    if (c.conn_id == 0) return fail("connection id 0");
    if (conns_.count(c.conn_id)) return fail("duplicate connection id " + std::to_string(c.conn_id));
    if (fields & ~1U) return fail("unknown fields flags " + std::to_string(fields));
    if (conn_type == 0) {
      ring_spec r;
      r.domid = b.take<std::uint16_t>();
      r.target_domid = b.take<std::uint16_t>();
      r.evtchn = b.take<std::uint32_t>();
      if (r.domid >= domid_first_reserved) return fail("ring domid " + std::to_string(r.domid) + " is reserved");
      if (r.target_domid != domid_invalid && r.target_domid >= domid_first_reserved)
        return fail("target domid " + std::to_string(r.target_domid) + " is neither a domain nor DOMID_INVALID");
      if (ring_domids_.count(r.domid)) return fail("a second ring connection for domain " + std::to_string(r.domid));
      ring_domids_.insert(r.domid);
      c.spec = r;
    } else if (conn_type == 1) {
      socket_spec s;
      s.fd = b.take<std::int32_t>();
      (void)b.take<std::uint32_t>();  // pad
      if (s.fd < 0) return fail("socket fd " + std::to_string(s.fd) + " is negative");
      c.spec = s;
    } else {
      return fail("unknown connection type " + std::to_string(conn_type));
    }
    const auto in_len = b.take<std::uint16_t>();
    c.partial_response_len = b.take<std::uint16_t>();
    const auto out_len = b.take<std::uint32_t>();
    if (c.partial_response_len > out_len)
      return fail("partial response of " + std::to_string(c.partial_response_len) + " bytes exceeds the " + std::to_string(out_len) + " bytes of output");
    if (!b.has(in_len)) return fail("unprocessed input of " + std::to_string(in_len) + " bytes runs past the record");
    c.unprocessed_input = b.bytes(in_len);
    if (!b.has(out_len)) return fail("unsent output of " + std::to_string(out_len) + " bytes runs past the record");
    c.unsent_output = b.bytes(out_len);
    if (fields & 1U) {
      b.at = round_up8(b.at);
      if (!b.has(8)) return fail("unique id runs past the record");
      c.unique_id = b.take<std::uint64_t>();
    }
    if (auto ok = finish(b); !ok) return ok;
    conns_.insert(c.conn_id);
    out_.records.emplace_back(std::move(c));
    return {};
  }

  status watch_common(std::uint32_t conn_id, std::string_view path, std::string_view token) {
    if (!conns_.count(conn_id)) return fail("connection id " + std::to_string(conn_id) + " has no earlier CONNECTION_DATA");
    if (!valid_watch_path(path)) return fail("watch path is not a valid absolute, relative or special path");
    auto key = std::make_tuple(conn_id, std::string(path), std::string(token));
    if (watches_.count(key)) return fail("duplicate watch on connection " + std::to_string(conn_id));
    watches_.insert(std::move(key));
    return {};
  }

  status watch(body_view& b) {
    if (!b.has(8)) return fail("body of " + std::to_string(b.b.size()) + " bytes, WATCH_DATA needs at least 8");
    watch_record w;
    w.conn_id = b.take<std::uint32_t>();
    const auto plen = b.take<std::uint16_t>();
    const auto tlen = b.take<std::uint16_t>();
    auto path = cstring(b, plen, "watch path");
    if (!path) return tl::unexpected(path.error());
    auto token = cstring(b, tlen, "watch token");
    if (!token) return tl::unexpected(token.error());
    if (auto ok = finish(b); !ok) return ok;
    if (auto ok = watch_common(w.conn_id, *path, *token); !ok) return ok;
    w.path = *path;
    w.token = *token;
    out_.records.emplace_back(std::move(w));
    return {};
  }

  // The document's layout if the record is valid as such, else C's writer's (see stream.hpp).
  status watch_extended(body_view& b, std::size_t& next) {
    if (!b.has(12)) return fail("body of " + std::to_string(b.b.size()) + " bytes, WATCH_DATA_EXTENDED needs at least 12");
    watch_extended_record w;
    w.conn_id = b.take<std::uint32_t>();
    const auto plen = b.take<std::uint16_t>();
    const auto tlen = b.take<std::uint16_t>();
    const std::size_t s = std::size_t{plen} + tlen;
    {
      body_view spec = b;
      const auto depth = spec.take<std::uint16_t>();
      const auto pad = spec.take<std::uint16_t>();
      auto path = cstring(spec, plen, "watch path");
      auto token = path ? cstring(spec, tlen, "watch token") : decltype(path)(tl::unexpected(path.error()));
      if (pad == 0 && path && token && finish(spec) && valid_watch_path(*path)) {
        if (auto ok = watch_common(w.conn_id, *path, *token); !ok) return ok;
        w.depth = depth;
        w.path = *path;
        w.token = *token;
        out_.records.emplace_back(std::move(w));
        return {};
      }
    }
    // C's layout: 8 bytes of header, path, token, padding to 8; declared len ROUNDUP(12 + s, 8).
    const std::size_t written = round_up8(8 + s);
    if (plen == 0 || tlen == 0 || b.b.size() != round_up8(12 + s) || written > b.b.size())
      return fail("neither the design document's layout (wpath at 12) nor C xenstored's (wpath at 8, len ROUNDUP(12 + wpath-len + token-len, 8))");
    body_view c{b.b.substr(0, written), b.order, 8};
    auto path = cstring(c, plen, "watch path (C layout)");
    if (!path) return tl::unexpected(path.error());
    auto token = cstring(c, tlen, "watch token (C layout)");
    if (!token) return tl::unexpected(token.error());
    if (auto ok = watch_common(w.conn_id, *path, *token); !ok) return ok;
    w.depth.reset();
    w.path = *path;
    w.token = *token;
    out_.records.emplace_back(std::move(w));
    next = detail::record_header_size + written;
    return {};
  }

  status transaction(body_view& b) {
    if (!b.has(8)) return fail("body of " + std::to_string(b.b.size()) + " bytes, TRANSACTION_DATA needs 8");
    transaction_record t;
    t.conn_id = b.take<std::uint32_t>();
    t.tx_id = b.take<std::uint32_t>();
    if (!conns_.count(t.conn_id)) return fail("connection id " + std::to_string(t.conn_id) + " has no earlier CONNECTION_DATA");
    if (t.tx_id == 0) return fail("transaction id 0");
    if (txs_.count({t.conn_id, t.tx_id}))
      return fail("duplicate transaction id " + std::to_string(t.tx_id) + " on connection " + std::to_string(t.conn_id));
    if (auto ok = finish(b); !ok) return ok;
    txs_.insert({t.conn_id, t.tx_id});
    out_.records.emplace_back(t);
    return {};
  }

  status node(body_view& b) {
    if (!b.has(16)) return fail("body of " + std::to_string(b.b.size()) + " bytes, NODE_DATA needs at least 16");
    node_record n;
    n.conn_id = b.take<std::uint32_t>();
    n.tx_id = b.take<std::uint32_t>();
    const auto plen = b.take<std::uint16_t>();
    const auto vlen = b.take<std::uint16_t>();
    n.access = b.take<std::uint16_t>();
    const auto perm_n = b.take<std::uint16_t>();
    const bool pending = n.conn_id != 0;
    if (pending && !txs_.count({n.conn_id, n.tx_id}))
      return fail("transaction " + std::to_string(n.tx_id) + " of connection " + std::to_string(n.conn_id) + " has no earlier TRANSACTION_DATA");
    if (n.access & ~(node_access_read | node_access_written)) return fail("unknown access bits " + std::to_string(n.access));
    if (!pending && perm_n == 0) return fail("committed node without permissions (no owner)");
    // The document's deletion in a transaction: access 0, no perms, no value; nothing else lacks them.
    if (pending && perm_n == 0 && n.access != 0) return fail("node of a transaction has access bits but no permissions (a deletion has neither)");
    if (pending && n.access == 0 && perm_n != 0) return fail("node deleted in a transaction (no access bits) carries permissions");
    if (pending && n.access == 0 && vlen != 0) return fail("node deleted in a transaction (no access bits) carries a value");
    if (!b.has(std::size_t{perm_n} * 4)) return fail(std::to_string(perm_n) + " permissions run past the record");
    n.perms.reserve(perm_n);
    for (std::size_t i = 0; i < perm_n; ++i) {
      const std::size_t off = b.at;
      const char letter = static_cast<char>(b.take<std::uint8_t>());
      const auto flags = b.take<std::uint8_t>();
      const auto domid = b.take<std::uint16_t>();
      auto p = perm_from_letter(letter);
      if (!p) return fail("permission " + std::to_string(i) + " has no n/r/w/b letter" + at(off));
      if (flags & ~1U) return fail("permission " + std::to_string(i) + " has unknown flags " + std::to_string(flags) + at(off));
      n.perms.push_back(perm_entry{domid, *p, (flags & 1U) != 0});
    }
    auto path = cstring(b, plen, "node path");
    if (!path) return tl::unexpected(path.error());
    if (!valid_node_path(*path)) return fail("node path is not a valid absolute path");
    if (!b.has(vlen)) return fail("value of " + std::to_string(vlen) + " bytes runs past the record");
    n.value = b.bytes(vlen);
    if (auto ok = finish(b); !ok) return ok;
    auto key = std::make_tuple(n.conn_id, pending ? n.tx_id : 0U, std::string(*path));
    if (nodes_.count(key)) return fail("duplicate node " + std::string(*path) + (pending ? " in its transaction" : ""));
    nodes_.insert(std::move(key));
    n.path = *path;
    out_.records.emplace_back(std::move(n));
    return {};
  }

  // n u32 values then n NUL-terminated names.
  status quotas(body_view& b, std::size_t n, std::vector<quota_value>& out) {
    if (!b.has(n * 4)) return fail(std::to_string(n) + " quota values run past the record");
    out.resize(n);
    for (auto& q : out) q.value = b.take<std::uint32_t>();
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t off = b.at;
      std::string_view rest = b.b.substr(b.at);
      const std::size_t nul = rest.find('\0');
      if (nul == std::string_view::npos) return fail("quota name " + std::to_string(i) + " is not NUL-terminated" + at(off));
      std::string_view name = rest.substr(0, nul);
      if (!valid_quota_name(name)) return fail("quota name " + std::to_string(i) + " is empty, too long or not printable" + at(off));
      if (!names.insert(name).second) return fail("duplicate quota name " + std::string(name));
      out[i].name = name;
      b.at += nul + 1;
    }
    return {};
  }

  status global_quota(body_view& b) {
    if (seen_global_quota_) return fail("a second GLOBAL_QUOTA_DATA record");
    if (!b.has(4)) return fail("body of " + std::to_string(b.b.size()) + " bytes, GLOBAL_QUOTA_DATA needs at least 4");
    const auto n_dom = b.take<std::uint16_t>();
    const auto n_glob = b.take<std::uint16_t>();
    std::vector<quota_value> all;
    if (auto ok = quotas(b, std::size_t{n_dom} + n_glob, all); !ok) return ok;
    if (auto ok = finish(b); !ok) return ok;
    global_quota_record g;
    g.per_domain.assign(all.begin(), all.begin() + n_dom);
    g.global_only.assign(all.begin() + n_dom, all.end());
    seen_global_quota_ = true;
    out_.records.emplace_back(std::move(g));
    return {};
  }

  status domain(body_view& b) {
    if (!b.has(8)) return fail("body of " + std::to_string(b.b.size()) + " bytes, DOMAIN_DATA needs at least 8");
    domain_record d;
    d.domid = b.take<std::uint16_t>();
    const auto n = b.take<std::uint16_t>();
    d.features = b.take<std::uint32_t>();
    if (out_.pre.version == stream_version::v1) d.features = 0;  // not valid in v1: ignored
    if (d.domid >= domid_first_reserved) return fail("domid " + std::to_string(d.domid) + " is reserved");
    if (domains_.count(d.domid)) return fail("a second DOMAIN_DATA for domain " + std::to_string(d.domid));
    if (auto ok = quotas(b, n, d.quotas); !ok) return ok;
    if (auto ok = finish(b); !ok) return ok;
    domains_.insert(d.domid);
    out_.records.emplace_back(std::move(d));
    return {};
  }

  std::string_view in_;
  read_options opt_;
  byte_order order_ = byte_order::little;
  stream out_;
  std::size_t pos_ = 0;
  std::size_t index_ = 0;
  std::size_t header_ = 0;
  std::optional<std::uint32_t> type_;

  bool seen_global_ = false;
  bool seen_global_quota_ = false;
  std::set<std::uint32_t> conns_;
  std::set<domid_t> ring_domids_;
  std::set<domid_t> domains_;
  std::set<std::pair<std::uint32_t, std::uint32_t>> txs_;
  std::set<std::tuple<std::uint32_t, std::string, std::string>> watches_;
  std::set<std::tuple<std::uint32_t, std::uint32_t, std::string>> nodes_;
};

}  // namespace

stream_result<stream> read_stream(std::string_view bytes, const read_options& opt) { return reader(bytes, opt).run(); }

stream_result<stream> read_stream(std::span<const std::byte> bytes, const read_options& opt) {
  return read_stream(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), opt);
}

}  // namespace xenwire::xenstore::migration
