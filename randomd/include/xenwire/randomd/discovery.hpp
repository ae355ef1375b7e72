// How a guest and randomd find each other. Only rendezvous metadata goes through Xenstore:
//
//   guest G writes   /local/domain/G/data/randomd/request = <nonce>   (its own home; 16 hex digits)
//   randomd (dom S)  watches @introduceDomain / @releaseDomain, and each introduced guest's request
//                    node; on a well-formed request it serves G with a persistent vchan server whose
//                    keys it publishes at vchan::default_path(S, G, "randomd")
//                    (/local/domain/S/data/vchan/G/randomd/{ring-ref,event-channel}, readable by G)
//   guest G          watches those keys and connects; the entropy then flows over the vchan only.
//
// The nonce is not secret and not entropy: it only makes each request a visible change. A new nonce
// from a guest whose server failed or was withdrawn gets a fresh server; removing the request node
// withdraws the request (randomd closes the server). When G is released, randomd closes its server
// (removing the keys) and forgets it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xenwire/ring/transport.hpp"

namespace xenwire::randomd {

inline constexpr std::string_view vchan_port_name = "randomd";
inline constexpr std::size_t nonce_digits = 16;

// /local/domain/<guest>/data/randomd/request
std::string request_path(domid_t guest);
// vchan::default_path(server, guest, "randomd")
std::string keys_path(domid_t server, domid_t guest);

std::string format_nonce(std::uint64_t nonce);
// Exactly 16 lowercase hex digits; nullopt for anything else (a hostile guest's value).
std::optional<std::uint64_t> parse_nonce(std::string_view text) noexcept;

}  // namespace xenwire::randomd
