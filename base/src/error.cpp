#include "xenwire/base/error.hpp"

#include <string>

namespace xenwire {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "xenwire"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::invalid_argument: return "invalid argument";
      case errc::permission_denied: return "permission denied";
      case errc::no_such_domain: return "no such domain";
      case errc::domain_dying: return "domain is dying";
      case errc::bad_grant_ref: return "bad grant reference";
      case errc::grant_exhausted: return "grant table exhausted";
      case errc::port_exhausted: return "event-channel ports exhausted";
      case errc::bad_port: return "event-channel port not bound here";
      case errc::peer_closed: return "peer closed";
      case errc::would_block: return "operation would block";
      case errc::timed_out: return "timed out";
      case errc::read_only: return "mapping is read-only";
      case errc::ring_corrupt: return "ring corrupted by peer (hostile or inconsistent indices)";
      case errc::protocol_error: return "protocol violation by peer";
      case errc::not_supported: return "not supported by this backend";
      case errc::system_error: return "system call failed";
    }
    std::string msg = "unknown xenwire error ";  // appended, not operator+: g++ 12 -Wrestrict false positive
    msg += std::to_string(ev);
    return msg;
  }
};

}  // namespace

const std::error_category& xenwire_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace xenwire
