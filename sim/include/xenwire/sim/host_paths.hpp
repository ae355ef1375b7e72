// Where a cross-process simulated host named NAME keeps its things. One place decides them: the
// host, its clients, the launcher and the tests all ask here.
//
//   run directory  $XENWIRE_RUN_DIR/NAME, else /run/xenwire/NAME as root,
//                  else $XDG_RUNTIME_DIR/xenwire/NAME, else /tmp/xenwire-UID/NAME
//   host.sock      the host's socket (domains connect here)
//   host.lock      flock()ed by the running host, holds its pid: a lock nobody holds means a crashed run
//   host.log       the host's log when started in the background
//   xenstored.sock dom0's xenstored socket (XENSTORED_PATH for the host's programs)
//   proc-xen/      dom0's /proc/xen as the launcher's dom0 kernel fills it (xsd_kva, xsd_port,
//                  capabilities), seen through libxenwire-procxen.so by a Xen xenstored
//   /dev/shm/xenwire.NAME.pages   the granted pages (Boost.Interprocess shared memory object)
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "xenwire/base/error.hpp"

namespace xenwire::sim {

struct host_paths {
  std::string name;
  std::filesystem::path run_dir;
  std::filesystem::path socket;
  std::filesystem::path lock;
  std::filesystem::path log;
  std::filesystem::path xenstored_socket;
  std::filesystem::path proc_xen;
  std::string pages_object;  // shared-memory object name, without the leading '/'
};

// errc::invalid_argument unless NAME is 1..32 of [A-Za-z0-9_.-] and not "." or "..".
// `run_root` replaces the default root above when not empty.
result<host_paths> paths_for(std::string_view name, const std::filesystem::path& run_root = {});
// The socket a process connects to when none is given: $XENWIRE_HOST, else the "default" host's.
std::filesystem::path default_host_socket();

}  // namespace xenwire::sim
