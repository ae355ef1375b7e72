// A user of an installed xenwire: the public headers resolve and the library links.
#include <cstdio>

#include <xenwire/base/error.hpp>
#include <xenwire/ring/xenstore_layout.hpp>

int main() {
  std::error_code ec = xenwire::errc::ring_corrupt;
  if (ec.category().name() != std::string_view("xenwire")) return 1;
  std::printf("xenwire consumer: ring size %u, error '%s'\n", xenwire::xs::ring_size, ec.message().c_str());
  return 0;
}
