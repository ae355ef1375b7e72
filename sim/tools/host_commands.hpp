// xenwire-host's commands, one function each; main() parses the command line and calls one.
// Each returns the process's exit code: 0 done, 1 failed (said why on stderr), 2 usage.
#pragma once

#include <string>
#include <vector>

#include "xenwire/base/ids.hpp"
#include "xenwire/sim/host_paths.hpp"

namespace xenwire::simhost_cli {

int start(const sim::host_paths& paths, bool foreground, std::vector<std::string> xenstored);
int stop(const sim::host_paths& paths);
int list(const sim::host_paths& paths);
int run(const sim::host_paths& paths, domid_t domid, const std::vector<std::string>& command);
int build(const sim::host_paths& paths, domid_t domid);
int destroy(const sim::host_paths& paths, domid_t domid);

}  // namespace xenwire::simhost_cli
