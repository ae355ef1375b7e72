#include "gntdev_handle.hpp"

#include <sys/eventfd.h>

#include <cerrno>
#include <new>
#include <vector>

#include "errno_map.hpp"
#include "process_transport.hpp"

namespace xenwire::emu {

namespace {

// Mappings and shares left behind by closed handles. Never destroyed before exit (leaked on
// purpose): the host releases them when the process's connection closes.
struct orphans {
  std::mutex mutex;
  std::vector<std::unique_ptr<mapped_pages>> maps;
  std::vector<std::unique_ptr<shared_pages>> shares;
};
orphans& orphanage() {
  static auto* o = new orphans;
  return *o;
}

}  // namespace

xengntdev_handle* open_gntdev_handle() noexcept {
  try {
    auto t = process_transport();
    if (!t) {
      fail_errno(t.error());
      return nullptr;
    }
    unique_fd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) return nullptr;  // errno from eventfd
    auto* h = new xengntdev_handle;
    h->transport = std::move(*t);
    h->device_fd = std::move(fd);
    return h;
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return nullptr;
  }
}

void close_gntdev_handle(xengntdev_handle* h) noexcept {
  if (h == nullptr) return;
  {
    std::lock_guard lock(h->mutex);
    auto& o = orphanage();
    std::lock_guard olock(o.mutex);
    try {
      for (auto& [addr, m] : h->maps) o.maps.push_back(std::move(m));
      for (auto& [addr, s] : h->shares) o.shares.push_back(std::move(s));
    } catch (const std::bad_alloc&) {
      // Could not keep them: they are released now instead (h's maps destroy them below).
    }
  }
  delete h;
}

unmap_notify to_unmap_notify(std::uint32_t notify_offset, evtchn_port_t notify_port) noexcept {
  unmap_notify n;
  if (notify_offset < page_size) n.clear_byte = notify_offset;
  if (notify_port != static_cast<evtchn_port_t>(-1)) n.port = notify_port;
  return n;
}

}  // namespace xenwire::emu
