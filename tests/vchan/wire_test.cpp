// What a libxenvchan peer sees: the control page read through Xen's own struct vchan_interface
// (/usr/include/xen/io/libxenvchan.h when installed), ring sizes chosen as libxenvchan_server_init
// chooses them, and the rendezvous keys' paths, text and permissions.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "vchan_test_support.hpp"
#include "xenwire/ring/vchan_placement.hpp"

#if __has_include(<xen/io/libxenvchan.h>)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"  // grants[0]
#include <xen/io/libxenvchan.h>
#pragma GCC diagnostic pop
#define XENWIRE_HAVE_LIBXENVCHAN_H 1
#endif

namespace xenwire::vchan {
namespace {

using namespace testing;

// tools/libs/vchan/init.c, libxenvchan_server_init, transcribed as the oracle.
std::pair<unsigned, unsigned> libxenvchan_orders(std::size_t left_min, std::size_t right_min) {
  auto min_order = [](std::size_t siz) {
    unsigned rv = 12;
    while (siz > (std::size_t{1} << rv)) rv++;
    return rv;
  };
  unsigned read = min_order(left_min), write = min_order(right_min);
  if (left_min <= 1024 && right_min <= 2048) {
    read = 10, write = 11;
  } else if (left_min <= 2048 && right_min <= 1024) {
    read = 11, write = 10;
  } else if (left_min <= 2048) {
    read = 11;
  } else if (right_min <= 2048) {
    write = 11;
  }
  return {read, write};
}

void expect_sizes_like_libxenvchan(std::size_t left_min, std::size_t right_min) {
  two_domains d;
  auto srv = endpoint::serve(*d.srv, d.rdv, d.server_cfg(left_min, right_min));
  ASSERT_TRUE(srv) << left_min << "," << right_min << ": " << srv.error().message();
  const auto [l, r] = libxenvchan_orders(left_min, right_min);
  EXPECT_EQ(srv->read_ring_size(), std::size_t{1} << l) << left_min << "," << right_min;
  EXPECT_EQ(srv->write_ring_size(), std::size_t{1} << r) << left_min << "," << right_min;
  auto cli = d.connect();
  EXPECT_EQ(cli.write_ring_size(), std::size_t{1} << l);
  EXPECT_EQ(cli.read_ring_size(), std::size_t{1} << r);
}

TEST(VchanWire, RingSizesAsLibxenvchanAtBoundaries) {
  const std::size_t edges[] = {0, 1, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, 65536, 65537, 1u << 20};
  for (auto l : edges) {
    for (auto r : edges) expect_sizes_like_libxenvchan(l, r);
  }
}

RC_GTEST_PROP(VchanWire, RingSizesAsLibxenvchan, ()) {
  const auto l = *rc::gen::inRange<std::size_t>(0, (1u << 20) + 1);
  const auto r = *rc::gen::inRange<std::size_t>(0, (1u << 20) + 1);
  two_domains d;
  auto srv = endpoint::serve(*d.srv, d.rdv, d.server_cfg(l, r)).value();
  const auto [lo, ro] = libxenvchan_orders(l, r);
  RC_ASSERT(srv.read_ring_size() == (std::size_t{1} << lo));
  RC_ASSERT(srv.write_ring_size() == (std::size_t{1} << ro));
}

TEST(VchanWire, OversizedRequestIsRefusedLikeLibxenvchan) {
  two_domains d;
  EXPECT_EQ(endpoint::serve(*d.srv, d.rdv, d.server_cfg((1u << 20) + 1, 1024)).error(), errc::invalid_argument);
  EXPECT_EQ(endpoint::serve(*d.srv, d.rdv, d.server_cfg(1024, (1u << 20) + 1)).error(), errc::invalid_argument);
  EXPECT_EQ(d.rdv.size(), 0u);
  EXPECT_TRUE(d.host.check_clean(server_dom));
}

#ifdef XENWIRE_HAVE_LIBXENVCHAN_H
// The control page as libxenvchan's struct sees it, after the server's setup and after the client's.
TEST(VchanWire, ControlPageMatchesXenHeader) {
  for (auto [lmin, rmin] : {std::pair<std::size_t, std::size_t>{1024, 2048}, {2048, 1024}, {8192, 2048}, {1024, 65536},
                            {1u << 20, 4096}}) {
    two_domains d;
    auto srv = d.serve(lmin, rmin);
    auto ctl = d.map_control();
    const auto* vi = reinterpret_cast<const vchan_interface*>(ctl->bytes().data());
    const auto [lo, ro] = libxenvchan_orders(lmin, rmin);
    EXPECT_EQ(vi->left_order, lo);
    EXPECT_EQ(vi->right_order, ro);
    EXPECT_EQ(vi->cli_live, 2);
    EXPECT_EQ(vi->srv_live, 1);
    EXPECT_EQ(vi->cli_notify, VCHAN_NOTIFY_WRITE);
    EXPECT_EQ(vi->srv_notify, 0);
    EXPECT_EQ(vi->left.cons, 0u);
    EXPECT_EQ(vi->left.prod, 0u);
    EXPECT_EQ(vi->right.cons, 0u);
    EXPECT_EQ(vi->right.prod, 0u);
    // Grants: left's pages then right's, each mappable by the client and distinct.
    const std::size_t left_pages = lo >= 12 ? std::size_t{1} << (lo - 12) : 0;
    const std::size_t right_pages = ro >= 12 ? std::size_t{1} << (ro - 12) : 0;
    std::vector<grant_ref_t> refs(vi->grants, vi->grants + left_pages + right_pages);
    if (left_pages) {
      EXPECT_TRUE(d.cli->grants().map(server_dom, std::span(refs).first(left_pages), access::read_write));
    }
    if (right_pages) {
      EXPECT_TRUE(d.cli->grants().map(server_dom, std::span(refs).last(right_pages), access::read_only));
    }
    // In-page rings sit where the header says.
    auto cli = d.connect();
    EXPECT_EQ(vi->cli_live, 1);
    EXPECT_EQ(vi->srv_notify, VCHAN_NOTIFY_WRITE);
    const auto data = pattern(100);
    ASSERT_TRUE(cli.send(data));  // the client writes the left ring
    EXPECT_EQ(vi->left.prod, 100u);
    if (lo == 10 || lo == 11) {
      const auto* ring = ctl->bytes().data() + (lo == 10 ? 1024 : 2048);
      EXPECT_TRUE(std::equal(data.begin(), data.end(), ring));
    }
    std::vector<std::byte> got(100);
    ASSERT_TRUE(srv.recv(got));
    EXPECT_EQ(vi->left.cons, 100u);
    cli.close();
    EXPECT_EQ(vi->cli_live, 0);
    srv.close();
  }
}

TEST(VchanWire, LiveBytesAfterCloseMatchXenHeader) {
  two_domains d;
  auto srv = d.serve();
  auto ctl = d.map_control();
  const auto* vi = reinterpret_cast<const vchan_interface*>(ctl->bytes().data());
  auto cli = d.connect();
  srv.close();
  EXPECT_EQ(vi->srv_live, 0);  // srv_live cleared (by close and by the unmap-notify)
  EXPECT_EQ(vi->cli_live, 1);
}
#endif

TEST(VchanWire, DefaultPathIsLibxenvchanConvention) {
  EXPECT_EQ(default_path(0, 5, "vchan-port"), "/local/domain/0/data/vchan/5/vchan-port");
  EXPECT_EQ(default_path(12, 65535, "1"), "/local/domain/12/data/vchan/65535/1");
}

TEST(VchanWire, KeysAreDecimalWithLibxenvchanPermissions) {
  two_domains d;
  auto srv = d.serve();
  auto e = d.rdv.lookup(d.path()).value();
  EXPECT_EQ(e.ring_ref, std::to_string(srv.published().ring_ref));
  EXPECT_EQ(e.event_channel, std::to_string(srv.published().port));
  EXPECT_EQ(e.owner, server_dom);
  EXPECT_EQ(e.reader, client_dom);
  EXPECT_EQ(e.publishes, 1u);
  srv.close();
  EXPECT_FALSE(d.rdv.lookup(d.path()).has_value());
}

TEST(VchanWire, KeyParsingIsStrict) {
  EXPECT_EQ(parse_key("0"), 0u);
  EXPECT_EQ(parse_key("4294967295"), 4294967295u);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "01", "4294967296", "12a", "0x10", "99999999999"}) {
    EXPECT_FALSE(parse_key(bad).has_value()) << bad;
  }
  EXPECT_EQ(parse_keys("0", "5").error(), errc::protocol_error);  // libxenvchan refuses ref 0 / port 0
  EXPECT_EQ(parse_keys("8", "0").error(), errc::protocol_error);
  EXPECT_EQ(parse_keys("8", "3").value(), (keys{8, 3}));
}

TEST(VchanWire, HostileKeyTextFailsTheClient) {
  two_domains d;
  d.rdv.set_raw(d.path(), "8; rm -rf", "1");
  auto cli = endpoint::connect(*d.cli, d.rdv, d.client_cfg());
  ASSERT_FALSE(cli);
  EXPECT_EQ(cli.error(), errc::protocol_error);
}

}  // namespace
}  // namespace xenwire::vchan
