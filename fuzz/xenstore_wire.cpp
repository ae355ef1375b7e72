// Arbitrary bytes through the Xenstore codec, as a hostile guest would send them.
// Input layout: byte 0 seeds the chunk sizes; the rest is the byte stream. Every complete message
// is parsed per its type, its path arguments resolved, and replies built; invariants are checked
// with __builtin_trap so that a violation is a crash the fuzzer reports.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "xenwire/xenstore/path.hpp"
#include "xenwire/xenstore/perms.hpp"
#include "xenwire/xenstore/replies.hpp"
#include "xenwire/xenstore/requests.hpp"
#include "xenwire/xenstore/wire.hpp"

namespace xs = xenwire::xenstore;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void exercise_path(std::string_view p, xenwire::domid_t home, bool special) {
  auto r = xs::resolve_path(p, {.home_domid = home, .allow_special = special, .path_quota = 2048});
  if (!r) return;
  if (r->special) {
    check(xs::parse_special_path(r->path).has_value());
    return;
  }
  check(xs::is_valid_absolute_path(r->path));
  check(xs::quota_path_length(r->path) <= 2048);
  if (r->relative) check(xs::to_relative(r->path, home) == std::optional<std::string_view>(p));
  std::string_view cur = r->path;
  std::size_t steps = 0;
  while (auto up = xs::parent(cur)) {
    check(xs::is_ancestor_or_self(*up, cur));
    cur = *up;
    ++steps;
  }
  check(steps == xs::depth(r->path));
}

void exercise_request(const xs::message_view& m, xenwire::domid_t home) {
  auto req = xs::parse_request(m);
  std::string out;
  if (!req) {
    xs::write_error(out, m.hdr, req.error());
    check(out.size() > xs::header_size);
    return;
  }
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (requires { r.path; }) {
          exercise_path(r.path, home, std::is_same_v<T, xs::req::watch> || std::is_same_v<T, xs::req::unwatch>);
        }
        if constexpr (std::is_same_v<T, xs::req::set_perms>) {
          check(!r.perms.empty());
          auto again = xs::parse_perms(xs::format_perms(r.perms));
          check(again.has_value() && *again == r.perms);
          (void)xs::effective_perm(r.perms, {home, false, static_cast<xenwire::domid_t>(home + 1)});
        }
        if constexpr (std::is_same_v<T, xs::req::watch>) {
          if (xs::write_watch_event(out, r.path, r.token)) {
            auto ev = xs::parse_watch_event(std::string_view(out).substr(xs::header_size));
            check(ev && ev->path == r.path && ev->token == r.token);
          }
        }
        if constexpr (std::is_same_v<T, xs::req::write>) {
          check(r.path.size() + 1 + r.value.size() == m.payload.size());
        }
      },
      *req);
  out.clear();
  xs::write_ok(out, m.hdr);
  // Replies a server could build from this payload never exceed a frame.
  if (xs::write_directory_part_reply(out, m.hdr, m.hdr.req_id, m.payload, m.hdr.tx_id % 64)) {
    check(out.size() <= 2 * xs::frame_max);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::uint32_t seed = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto home = static_cast<xenwire::domid_t>(seed * 257);

  // Standalone parsers on the whole input too.
  (void)xs::parse_perms(stream);
  (void)xs::parse_directory_part_reply(stream);
  (void)xs::parse_error_reply(stream);
  exercise_path(stream, home, true);

  xs::frame_decoder dec;
  while (!stream.empty()) {
    seed = seed * 1103515245u + 12345u;  // fuzzer-chosen, deterministic chunking
    std::size_t n = 1 + (seed >> 16) % 97;
    if ((seed & 7) == 0) n = stream.size();
    std::string_view chunk = stream.substr(0, n);
    stream.remove_prefix(chunk.size());
    for (;;) {
      auto r = dec.next(chunk);
      check(dec.buffered() <= xs::frame_max);
      if (!r) {
        check(dec.failed());
        return 0;  // the connection would be dropped
      }
      if (!*r) break;
      check((*r)->payload.size() == (*r)->hdr.len && (*r)->hdr.len <= xenwire::xenstore::payload_max);
      exercise_request(**r, home);
    }
    check(chunk.empty());
  }
  return 0;
}
