// `ls`: the tree in Debian's xenstore-ls format, byte for byte (tools/xenstore/xenstore_client.c,
// do_ls): one space of indent per level, values escaped and cut to the width with "\...", and with
// -p the permissions after a dotted filler. Or one JSON object per node.
#pragma once

#include <cstdio>
#include <string>

#include "xenwire/xenstore/client/client.hpp"

namespace xenwire::xenstore::tools {

struct ls_options {
  bool full_paths = false;  // -f: whole paths, no width limit
  bool perms = false;       // -p
  bool json = false;
  int width = 80;           // xenstore-ls: 80, or the terminal's columns - 2
};

// Prints the tree below `path` to `out`. Fails only if `path` itself cannot be listed (nodes that
// vanish while walking are skipped, as xenstore-ls does).
client_result<void> print_tree(client& c, const std::string& path, const ls_options& opt, std::FILE* out);

}  // namespace xenwire::xenstore::tools
