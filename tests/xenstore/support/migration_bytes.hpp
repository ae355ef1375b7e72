// Hand-made migration stream bytes for the tests: hex literals and raw records with any header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace xenwire::test {

// "78 65 6e" -> bytes; spaces ignored.
inline std::string unhex(std::string_view h) {
  std::string out;
  int hi = -1;
  for (char c : h) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else continue;
    if (hi < 0) hi = v;
    else { out += static_cast<char>(hi * 16 + v); hi = -1; }
  }
  return out;
}

inline void le16(std::string& o, std::uint16_t v) { o += static_cast<char>(v & 0xFF); o += static_cast<char>(v >> 8); }
inline void le32(std::string& o, std::uint32_t v) { for (int i = 0; i < 4; ++i) o += static_cast<char>((v >> (8 * i)) & 0xFF); }
inline void be32(std::string& o, std::uint32_t v) { for (int i = 3; i >= 0; --i) o += static_cast<char>((v >> (8 * i)) & 0xFF); }

// The preamble: ident, big-endian version and flags.
inline std::string preamble(std::uint32_t version, std::uint32_t flags = 0) {
  std::string o = "xenstore";
  be32(o, version);
  be32(o, flags);
  return o;
}
// A little-endian record: header {type, len}, body, zero padding to 8 (len as given).
inline std::string raw_record(std::uint32_t type, std::string_view body, std::uint32_t len) {
  std::string o;
  le32(o, type);
  le32(o, len);
  o += body;
  while (o.size() % 8) o += '\0';
  return o;
}
inline std::string raw_record(std::uint32_t type, std::string_view body) {
  return raw_record(type, body, static_cast<std::uint32_t>((body.size() + 7) & ~std::size_t{7}));
}
inline std::string end_bytes() { return std::string(8, '\0'); }

// Little-endian record bodies.
inline std::string socket_conn_body(std::uint32_t id, std::int32_t fd) {
  std::string b;
  le32(b, id); le16(b, 1); le16(b, 0); le32(b, static_cast<std::uint32_t>(fd)); le32(b, 0);
  le16(b, 0); le16(b, 0); le32(b, 0);
  return b;
}
inline std::string ring_conn_body(std::uint32_t id, std::uint16_t domid) {
  std::string b;
  le32(b, id); le16(b, 0); le16(b, 0); le16(b, domid); le16(b, 0x7FF4); le32(b, 1);
  le16(b, 0); le16(b, 0); le32(b, 0);
  return b;
}
inline std::string watch_body(std::uint32_t conn, std::string_view path, std::string_view token) {
  std::string b;
  le32(b, conn); le16(b, static_cast<std::uint16_t>(path.size() + 1)); le16(b, static_cast<std::uint16_t>(token.size() + 1));
  b += path; b += '\0'; b += token; b += '\0';
  return b;
}
inline std::string tx_body(std::uint32_t conn, std::uint32_t tx) {
  std::string b;
  le32(b, conn); le32(b, tx);
  return b;
}
// A committed node with one perm entry "<letter><domid>".
inline std::string node_body(std::string_view path, std::string_view value, char letter = 'n', std::uint16_t domid = 0,
                             std::uint16_t perm_n = 1, std::uint32_t conn = 0, std::uint32_t tx = 0) {
  std::string b;
  le32(b, conn); le32(b, tx); le16(b, static_cast<std::uint16_t>(path.size() + 1)); le16(b, static_cast<std::uint16_t>(value.size()));
  le16(b, 0); le16(b, perm_n);
  for (std::uint16_t i = 0; i < perm_n; ++i) { b += letter; b += '\0'; le16(b, domid); }
  b += path; b += '\0'; b += value;
  return b;
}

// WATCH_DATA_EXTENDED exactly as C xenstored's dump_state_watches writes it (Xen 4.21..master):
// header len ROUNDUP(12 + plen + tlen, 8) (sizeof struct xs_state_watch_ext is 12), then only
// sizeof(struct xs_state_watch) = 8 bytes of fields (no depth), path, token, and dump_state_align's
// padding to the file's next 8-byte boundary.
inline std::string c_watch_ext_record(std::uint32_t conn, std::string_view path, std::string_view token) {
  const std::size_t s = path.size() + 1 + token.size() + 1;
  std::string o;
  le32(o, 8);
  le32(o, static_cast<std::uint32_t>((12 + s + 7) & ~std::size_t{7}));
  le32(o, conn); le16(o, static_cast<std::uint16_t>(path.size() + 1)); le16(o, static_cast<std::uint16_t>(token.size() + 1));
  o += path; o += '\0'; o += token; o += '\0';
  while (o.size() % 8) o += '\0';
  return o;
}

}  // namespace xenwire::test
