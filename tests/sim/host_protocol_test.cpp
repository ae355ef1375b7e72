// The host's socket protocol against a hostile process: requests out of order, truncated, with
// unknown ops, bad fields, foreign objects or file descriptors get an error or a closed
// connection — never a crash — and the host keeps serving everyone else, with nothing leaked.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "host_fixture.hpp"
#include "remote_wire.hpp"

namespace xenwire::sim {
namespace {

namespace w = detail::wire;

class raw_client {
 public:
  explicit raw_client(const std::filesystem::path& socket) {
    fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  }
  ~raw_client() { ::close(fd_); }
  int fd() const { return fd_; }

  void send_bytes(std::span<const std::byte> bytes, std::span<const int> fds = {}) {
    ASSERT_TRUE(w::send_message(fd_, bytes, {}, fds));
  }
  void send(w::request rq, std::span<const std::uint32_t> refs = {}) {
    rq.count = static_cast<std::uint32_t>(refs.size());
    ASSERT_TRUE(w::send_message(fd_, std::as_bytes(std::span(&rq, 1)), std::as_bytes(refs), {}));
  }
  // The host's answer: its error code, or nullopt when the host closed the connection instead.
  std::optional<std::int32_t> answer() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) {
      ADD_FAILURE() << "no answer within 5 s";
      return std::nullopt;
    }
    auto m = w::receive_message(fd_, inbox_);
    if (!m) return std::nullopt;
    w::reply r;
    EXPECT_GE(m->bytes.size(), sizeof r);
    std::memcpy(&r, m->bytes.data(), sizeof r);
    return r.error;
  }
  bool closed_by_host() { return !answer().has_value(); }
  void hello(domid_t domid, bool owner) {
    w::request rq;
    rq.op = static_cast<std::uint32_t>(w::op::hello);
    rq.a = domid;
    rq.b = owner ? 0 : 1;
    rq.c = w::magic;
    send(rq);
    ASSERT_EQ(answer(), 0);
  }

 private:
  int fd_ = -1;
  std::vector<std::byte> inbox_;
};

w::request op(w::op o, std::uint64_t object = 0, std::uint64_t a = 0, std::uint64_t b = 0) {
  w::request rq;
  rq.op = static_cast<std::uint32_t>(o);
  rq.object = object;
  rq.a = a;
  rq.b = b;
  return rq;
}

std::int32_t code(errc e) { return static_cast<std::int32_t>(e); }

