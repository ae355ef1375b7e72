// The client's error type: either the Xenstore error the server named (ENOENT, EAGAIN, ...) or a
// transport/local failure (connection closed, timed out, protocol violation) as an std::error_code.
// Every client call returns client_result<T>; nothing on the request path throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>

#include <tl/expected.hpp>

#include "xenwire/base/error.hpp"
#include "xenwire/xenstore/errors.hpp"

namespace xenwire::xenstore {

class client_error {
 public:
  client_error(xs_error e) noexcept : v_(e) {}                   // NOLINT: implicit on purpose
  client_error(std::error_code ec) noexcept : v_(ec) {}          // NOLINT
  client_error(errc e) noexcept : v_(make_error_code(e)) {}      // NOLINT

  // The server's answer, if the failure is one.
  std::optional<xs_error> xs() const noexcept {
    if (auto* e = std::get_if<xs_error>(&v_)) return *e;
    return std::nullopt;
  }
  bool is(xs_error e) const noexcept { return xs() == e; }
  // The transport/local error, if the failure is not a Xenstore error.
  std::optional<std::error_code> transport() const noexcept {
    if (auto* ec = std::get_if<std::error_code>(&v_)) return *ec;
    return std::nullopt;
  }
  bool is(errc e) const noexcept { return transport() == make_error_code(e); }

  // "ENOENT", or the transport error's message ("peer closed the connection", ...).
  std::string message() const;

  friend bool operator==(const client_error&, const client_error&) = default;

 private:
  std::variant<xs_error, std::error_code> v_;
};

template <class T>
using client_result = tl::expected<T, client_error>;

inline tl::unexpected<client_error> client_fail(client_error e) noexcept { return tl::unexpected<client_error>(e); }

}  // namespace xenwire::xenstore
