// Debian's libxenvchan between two guest domains of a cross-process simulated host, on the libxen
// emulation: `xenwire-host start` (dom0's xenwire-xenstored also serving one unprivileged socket
// per guest, where the guests' libxenstore finds it through XENSTORED_PATH), `build` of dom1 and
// dom2, then vchan_peer as server in dom1 and client in dom2 moving megabytes each way byte-exact,
// and `stop` reporting nothing leaked.
#include <gtest/gtest.h>

#include <string>

#include "emu_host_support.hpp"

namespace {

using namespace xenwire::emu_test;

class VchanOnEmulation : public EmuHost {
 protected:
  void transfer(const std::string& bytes, const std::string& ring, const std::string& mode) {
    const std::string path = "/local/domain/1/data/vchan/2/" + ring;
    const pid_t server = start_in_domain(1, XENWIRE_VCHAN_PEER_BIN, {"server", "2", path, bytes, ring, mode});
    ASSERT_GT(server, 0);
    const pid_t client = start_in_domain(2, XENWIRE_VCHAN_PEER_BIN, {"client", "1", path, bytes, ring, mode});
    ASSERT_GT(client, 0);
    EXPECT_EQ(wait_for(client, 150s), 0) << "client";
    EXPECT_EQ(wait_for(server, 150s), 0) << "server";
  }
};

}  // namespace

// 4 MiB each way through 16 KiB rings: separately granted ring pages (share_pages,
// map_domain_grant_refs), blocking reads and writes (xenevtchn_pending blocks).
TEST_F(VchanOnEmulation, FourMegabytesEachWayBlocking) { transfer("4194304", "16384", "blocking"); }

// In-page rings (order 10/11: only the control page is granted) and poll() on the evtchn fd.
TEST_F(VchanOnEmulation, OneMegabyteEachWayInPageRingsPolling) { transfer("1048576", "1024", "poll"); }
