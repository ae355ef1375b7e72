// libxengnttab's sharing half (xengntshr_*, Linux gntalloc semantics) on the host's grant tables.
#include <cerrno>
#include <new>

#include "errno_map.hpp"
#include "gntdev_handle.hpp"

using namespace xenwire;

namespace {

// gntalloc's ALLOC_GREF (+ SET_UNMAP_NOTIFY) + mmap: fresh zeroed pages, refs written to `refs`.
void* share(xengntshr_handle* h, std::uint32_t domid, int count, std::uint32_t* refs, int writable,
            unmap_notify notify) noexcept {
  if (h == nullptr || count <= 0 || refs == nullptr || domid >= domid_first_reserved) {
    emu::fail_errno(EINVAL);
    return nullptr;
  }
  try {
    std::lock_guard lock(h->mutex);
    const xenwire::access mode = writable != 0 ? xenwire::access::read_write : xenwire::access::read_only;
    auto shared = h->transport->grants().share(static_cast<domid_t>(domid), static_cast<std::size_t>(count), mode,
                                               notify);
    if (!shared) {
      emu::fail_errno(shared.error());
      return nullptr;
    }
    const auto granted = (*shared)->refs();
    for (std::size_t i = 0; i < granted.size(); ++i) refs[i] = granted[i];
    void* addr = (*shared)->bytes().data();
    h->shares.emplace(addr, std::move(*shared));
    return addr;
  } catch (const std::bad_alloc&) {
    emu::fail_errno(ENOMEM);
    return nullptr;
  }
}

}  // namespace

extern "C" {

// xengntshr_open → a handle on this process's connection to the host (connects on first use).
xengntshr_handle* xengntshr_open(struct xentoollog_logger* /*logger: we never log*/, unsigned /*open_flags*/) {
  return emu::open_gntdev_handle();
}

// xengntshr_close → forgets the handle; its shares stay until the process exits (as with gntalloc).
int xengntshr_close(xengntshr_handle* xgs) {
  emu::close_gntdev_handle(xgs);
  return 0;
}

// xengntshr_fd → a private never-readable fd standing in for /dev/xen/gntalloc.
int xengntshr_fd(xengntshr_handle* xgs) { return xgs->device_fd.get(); }

// xengntshr_share_pages → grant_table::share of `count` pages (writable decides read-write).
void* xengntshr_share_pages(xengntshr_handle* xgs, uint32_t domid, int count, uint32_t* refs, int writable) {
  return share(xgs, domid, count, refs, writable, {});
}

// xengntshr_share_page_notify → grant_table::share of one page with unmap_notify{clear_byte, port}.
void* xengntshr_share_page_notify(xengntshr_handle* xgs, uint32_t domid, uint32_t* ref, int writable,
                                  uint32_t notify_offset, evtchn_port_t notify_port) {
  return share(xgs, domid, 1, ref, writable, emu::to_unmap_notify(notify_offset, notify_port));
}

// xengntshr_unshare → destroys the share starting at start_address (EINVAL if there is none or
// count is not its page count; Linux would munmap part of it). A ref the peer still maps stays
// granted until the peer unmaps, as with gntalloc.
int xengntshr_unshare(xengntshr_handle* xgs, void* start_address, uint32_t count) {
  if (xgs == nullptr || start_address == nullptr) return emu::fail_errno(EINVAL);
  std::unique_ptr<shared_pages> doomed;
  {
    std::lock_guard lock(xgs->mutex);
    doomed = emu::take_region(xgs->shares, start_address, count);
  }
  if (!doomed) return emu::fail_errno(EINVAL);
  doomed.reset();  // unshares (and fires the unmap-notify) outside the handle's lock
  return 0;
}

}  // extern "C"
