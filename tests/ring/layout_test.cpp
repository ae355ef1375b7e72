// Pins our layouts against Xen's own public headers (libxen-dev) where they are installed.
#include <gtest/gtest.h>

#include <cstddef>

#include "xenwire/ring/vchan_layout.hpp"
#include "xenwire/ring/xenstore_layout.hpp"

#ifdef XENWIRE_HAVE_XEN_HEADERS
#include <xen/io/libxenvchan.h>
#include <xen/io/xs_wire.h>
#endif

namespace xenwire {
namespace {

#ifdef XENWIRE_HAVE_XEN_HEADERS
TEST(Layout, XenstorePageMatchesXsWireH) {
  EXPECT_EQ(xenstore::ring_size, XENSTORE_RING_SIZE);
  EXPECT_EQ(xenstore::payload_max, XENSTORE_PAYLOAD_MAX);
  EXPECT_EQ(xenstore::abs_path_max, XENSTORE_ABS_PATH_MAX);
  EXPECT_EQ(xenstore::rel_path_max, XENSTORE_REL_PATH_MAX);
  EXPECT_EQ(xenstore::feature::reconnection, XENSTORE_SERVER_FEATURE_RECONNECTION);
  EXPECT_EQ(xenstore::feature::error, XENSTORE_SERVER_FEATURE_ERROR);
  EXPECT_EQ(offsetof(xenstore::domain_interface, req_cons), offsetof(xenstore_domain_interface, req_cons));
  EXPECT_EQ(offsetof(xenstore::domain_interface, req_prod), offsetof(xenstore_domain_interface, req_prod));
  EXPECT_EQ(offsetof(xenstore::domain_interface, rsp_cons), offsetof(xenstore_domain_interface, rsp_cons));
  EXPECT_EQ(offsetof(xenstore::domain_interface, rsp_prod), offsetof(xenstore_domain_interface, rsp_prod));
  EXPECT_EQ(offsetof(xenstore::domain_interface, server_features),
            offsetof(xenstore_domain_interface, server_features));
  EXPECT_EQ(offsetof(xenstore::domain_interface, connection), offsetof(xenstore_domain_interface, connection));
  EXPECT_EQ(offsetof(xenstore::domain_interface, error), offsetof(xenstore_domain_interface, error));
  EXPECT_EQ(static_cast<unsigned>(xenstore::ring_error::proto), XENSTORE_ERROR_PROTO);
  EXPECT_EQ(static_cast<unsigned>(xenstore::ring_error::ringidx), XENSTORE_ERROR_RINGIDX);
  EXPECT_EQ(static_cast<unsigned>(xenstore::connection_state::reconnect), XENSTORE_RECONNECT);
}

TEST(Layout, VchanControlPageMatchesLibxenvchanH) {
  EXPECT_EQ(sizeof(vchan::interface), sizeof(vchan_interface));
  EXPECT_EQ(offsetof(vchan::interface, left), offsetof(vchan_interface, left));
  EXPECT_EQ(offsetof(vchan::interface, right), offsetof(vchan_interface, right));
  EXPECT_EQ(offsetof(vchan::interface, left_order), offsetof(vchan_interface, left_order));
  EXPECT_EQ(offsetof(vchan::interface, right_order), offsetof(vchan_interface, right_order));
  EXPECT_EQ(offsetof(vchan::interface, cli_live), offsetof(vchan_interface, cli_live));
  EXPECT_EQ(offsetof(vchan::interface, srv_live), offsetof(vchan_interface, srv_live));
  EXPECT_EQ(offsetof(vchan::interface, cli_notify), offsetof(vchan_interface, cli_notify));
  EXPECT_EQ(offsetof(vchan::interface, srv_notify), offsetof(vchan_interface, srv_notify));
  EXPECT_EQ(vchan::grants_offset, offsetof(vchan_interface, grants));
  EXPECT_EQ(vchan::notify_write, VCHAN_NOTIFY_WRITE);
  EXPECT_EQ(vchan::notify_read, VCHAN_NOTIFY_READ);
}
#endif

TEST(Layout, VchanRingSizes) {
  EXPECT_EQ(vchan::ring_bytes(10), 1024u);
  EXPECT_EQ(vchan::ring_pages(10), 0u);
  EXPECT_EQ(vchan::ring_pages(11), 0u);
  EXPECT_EQ(vchan::ring_pages(12), 1u);
  EXPECT_EQ(vchan::ring_pages(16), 16u);
  EXPECT_EQ(vchan::ring_pages(20), 256u);
}

}  // namespace
}  // namespace xenwire
