#include "xenwire/randomd/discovery.hpp"

#include <cstdio>

#include "xenwire/vchan/rendezvous.hpp"
#include "xenwire/xenstore/path.hpp"

namespace xenwire::randomd {

std::string request_path(domid_t guest) { return xenstore::domain_home(guest) + "/data/randomd/request"; }

std::string keys_path(domid_t server, domid_t guest) { return vchan::default_path(server, guest, vchan_port_name); }

std::string format_nonce(std::uint64_t nonce) {
  char buf[nonce_digits + 1];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(nonce));
  return std::string(buf, nonce_digits);
}

std::optional<std::uint64_t> parse_nonce(std::string_view text) noexcept {
  if (text.size() != nonce_digits) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    unsigned d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | d;
  }
  return v;
}

}  // namespace xenwire::randomd
