#include "session.hpp"

#include <fcntl.h>

#include <chrono>

#include <spdlog/spdlog.h>

#include "local_socket.hpp"

namespace xenwire::vchan_proxy {

result<session_end> run_session(vchan::endpoint& ep, local_end& local) {
  for (int fd : {local.in, local.out}) {
    if (auto ok = set_nonblocking(fd, true); !ok) return tl::unexpected(ok.error());
  }
  const auto t0 = std::chrono::steady_clock::now();
  pump_stats stats;
  auto end = pump(ep, local.in, local.out, stats);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (end) {
    spdlog::info("session over ({}): {} bytes to the vchan, {} bytes from it in {:.3f} s", to_string(*end),
                 stats.to_vchan, stats.from_vchan, secs);
  } else {
    spdlog::error("vchan failed after {} bytes to it and {} bytes from it: {}", stats.to_vchan, stats.from_vchan,
                  end.error().message());
  }
  return end;
}

stdio_restorer::stdio_restorer() : in_flags_(::fcntl(0, F_GETFL)), out_flags_(::fcntl(1, F_GETFL)) {}

stdio_restorer::~stdio_restorer() {
  if (in_flags_ != -1) (void)::fcntl(0, F_SETFL, in_flags_);
  if (out_flags_ != -1) (void)::fcntl(1, F_SETFL, out_flags_);
}

}  // namespace xenwire::vchan_proxy
