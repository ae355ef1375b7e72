// Text forms the tool prints: xenstore-read/-ls's escaping of values, JSON strings, and error
// messages naming the Xenstore error.
#pragma once

#include <string>
#include <string_view>

#include "xenwire/xenstore/client/error.hpp"

namespace xenwire::xenstore::tools {

// As libxenstore's sanitise_value: printable ASCII as is, \t \n \r \\, bytes below 010 as \ooo,
// every other byte as \xNN.
std::string sanitise_value(std::string_view raw);
// A JSON string literal (quotes included). Bytes outside ASCII become \u00NN (their Latin-1 code
// point): Xenstore values are bytes, not necessarily UTF-8.
std::string json_string(std::string_view raw);
// "ENOENT (no such node)", or the transport error's message.
std::string describe(const client_error& e);

}  // namespace xenwire::xenstore::tools
