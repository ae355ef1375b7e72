// One session's data path: bytes from the local input fd into the vchan, bytes from the vchan to the
// local output fd (the same fd for a socket), through two 64 KiB buffers, in one poll() loop over
// the vchan's event channel and the local fds (set non-blocking by the caller).
//
// The session ends when
//  * the vchan closes: everything the peer wrote before closing is read and written to the output
//    fd first (vchan-socket-proxy drops what is still in the ring at that point);
//  * the local input ends (EOF): what was read from it is written into the vchan first;
//  * the local side fails (a write to a reader that went away, a read error).
// A vchan that fails (hostile peer, broken transport) is an error.
#pragma once

#include <cstdint>

#include "xenwire/base/error.hpp"
#include "xenwire/vchan/endpoint.hpp"

namespace xenwire::vchan_proxy {

enum class session_end : std::uint8_t { vchan_closed, local_eof, local_error };
const char* to_string(session_end e) noexcept;

struct pump_stats {
  std::uint64_t to_vchan = 0;    // bytes read locally and written into the vchan
  std::uint64_t from_vchan = 0;  // bytes read from the vchan and written locally
};

// `ep` must be non-blocking. For a persistent server a departed client shows as its keys being
// re-published (the endpoint re-arms itself): that ends the session too.
result<session_end> pump(vchan::endpoint& ep, int in_fd, int out_fd, pump_stats& stats);

}  // namespace xenwire::vchan_proxy
