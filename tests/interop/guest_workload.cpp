// A guest's Xenstore workload, run as a domain of the cross-process host over the guest's own ring
// (the page and port its toolstack built), printing one line per step. The same program against
// xenwire-xenstored and against Xen's C xenstored must print the same lines, except for the
// deviations docs/xenstore.md lists.
//   xenwire-host run --domid 5 -- interop_guest_workload
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "xenwire/sim/remote.hpp"
#include "xenwire/xenstore/client/client.hpp"
#include "xenwire/xenstore/client/connection.hpp"

namespace xs = xenwire::xenstore;
using namespace std::chrono_literals;

namespace {

template <class T>
std::string show(const xs::client_result<T>& r) {
  if (!r) return "error " + r.error().message();
  if constexpr (std::is_same_v<T, void>) {
    return "ok";
  } else if constexpr (std::is_same_v<T, bool>) {
    return *r ? "true" : "false";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "\"" + *r + "\"";
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    auto v = *r;
    std::sort(v.begin(), v.end());
    std::string out = "[";
    for (const auto& s : v) out += (out.size() > 1 ? "," : "") + s;
    return out + "]";
  } else {
    return "ok";
  }
}

void line(const std::string& step, const std::string& result) { std::printf("%s -> %s\n", step.c_str(), result.c_str()); }

std::string perms(xs::client& c, const std::string& path) {
  auto m = c.request(xs::msg_type::get_perms, path + std::string(1, '\0'));
  if (!m) return "error " + m.error().message();
  std::string p = m->payload;
  while (!p.empty() && p.back() == '\0') p.pop_back();
  std::replace(p.begin(), p.end(), '\0', ',');
  return p;
}

std::string next_event(xs::watch& w) {
  auto e = w.next(5s);
  if (!e) return "error " + e.error().message();
  return e->path;
}

}  // namespace

int main() {
  auto t = xenwire::sim::remote_transport::connect();
  if (!t) {
    std::fprintf(stderr, "guest_workload: cannot join the host: %s\n", t.error().message().c_str());
    return 1;
  }
  auto ep = (*t)->take_xenstore();
  if (!ep) {
    std::fprintf(stderr, "guest_workload: no Xenstore page for this domain: %s\n", ep.error().message().c_str());
    return 1;
  }
  auto conn = xs::connect_ring(std::move(ep->page), std::move(ep->events), ep->port);
  if (!conn) return 1;
  auto opened = xs::client::open(std::move(*conn), {.timeout = 10s});
  if (!opened) return 1;
  xs::client& c = *opened;

  line("read domid", show(c.read("domid")));
  line("write data/a 1", show(c.write("data/a", "1")));
  line("read data/a", show(c.read("data/a")));
  line("mkdir data/dir", show(c.mkdir("data/dir")));
  line("directory data", show(c.directory("data")));
  line("get_perms data/a", perms(c, "data/a"));
  line("write /local/domain/0/intruder", show(c.write("/local/domain/0/intruder", "x")));
  line("read /nonexistent", show(c.read("/nonexistent")));
  line("read /local/domain/0", show(c.read("/local/domain/0")));

  xs::watch_options wo;
  wo.token = "t1";
  auto w = c.add_watch("data", wo);
  line("watch data", show(xs::client_result<void>(w ? xs::client_result<void>{} : xs::client_fail(w.error()))));
  if (w) {
    line("  initial event", next_event(*w));
    static_cast<void>(c.write("data/b", "2"));
    line("  event after write data/b", next_event(*w));
  }

  auto tx = c.transaction_start();
  line("transaction_start", tx ? "ok" : show(xs::client_result<void>(xs::client_fail(tx.error()))));
  if (tx) {
    line("  write data/t 1 in tx", show(c.write("data/t", "1", *tx)));
    line("  read data/t in tx", show(c.read("data/t", *tx)));
    line("  read data/t outside", show(c.read("data/t")));
    line("  commit", show(c.transaction_end(*tx, true)));
    line("  read data/t after", show(c.read("data/t")));
  }
  auto tx2 = c.transaction_start();
  if (tx2) {
    line("conflict: read data/c in tx", show(c.read("data/c", *tx2)));
    line("  write data/c outside", show(c.write("data/c", "x")));
    line("  write data/c in tx", show(c.write("data/c", "y", *tx2)));
    line("  commit", show(c.transaction_end(*tx2, true)));
    line("  read data/c", show(c.read("data/c")));
  }
  if (w) {
    while (w->try_next()) {
    }
  }
  line("rm data", show(c.rm("data")));
  line("exists data", show(c.exists("data")));
  if (w) line("  event after rm", next_event(*w));
  line("reconnect", show(c.reconnect()));
  line("read domid after reconnect", show(c.read("domid")));
  return 0;
}
