// Backing store for every simulated guest page: one memfd per host, carved into 4 KiB pages.
//
// Each page carries a reference count: one for the grant entry that owns it and one per live
// address-space view (the sharer's mapping, each mapper's mapping). A page is returned to the free
// list, zeroed by punching a hole, only when nothing refers to it any more, so a stale view held
// by a dead domain's objects can never alias a page handed out again.
//
// Not thread safe: the host calls it under its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "xenwire/ring/transport.hpp"

namespace xenwire::sim::detail {

using page_index = std::uint64_t;

// A contiguous view of some pages in our address space; unmapped on destruction.
class page_view {
 public:
  page_view() = default;
  page_view(std::byte* base, std::size_t length) noexcept : base_(base), length_(length) {}
  page_view(page_view&& other) noexcept;
  page_view& operator=(page_view&& other) noexcept;
  page_view(const page_view&) = delete;
  page_view& operator=(const page_view&) = delete;
  ~page_view();

  std::span<std::byte> bytes() const noexcept { return {base_, length_}; }

 private:
  std::byte* base_ = nullptr;
  std::size_t length_ = 0;
};

// Maps `pages` of the backing file `fd` contiguously (reserve PROT_NONE, then MAP_FIXED each run of
// adjacent pages): how the host and every process of a cross-process host see granted pages.
result<page_view> map_file_pages(int fd, std::span<const page_index> pages, bool writable);

class page_memory {
 public:
  page_memory();
  page_memory(const page_memory&) = delete;
  page_memory& operator=(const page_memory&) = delete;
  ~page_memory();

  // `count` zeroed pages, each with one reference held by the caller.
  result<std::vector<page_index>> allocate(std::size_t count);
  void retain(page_index page);
  void release(page_index page);

  // Maps `pages` contiguously (reserve PROT_NONE, then MAP_FIXED each run). Each page is retained
  // by the caller separately (the view does not count itself).
  result<page_view> map(std::span<const page_index> pages, bool writable);

  // Writes one byte straight into the backing file (used for unmap-notify).
  void write_byte(page_index page, std::size_t offset, std::uint8_t value);

  std::size_t pages_in_use() const noexcept { return in_use_; }

  // Backs the pages with a named POSIX shared-memory object (Boost.Interprocess; /dev/shm/<name>)
  // instead of an anonymous memfd, so that other processes can open it. Before the first allocate();
  // an object left by a crashed run under the same name is replaced. Removed on destruction.
  result<void> use_shared_memory(const std::string& name);
  int fd() const noexcept { return fd_; }

 private:
  struct named_object;
  result<void> ensure_file();
  result<void> grow(std::size_t at_least);

  int fd_ = -1;
  std::size_t capacity_ = 0;           // pages the file is sized for
  std::vector<std::uint32_t> refs_;    // per page
  std::vector<page_index> free_;       // LIFO of released pages
  std::size_t in_use_ = 0;
  std::unique_ptr<named_object> named_;
};

}  // namespace xenwire::sim::detail
