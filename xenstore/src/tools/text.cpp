#include "text.hpp"

#include <cstdio>

namespace xenwire::xenstore::tools {

std::string sanitise_value(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (const char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= ' ' && c <= '~' && c != '\\') {
      out += ch;
      continue;
    }
    out += '\\';
    switch (c) {
      case '\t': out += 't'; break;
      case '\n': out += 'n'; break;
      case '\r': out += 'r'; break;
      case '\\': out += '\\'; break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, c < 010 ? "%03o" : "x%02x", c);
        out += buf;
      }
    }
  }
  return out;
}

std::string json_string(std::string_view raw) {
  std::string out = "\"";
  for (const char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string describe(const client_error& e) {
  const auto xs = e.xs();
  if (!xs) return e.message();
  const char* what = "";
  switch (*xs) {
    case xs_error::einval: what = "invalid argument"; break;
    case xs_error::eacces: what = "permission denied"; break;
    case xs_error::eexist: what = "already exists"; break;
    case xs_error::eisdir: what = "is a directory"; break;
    case xs_error::enoent: what = "no such node"; break;
    case xs_error::enomem: what = "out of memory"; break;
    case xs_error::enospc: what = "quota exceeded"; break;
    case xs_error::eio: what = "I/O error"; break;
    case xs_error::enotempty: what = "not empty"; break;
    case xs_error::enosys: what = "not supported by the server"; break;
    case xs_error::erofs: what = "read-only connection"; break;
    case xs_error::ebusy: what = "busy"; break;
    case xs_error::eagain: what = "conflict, try again"; break;
    case xs_error::eisconn: what = "already connected"; break;
    case xs_error::e2big: what = "too big"; break;
    case xs_error::eperm: what = "operation not permitted"; break;
  }
  return std::string(name(*xs)) + " (" + what + ")";
}

}  // namespace xenwire::xenstore::tools
