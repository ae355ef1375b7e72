#include "page_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <utility>

namespace xenwire::sim::detail {

namespace bip = boost::interprocess;

struct page_memory::named_object {
  explicit named_object(std::string n)
      : name(std::move(n)), object(bip::create_only, name.c_str(), bip::read_write) {}
  ~named_object() { bip::shared_memory_object::remove(name.c_str()); }
  std::string name;
  bip::shared_memory_object object;
};

page_view::page_view(page_view&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), length_(std::exchange(other.length_, 0)) {}

page_view& page_view::operator=(page_view&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, length_);
    base_ = std::exchange(other.base_, nullptr);
    length_ = std::exchange(other.length_, 0);
  }
  return *this;
}

page_view::~page_view() {
  if (base_ != nullptr) ::munmap(base_, length_);
}

page_memory::page_memory() = default;

page_memory::~page_memory() {
  if (fd_ >= 0 && !named_) ::close(fd_);  // a named object closes its own
}

result<void> page_memory::use_shared_memory(const std::string& name) {
  if (fd_ >= 0) return fail(errc::invalid_argument);
  try {
    bip::shared_memory_object::remove(name.c_str());  // a crashed run's
    auto named = std::make_unique<named_object>(name);
    fd_ = named->object.get_mapping_handle().handle;
    named_ = std::move(named);
  } catch (const bip::interprocess_exception& e) {
    return fail(std::error_code(e.get_native_error() != 0 ? e.get_native_error() : EIO, std::system_category()));
  }
  return {};
}

result<void> page_memory::ensure_file() {
  if (fd_ >= 0) return {};
  fd_ = ::memfd_create("xenwire-sim-pages", MFD_CLOEXEC);
  if (fd_ < 0) return fail(std::error_code(errno, std::system_category()));
  return {};
}

result<void> page_memory::grow(std::size_t at_least) {
  std::size_t next = capacity_ == 0 ? 256 : capacity_ * 2;
  while (next < at_least) next *= 2;
  if (::ftruncate(fd_, static_cast<off_t>(next * page_size)) != 0) {
    return fail(std::error_code(errno, std::system_category()));
  }
  refs_.resize(next, 0);
  // Hand out low pages first: push the new range in reverse so pop_back yields ascending indices.
  for (std::size_t p = next; p > capacity_; --p) free_.push_back(p - 1);
  capacity_ = next;
  return {};
}

result<std::vector<page_index>> page_memory::allocate(std::size_t count) {
  if (auto ok = ensure_file(); !ok) return fail(ok.error());
  if (free_.size() < count) {
    if (auto ok = grow(capacity_ + count - free_.size()); !ok) return fail(ok.error());
  }
  std::vector<page_index> pages;
  pages.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    page_index p = free_.back();
    free_.pop_back();
    refs_[p] = 1;
    pages.push_back(p);
  }
  in_use_ += count;
  return pages;
}

void page_memory::retain(page_index page) { ++refs_[page]; }

void page_memory::release(page_index page) {
  if (--refs_[page] != 0) return;
  // Zero it for its next owner and give the memory back to the kernel; if hole punching is not
  // available, overwrite it with zeros instead.
  const auto at = static_cast<off_t>(page * page_size);
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, static_cast<off_t>(page_size)) != 0) {
    static const std::byte zeros[page_size] = {};
    const ssize_t written = ::pwrite(fd_, zeros, page_size, at);
    static_cast<void>(written);
  }
  free_.push_back(page);
  --in_use_;
}

result<page_view> page_memory::map(std::span<const page_index> pages, bool writable) {
  return map_file_pages(fd_, pages, writable);
}

result<page_view> map_file_pages(int fd, std::span<const page_index> pages, bool writable) {
  if (pages.empty()) return fail(errc::invalid_argument);
  const std::size_t length = pages.size() * page_size;
  void* reserved = ::mmap(nullptr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) return fail(std::error_code(errno, std::system_category()));
  auto* base = static_cast<std::byte*>(reserved);
  page_view view(base, length);  // unmaps the whole range on failure below
  const int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  std::size_t i = 0;
  while (i < pages.size()) {
    std::size_t run = 1;  // merge pages adjacent in the file into one mapping
    while (i + run < pages.size() && pages[i + run] == pages[i] + run) ++run;
    void* at = ::mmap(base + i * page_size, run * page_size, prot, MAP_SHARED | MAP_FIXED, fd,
                      static_cast<off_t>(pages[i] * page_size));
    if (at == MAP_FAILED) return fail(std::error_code(errno, std::system_category()));
    i += run;
  }
  return view;
}

void page_memory::write_byte(page_index page, std::size_t offset, std::uint8_t value) {
  // Cannot fail for an in-range offset of a page we own; nothing sensible to do if it did.
  const ssize_t written = ::pwrite(fd_, &value, 1, static_cast<off_t>(page * page_size + offset));
  static_cast<void>(written);
}

}  // namespace xenwire::sim::detail
