// struct xengntdev_handle: xengnttab_handle and xengntshr_handle are this one type in
// <xengnttab.h> (one device handle each on Linux: gntdev, gntalloc); ours holds the mappings or
// shares by the address the caller got, so unmap/unshare work by address as on Linux.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>

#include "xenwire/base/unique_fd.hpp"
#include "xenwire/ring/transport.hpp"
#include "xenwire/sim/remote.hpp"

// The C API, declared with default visibility: the library is built with -fvisibility=hidden and
// only these (filtered again by the version script) are exported.
#pragma GCC visibility push(default)
extern "C" {
#include <xengnttab.h>
}
#pragma GCC visibility pop

struct xengntdev_handle {
  std::shared_ptr<xenwire::sim::remote_transport> transport;
  // What xengnttab_fd/xengntshr_fd return: a private fd, as the device's would be (never readable).
  xenwire::unique_fd device_fd;

  std::mutex mutex;  // guards what follows: a handle may be used from several threads
  std::map<void*, std::unique_ptr<xenwire::mapped_pages>> maps;    // xengnttab side
  std::map<void*, std::unique_ptr<xenwire::shared_pages>> shares;  // xengntshr side
  std::size_t max_grants = std::numeric_limits<std::size_t>::max();  // xengnttab_set_max_grants
  std::size_t mapped_pages = 0;
};

namespace xenwire::emu {

// Opens a handle (connecting to the host if needed), or nullptr with errno set.
xengntdev_handle* open_gntdev_handle() noexcept;
// Frees the handle. What it still maps or shares stays valid, as Linux keeps a vma's pages after
// the device fd is closed: they are released when the process exits.
void close_gntdev_handle(xengntdev_handle* h) noexcept;

// unmap_notify from the C API's (notify_offset, notify_port), with libxengnttab's rules: an offset
// beyond the page or a port of -1 means "none".
unmap_notify to_unmap_notify(std::uint32_t notify_offset, evtchn_port_t notify_port) noexcept;

// xengnttab_unmap / xengntshr_unshare: takes the region starting at `start` out of `regions` if it
// spans exactly `count` pages (Linux's check), else nullptr. The caller holds the handle's mutex and
// destroys the region after releasing it (the destructor talks to the host and fires notifies).
template <class Region>
std::unique_ptr<Region> take_region(std::map<void*, std::unique_ptr<Region>>& regions, void* start,
                                    std::uint32_t count) {
  auto it = regions.find(start);
  if (it == regions.end() || it->second->bytes().size() != std::size_t{count} * page_size) return nullptr;
  std::unique_ptr<Region> taken = std::move(it->second);
  regions.erase(it);
  return taken;
}

}  // namespace xenwire::emu
