// libxengnttab's mapping half (xengnttab_*, Linux gntdev semantics) on the host's grant tables.
#include <cerrno>
#include <new>
#include <span>

#include "errno_map.hpp"
#include "gntdev_handle.hpp"

using namespace xenwire;

namespace {

// gntdev's MAP_GRANT_REF + mmap: all refs from one domain, one contiguous region, all or nothing.
void* map_refs(xengnttab_handle* h, std::uint32_t domid, std::span<const grant_ref_t> refs, int prot,
               unmap_notify notify) noexcept {
  if (h == nullptr || refs.empty() || domid >= domid_first_reserved) {
    emu::fail_errno(EINVAL);
    return nullptr;
  }
  try {
    std::lock_guard lock(h->mutex);
    if (refs.size() > h->max_grants - h->mapped_pages) {
      emu::fail_errno(ENOMEM);  // gntdev over its limit
      return nullptr;
    }
    const xenwire::access mode = (prot & PROT_WRITE) != 0 ? xenwire::access::read_write : xenwire::access::read_only;
    auto mapped = h->transport->grants().map(static_cast<domid_t>(domid), refs, mode, notify);
    if (!mapped) {
      emu::fail_errno(mapped.error());
      return nullptr;
    }
    void* addr = (*mapped)->bytes().data();
    h->maps.emplace(addr, std::move(*mapped));
    h->mapped_pages += refs.size();
    return addr;
  } catch (const std::bad_alloc&) {
    emu::fail_errno(ENOMEM);
    return nullptr;
  }
}

}  // namespace

extern "C" {

// xengnttab_open → a handle on this process's connection to the host (connects on first use).
xengnttab_handle* xengnttab_open(struct xentoollog_logger* /*logger: we never log*/, unsigned /*open_flags*/) {
  return emu::open_gntdev_handle();
}

// xengnttab_close → forgets the handle; its mappings stay until the process exits (as with gntdev).
int xengnttab_close(xengnttab_handle* xgt) {
  emu::close_gntdev_handle(xgt);
  return 0;
}

// xengnttab_fd → a private never-readable fd standing in for /dev/xen/gntdev.
int xengnttab_fd(xengnttab_handle* xgt) { return xgt->device_fd.get(); }

// xengnttab_map_grant_ref → grant_table::map of one ref (PROT_WRITE decides read-write).
void* xengnttab_map_grant_ref(xengnttab_handle* xgt, uint32_t domid, uint32_t ref, int prot) {
  const grant_ref_t refs[1] = {ref};
  return map_refs(xgt, domid, refs, prot, {});
}

// xengnttab_map_grant_refs → grant_table::map when every domid is the same (else ENOSYS: the seam
// maps one peer's refs contiguously).
void* xengnttab_map_grant_refs(xengnttab_handle* xgt, uint32_t count, uint32_t* domids, uint32_t* refs, int prot) {
  if (count == 0 || domids == nullptr || refs == nullptr) {
    emu::fail_errno(EINVAL);
    return nullptr;
  }
  for (uint32_t i = 1; i < count; ++i) {
    if (domids[i] != domids[0]) {
      emu::fail_errno(ENOSYS);
      return nullptr;
    }
  }
  return map_refs(xgt, domids[0], std::span<const grant_ref_t>(refs, count), prot, {});
}

// xengnttab_map_domain_grant_refs → grant_table::map of `count` refs from one domain.
void* xengnttab_map_domain_grant_refs(xengnttab_handle* xgt, uint32_t count, uint32_t domid, uint32_t* refs,
                                      int prot) {
  if (count == 0 || refs == nullptr) {
    emu::fail_errno(EINVAL);
    return nullptr;
  }
  return map_refs(xgt, domid, std::span<const grant_ref_t>(refs, count), prot, {});
}

// xengnttab_map_grant_ref_notify → grant_table::map with unmap_notify{clear_byte, port}.
void* xengnttab_map_grant_ref_notify(xengnttab_handle* xgt, uint32_t domid, uint32_t ref, int prot,
                                     uint32_t notify_offset, evtchn_port_t notify_port) {
  const grant_ref_t refs[1] = {ref};
  return map_refs(xgt, domid, refs, prot, emu::to_unmap_notify(notify_offset, notify_port));
}

// xengnttab_unmap → destroys the mapping starting at start_address (EINVAL if there is none or
// count is not its page count, as gntdev's GET_OFFSET_FOR_VADDR check).
int xengnttab_unmap(xengnttab_handle* xgt, void* start_address, uint32_t count) {
  if (xgt == nullptr || start_address == nullptr) return emu::fail_errno(EINVAL);
  std::unique_ptr<mapped_pages> doomed;
  {
    std::lock_guard lock(xgt->mutex);
    doomed = emu::take_region(xgt->maps, start_address, count);
    if (doomed) xgt->mapped_pages -= count;
  }
  if (!doomed) return emu::fail_errno(EINVAL);
  doomed.reset();  // unmaps (and fires the unmap-notify) outside the handle's lock
  return 0;
}

// xengnttab_set_max_grants → this handle's limit on pages mapped at once (ENOMEM beyond it).
int xengnttab_set_max_grants(xengnttab_handle* xgt, uint32_t nr_grants) {
  if (xgt == nullptr) return emu::fail_errno(EINVAL);
  std::lock_guard lock(xgt->mutex);
  xgt->max_grants = nr_grants;
  return 0;
}

// xengnttab_grant_copy → ENOSYS (GNTTABOP_copy is not in the seam).
int xengnttab_grant_copy(xengnttab_handle* /*xgt*/, uint32_t /*count*/, xengnttab_grant_copy_segment_t* /*segs*/) {
  return emu::fail_errno(ENOSYS);
}

// xengnttab_dmabuf_* → ENOSYS (no dma-buf in a simulated host).
int xengnttab_dmabuf_exp_from_refs(xengnttab_handle* /*xgt*/, uint32_t /*domid*/, uint32_t /*flags*/,
                                   uint32_t /*count*/, const uint32_t* /*refs*/, uint32_t* /*fd*/) {
  return emu::fail_errno(ENOSYS);
}
int xengnttab_dmabuf_exp_wait_released(xengnttab_handle* /*xgt*/, uint32_t /*fd*/, uint32_t /*wait_to_ms*/) {
  return emu::fail_errno(ENOSYS);
}
int xengnttab_dmabuf_imp_to_refs(xengnttab_handle* /*xgt*/, uint32_t /*domid*/, uint32_t /*fd*/,
                                 uint32_t /*count*/, uint32_t* /*refs*/) {
  return emu::fail_errno(ENOSYS);
}
int xengnttab_dmabuf_imp_release(xengnttab_handle* /*xgt*/, uint32_t /*fd*/) { return emu::fail_errno(ENOSYS); }

}  // extern "C"