class host_protocol : public ::testing::Test {
 protected:
  // After each case: the host still serves a new process, and holds nothing of the culprit's.
  void TearDown() override {
    auto t = served.join(9, membership::owner);
    EXPECT_TRUE(t->grants().share(0, 1, access::read_write));
    t.reset();
    for (int i = 0; i < 500 && !served.host().check_clean().ok(); ++i) ::usleep(10'000);
    EXPECT_TRUE(served.host().check_clean());
  }
  test_support::served_host served;
};

TEST_F(host_protocol, ARequestBeforeHelloClosesTheConnection) {
  raw_client c(served.socket());
  c.send(op(w::op::share, 0, 0, 1));
  EXPECT_TRUE(c.closed_by_host());
}

TEST_F(host_protocol, AShortMessageClosesTheConnection) {
  raw_client c(served.socket());
  const std::byte junk[10] = {};
  c.send_bytes(junk);
  EXPECT_TRUE(c.closed_by_host());
}

TEST_F(host_protocol, AHelloWithTheWrongMagicIsRefused) {
  raw_client c(served.socket());
  w::request rq = op(w::op::hello, 0, 5, 0);
  rq.c = w::magic + 1;
  c.send(rq);
  EXPECT_EQ(c.answer(), code(errc::protocol_error));
  EXPECT_TRUE(c.closed_by_host());
}

TEST_F(host_protocol, AHelloForAReservedDomidIsRefused) {
  raw_client c(served.socket());
  w::request rq = op(w::op::hello, 0, domid_first_reserved, 0);
  rq.c = w::magic;
  c.send(rq);
  EXPECT_EQ(c.answer(), code(errc::protocol_error));
}

TEST_F(host_protocol, AnUnknownOpClosesTheConnectionAndKillsTheOwnersDomain) {
  raw_client c(served.socket());
  c.hello(7, true);
  EXPECT_EQ(served.host().state(7).value(), domain_state::alive);
  c.send(op(static_cast<w::op>(999)));
  EXPECT_TRUE(c.closed_by_host());
  EXPECT_NE(served.host().state(7).value(), domain_state::alive);
}

TEST_F(host_protocol, ATailThatDisagreesWithItsCountClosesTheConnection) {
  raw_client c(served.socket());
  c.hello(7, true);
  w::request rq = op(w::op::map, 0, 0);
  rq.count = 3;  // but one ref follows
  const std::uint32_t ref = 8;
  std::vector<std::byte> bytes(sizeof rq + sizeof ref);
  std::memcpy(bytes.data(), &rq, sizeof rq);
  std::memcpy(bytes.data() + sizeof rq, &ref, sizeof ref);
  c.send_bytes(bytes);
  EXPECT_TRUE(c.closed_by_host());
}

TEST_F(host_protocol, FileDescriptorsSentToTheHostCloseTheConnection) {
  raw_client c(served.socket());
  c.hello(7, true);
  w::request rq = op(w::op::open_handle);
  const int fd = ::dup(0);
  c.send_bytes(std::as_bytes(std::span(&rq, 1)), std::span<const int>(&fd, 1));
  ::close(fd);
  EXPECT_TRUE(c.closed_by_host());
}

TEST_F(host_protocol, BadFieldsAndForeignObjectsGetErrorsAndTheConnectionServesOn) {
  raw_client c(served.socket());
  c.hello(7, true);
  c.send(op(w::op::share, 0, 0, 0));  // zero pages
  EXPECT_EQ(c.answer(), code(errc::invalid_argument));
  c.send(op(w::op::share, 0, 0, w::max_refs + 1));  // too many
  EXPECT_EQ(c.answer(), code(errc::invalid_argument));
  c.send(op(w::op::share, 0, 0x10000, 1));  // a domid that does not fit
  EXPECT_EQ(c.answer(), code(errc::invalid_argument));
  c.send(op(w::op::map, 0, 0));  // no refs
  EXPECT_EQ(c.answer(), code(errc::invalid_argument));
  c.send(op(w::op::notify, 12345, 1));  // no such handle
  EXPECT_EQ(c.answer(), code(errc::invalid_argument));
  c.send(op(w::op::unmap, 12345));  // no such mapping
  EXPECT_EQ(c.answer(), code(errc::invalid_argument));
  c.send(op(w::op::create_domain, 0, 8));  // dom0 only
  EXPECT_EQ(c.answer(), code(errc::permission_denied));
  c.send(op(w::op::shutdown));  // dom0 only
  EXPECT_EQ(c.answer(), code(errc::permission_denied));
  // A share's object is not a handle.
  w::request share = op(w::op::share, 0, 0, 1);
  share.c = 1;
  c.send(share);
  EXPECT_EQ(c.answer(), 0);
  c.send(op(w::op::notify, 1, 1));
  EXPECT_EQ(c.answer(), code(errc::invalid_argument));
  c.send(op(w::op::close_handle, 1));
  EXPECT_EQ(c.answer(), code(errc::invalid_argument));
  c.send(op(w::op::unshare, 1));
  EXPECT_EQ(c.answer(), 0);
}

// The host never blocks on a process's socket (its sends are non-blocking; one that would block
// drops the process): a process that floods it and reads nothing stalls no one else.
TEST_F(host_protocol, AProcessThatStopsReadingRepliesDoesNotStallTheHost) {
  raw_client c(served.socket());
  c.hello(7, true);
  const w::request rq = op(w::op::share, 0, 0, 0);  // answered with an error: cheap
  int sent = 0;
  for (; sent < 20000; ++sent) {
    if (::send(c.fd(), &rq, sizeof rq, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) break;
  }
  EXPECT_GT(sent, 0);
  // Meanwhile another process is served as usual.
  auto other = served.join(8, membership::owner);
  EXPECT_TRUE(other->grants().share(0, 1, access::read_write));
  other.reset();
  // The flood was answered, never with anything but the error, or the host dropped the flooder
  // (its unread requests then reset the stream) and, as for any owner that goes, its domain.
  int answered = 0;
  while (answered < sent) {
    auto a = c.answer();
    if (!a) break;
    EXPECT_EQ(*a, code(errc::invalid_argument));
    ++answered;
  }
  if (answered < sent) {
    EXPECT_NE(served.host().state(7).value(), domain_state::alive);
  }
}

}  // namespace
}  // namespace xenwire::sim
