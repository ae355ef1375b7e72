// A user of an installed xenwire: the public headers resolve and the libraries link.
// (The add_subdirectory and pkg-config consumers build this file too, with xenwire::ring only.)
#include <cstdio>

#include <xenwire/base/error.hpp>
#include <xenwire/ring/xenstore_layout.hpp>
#ifdef XENWIRE_CONSUMER_RANDOMD
#include <xenwire/randomd/protocol.hpp>
#endif

int main() {
  std::error_code ec = xenwire::errc::ring_corrupt;
  if (ec.category().name() != std::string_view("xenwire")) return 1;
  std::printf("xenwire consumer: ring size %u, error '%s'\n", xenwire::xenstore::ring_size, ec.message().c_str());
#ifdef XENWIRE_CONSUMER_RANDOMD
  const xenwire::randomd::request q{.id = 7, .length = 32};
  if (xenwire::randomd::decode_request(xenwire::randomd::encode(q)) != q) return 1;
  std::printf("xenwire consumer: randomd request frame %zu bytes\n", xenwire::randomd::request_size);
#endif
  return 0;
}
