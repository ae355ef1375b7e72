#include "xenwire/xen/bootstrap.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

namespace xenwire::xen {

namespace {

tl::unexpected<std::error_code> fail_open() {
  return fail(errno == ENOENT ? make_error_code(errc::not_supported) : std::error_code(errno, std::generic_category()));
}

class local_page final : public mapped_pages {
 public:
  explicit local_page(void* mem) : mem_(mem) {}
  ~local_page() override { ::munmap(mem_, page_size); }
  local_page(const local_page&) = delete;
  local_page& operator=(const local_page&) = delete;
  std::span<std::byte> bytes() noexcept override { return {static_cast<std::byte*>(mem_), page_size}; }
  access mode() const noexcept override { return access::read_write; }
  domid_t peer() const noexcept override { return 0; }

 private:
  void* mem_;
};

// open()/read()/mmap() rather than iostreams: these are the calls Xen's xenstored makes, so a
// preloaded /proc/xen (the simulated host's) sees the same ones.
result<std::string> read_small_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_open();
  char buf[32];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  const int err = errno;
  ::close(fd);
  if (n < 0) return fail(std::error_code(err, std::generic_category()));
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

result<local_xenbus> open_local_xenbus(const std::filesystem::path& proc_xen) {
  auto text = read_small_file(proc_xen / "xsd_port");
  if (!text) return fail(text.error());
  std::string_view digits(*text);
  while (!digits.empty() && (digits.back() == '\n' || digits.back() == ' ')) digits.remove_suffix(1);
  evtchn_port_t port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() || port == 0) {
    return fail(errc::invalid_argument);
  }
  const int fd = ::open((proc_xen / "xsd_kva").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return fail_open();
  void* mem = ::mmap(nullptr, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = errno;
  ::close(fd);
  if (mem == MAP_FAILED) return fail(std::error_code(err, std::generic_category()));
  return local_xenbus{std::make_unique<local_page>(mem), port};
}

}  // namespace xenwire::xen
