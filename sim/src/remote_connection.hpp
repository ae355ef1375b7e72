// One process's connection to a cross-process host: requests go out one at a time (a mutex), each
// waits for its reply. Shared by the transport and every object it hands out.
#pragma once

#include <mutex>
#include <span>
#include <vector>

#include "remote_wire.hpp"
#include "xenwire/base/ids.hpp"
#include "xenwire/base/unique_fd.hpp"

namespace xenwire::sim::detail {

struct call_result {
  wire::reply head;
  std::vector<std::byte> tail;
  wire::message raw;  // owns the fds that came with the reply
};

class remote_connection {
 public:
  remote_connection(unique_fd sock, domid_t domid, unique_fd pages) noexcept
      : sock_(std::move(sock)), pages_(std::move(pages)), domid_(domid) {}

  // Sends `rq` (with `refs` after it) and waits for the reply; a reply carrying an error comes
  // back as that error. errc::peer_closed once the host is gone. `fds` go with the request.
  result<call_result> call(wire::request rq, std::span<const std::uint32_t> refs = {}, std::span<const int> fds = {});

  // The host's page file, which comes with the reply to hello.
  void adopt_pages(unique_fd pages) noexcept { pages_ = std::move(pages); }

  int socket() const noexcept { return sock_.get(); }
  int pages_fd() const noexcept { return pages_.get(); }
  domid_t domid() const noexcept { return domid_; }

 private:
  std::mutex mutex_;
  std::vector<std::byte> inbox_;  // replies land here (guarded by mutex_)
  unique_fd sock_;
  unique_fd pages_;
  domid_t domid_;
};

}  // namespace xenwire::sim::detail
