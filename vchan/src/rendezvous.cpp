#include "xenwire/vchan/rendezvous.hpp"

#include <charconv>

#include "xenwire/xenstore/path.hpp"

namespace xenwire::vchan {

std::string default_path(domid_t server, domid_t client, std::string_view port) {
  std::string path = xenstore::domain_home(server) + "/data/vchan/" + std::to_string(client) + "/";
  path += port;
  return path;
}

std::string format_key(std::uint32_t value) { return std::to_string(value); }

std::optional<std::uint32_t> parse_key(std::string_view text) noexcept {
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text.front() == '0')) return std::nullopt;
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

result<keys> parse_keys(std::string_view ring_ref, std::string_view event_channel) {
  const auto ref = parse_key(ring_ref);
  const auto port = parse_key(event_channel);
  if (!ref || !port || *ref == 0 || *port == 0) return fail(errc::protocol_error);
  return keys{*ref, *port};
}

}  // namespace xenwire::vchan
