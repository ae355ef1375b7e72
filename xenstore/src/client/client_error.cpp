#include "xenwire/xenstore/client/error.hpp"

namespace xenwire::xenstore {

std::string client_error::message() const {
  if (auto e = xs()) return std::string(name(*e));
  return transport()->message();
}

}  // namespace xenwire::xenstore
