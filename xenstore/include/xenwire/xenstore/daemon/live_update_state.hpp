// Live update's state file: where it lives and how the new binary reads it (hostile input: the
// migration stream's reader checks every record).
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "xenwire/xenstore/migration/records.hpp"

namespace xenwire::xenstore {

// $XENSTORED_RUNDIR/state_dump (default /var/run/xenstored), where C xenstored keeps it too.
std::string live_update_state_path();

// The whole file, parsed; else what is wrong (the OS error, or the record and offset at fault).
tl::expected<migration::stream, std::string> read_live_update_state(const std::string& path);

}  // namespace xenwire::xenstore
