// Live update's state file: where it lives and how the new binary reads it (hostile input: the
// migration stream's reader checks every record).
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "xenwire/xenstore/migration/records.hpp"
#include "xenwire/xenstore/server/core.hpp"

namespace xenwire::xenstore {

// $XENSTORED_RUNDIR/state_dump (default /var/run/xenstored), where C xenstored keeps it too.
std::string live_update_state_path();

// Every xenwire-xenstored carries this text: a binary whose file holds it takes
// --live-update-check, so the old daemon can try it on the state before exec'ing it.
inline constexpr char live_update_check_marker[] = "xenwire-xenstored live-update-check 1";
// A binary whose file holds this reads open transactions from the state (export_options::
// keep_transactions): the old daemon carries them over instead of waiting for them to end.
inline constexpr char live_update_transactions_marker[] = "xenwire-xenstored live-update-transactions 1";

// The whole file, parsed; else what is wrong (the OS error, or the record and offset at fault).
tl::expected<migration::stream, std::string> read_live_update_state(const std::string& path);

// Imports the state into `core` (fresh): the connections it opened, else why this daemon cannot
// serve it (domains' rings without a backend to serve them; a state the core refuses). The nodes'
// paths, values and perms are moved out of `state`; its other records stay for the caller.
tl::expected<std::vector<imported_connection>, std::string> import_live_update_state(migration::stream& state,
                                                                                     server_core& core,
                                                                                     bool serves_rings);

}  // namespace xenwire::xenstore
