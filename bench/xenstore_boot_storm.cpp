// Boot storm (issue 15): D domains created and then destroyed the way xl does it, through Xen's own
// libxenstore on the daemon's socket, by P toolstack processes at once. For every daemon it reports
// the wall time, the daemon's CPU (utime+stime of /proc/PID/stat), the requests the clients issued,
// the daemon's wake-ups (voluntary context switches of its threads) and optionally syscalls (perf's
// raw_syscalls:sys_enter) per request, p50/p99 of the per-domain create and destroy latencies, and
// the ratios of xenwire-xenstored's wall and CPU to every other daemon's.
//
// Per domain N (libxl's sequence, tools/libs/light; xl's own connection plays the toolstack, two more
// dom0 connections play netback and the guest's netfront, since guests need no ring here):
//   create   a transaction making /local/domain/N, /vm/UUID and /libxl/N (27 nodes, with libxl's
//            permissions for domain N: libxl__domain_make); a transaction writing the build's nodes
//            (memory, cpu, store and console: libxl__build_post); a transaction adding vif 0's
//            frontend and backend directories with their permissions (libxl__device_generic_add);
//            then the xenbus state handshake, each side waiting for its watch event on the other's
//            state node: backend InitWait(2), toolstack sees it; frontend writes its ring details
//            and Initialised(3), backend reads them and answers Connected(4), frontend Connected(4),
//            backend sees it. Create latency: first request to the backend seeing Connected.
//   destroy  once every domain is up, a transaction removing the backend's vif tree, /local/domain/N,
//            /vm/UUID and /libxl/N (libxl__destroy_domid's xenstore part).
// Not modelled: XS_INTRODUCE/RELEASE (dom0 socket clients need neither), hotplug scripts, console.
//
// Daemons, all alive for the whole run, alternated within each round, median of the rounds:
//   xenwire  xenwire-xenstored from this build (-N --socket PATH --log-level warn --no-rate-limit)
//   --daemon NAME=SPEC  SPEC an existing socket, or a program started as dom0's xenstored of a host
//            of its own on the libxen emulation (as bench_xenstore_saturation: C xenstored 4.17, 4.22)
//
// Usage: bench_xenstore_boot_storm [--domains 1000] [--parallel 4] [--rounds 3] [--pin=one|none]
//          [--syscalls] [--daemon NAME=SPEC]... [--no-xenwire] [--xenwire-epoll] [--host-bin PATH]
// --pin=one (the default) puts the bench, its toolstacks and the daemons it starts on one CPU (the
// primary figure on these 2-vCPU VMs); --syscalls adds one round per daemon under perf (its
// tracepoint costs CPU, so that round counts syscalls only). Progress to stderr, results to stdout.
extern "C" {
#include <xenstore.h>  // Xen 4.17 headers declare no C linkage
}

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "saturation_daemon.hpp"
#include "xenwire/sim/remote.hpp"

namespace {

using namespace xenwire::bench;
using clock_type = std::chrono::steady_clock;

// ---- one libxenstore connection, counting the requests it sends ---------------------------------

[[noreturn]] void worker_fail(const std::string& what) {
  std::fprintf(stderr, "%s: worker %d: %s: %s\n", program_invocation_short_name, ::getpid(), what.c_str(),
               std::strerror(errno));
  ::_exit(3);
}

class connection {
 public:
  connection(std::uint64_t& requests, std::uint64_t& retries) : requests_(requests), retries_(retries) {
    h_ = xs_open(XS_OPEN_SOCKETONLY);
    if (h_ == nullptr) worker_fail("xs_open");
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { xs_close(h_); }

  void write(xs_transaction_t t, const std::string& path, const std::string& value) {
    ++requests_;
    if (!xs_write(h_, t, path.c_str(), value.data(), static_cast<unsigned>(value.size()))) worker_fail("write " + path);
  }
  // libxl__xs_mknod: a directory and its permissions, two requests.
  void mknod(xs_transaction_t t, const std::string& path, std::vector<xs_permissions> perms) {
    requests_ += 2;
    if (!xs_mkdir(h_, t, path.c_str())) worker_fail("mkdir " + path);
    if (!xs_set_permissions(h_, t, path.c_str(), perms.data(), static_cast<unsigned>(perms.size())))
      worker_fail("set_permissions " + path);
  }
  // As libxl: removing what is not there is fine.
  void rm(xs_transaction_t t, const std::string& path) {
    ++requests_;
    if (!xs_rm(h_, t, path.c_str()) && errno != ENOENT) worker_fail("rm " + path);
  }
  std::string read(xs_transaction_t t, const std::string& path) {
    ++requests_;
    unsigned len = 0;
    char* v = static_cast<char*>(xs_read(h_, t, path.c_str(), &len));
    if (v == nullptr) worker_fail("read " + path);
    std::string out(v, len);
    std::free(v);
    return out;
  }
  void watch(const std::string& path) {
    ++requests_;
    if (!xs_watch(h_, path.c_str(), path.c_str())) worker_fail("watch " + path);
  }
  void unwatch(const std::string& path) {
    ++requests_;
    if (!xs_unwatch(h_, path.c_str(), path.c_str())) worker_fail("unwatch " + path);
  }
  // Runs `body` in a transaction until it commits (libxl's retry_transaction on EAGAIN).
  void transaction(const std::function<void(xs_transaction_t)>& body) {
    for (;;) {
      ++requests_;
      const xs_transaction_t t = xs_transaction_start(h_);
      if (t == XBT_NULL) worker_fail("transaction_start");
      body(t);
      ++requests_;
      if (xs_transaction_end(h_, t, false)) return;
      if (errno != EAGAIN) worker_fail("transaction_end");
      ++retries_;
    }
  }
  // xenbus's wait for the other end: watch events on `path` (registered with watch()) until a read
  // of it says `want`. Events for other paths (stale ones of earlier domains) are skipped.
  void wait_for(const std::string& path, const std::string& want) {
    for (;;) {
      pollfd p{xs_fileno(h_), POLLIN, 0};
      if (::poll(&p, 1, 10'000) != 1) worker_fail("no watch event on " + path + " in 10 s");
      unsigned n = 0;
      char** ev = xs_read_watch(h_, &n);
      if (ev == nullptr) worker_fail("read_watch");
      const bool ours = path == ev[XS_WATCH_PATH];
      std::free(ev);
      if (ours && read(XBT_NULL, path) == want) return;
    }
  }

 private:
  xs_handle* h_;
  std::uint64_t& requests_;
  std::uint64_t& retries_;  // transactions the daemon refused with EAGAIN (a conflict)
};

// ---- the per-domain sequence --------------------------------------------------------------------

struct domain_paths {
  explicit domain_paths(unsigned domid)
      : id(std::to_string(domid)), dom("/local/domain/" + id), libxl("/libxl/" + id),
        fe(dom + "/device/vif/0"), be_vifs("/local/domain/0/backend/vif/" + id), be(be_vifs + "/0") {
    char uuid[40];
    std::snprintf(uuid, sizeof uuid, "%08x-b007-5707-a000-%012x", domid, domid);
    vm = std::string("/vm/") + uuid;
  }
  std::string id, dom, libxl, fe, be_vifs, be, vm;
};

// The three dom0 clients one toolstack process drives, one request at a time.
struct clients {
  connection xl, netback, netfront;
};

// libxl__domain_make's transaction: 27 nodes, each directory with its permissions.
void make_domain(connection& xl, const domain_paths& p, unsigned domid) {
  const std::vector<xs_permissions> noperm = {{0, XS_PERM_NONE}};
  const std::vector<xs_permissions> roperm = {{0, XS_PERM_NONE}, {domid, XS_PERM_READ}};
  const std::vector<xs_permissions> rwperm = {{domid, XS_PERM_NONE}};
  xl.transaction([&](xs_transaction_t t) {
    xl.rm(t, p.dom);
    xl.mknod(t, p.dom, roperm);
    xl.rm(t, p.vm);
    xl.mknod(t, p.vm, roperm);
    xl.rm(t, p.libxl);
    xl.mknod(t, p.libxl, noperm);
    xl.mknod(t, p.libxl + "/device", noperm);
    xl.write(t, p.dom + "/vm", p.vm);
    xl.write(t, p.dom + "/name", "guest" + p.id);
    for (const char* d : {"/cpu", "/memory", "/device", "/control"}) xl.mknod(t, p.dom + d, roperm);
    xl.mknod(t, p.dom + "/device/suspend/event-channel", rwperm);
    for (const char* d : {"/control/shutdown", "/control/feature-poweroff", "/control/feature-reboot",
                          "/control/feature-suspend", "/control/sysrq", "/data", "/drivers", "/feature", "/attr",
                          "/error"})
      xl.mknod(t, p.dom + d, rwperm);
    xl.write(t, p.vm + "/uuid", p.vm.substr(4));
    xl.write(t, p.vm + "/name", "guest" + p.id);
    xl.write(t, p.dom + "/control/platform-feature-multiprocessor-suspend", "1");
    xl.write(t, p.dom + "/control/platform-feature-xs_reset_watches", "1");
    xl.write(t, p.libxl + "/type", "pv");
  });
}

// libxl__build_post: the nodes the guest reads as it boots.
void build_domain(connection& xl, const domain_paths& p) {
  xl.transaction([&](xs_transaction_t t) {
    xl.write(t, p.dom + "/memory/static-max", "524288");
    xl.write(t, p.dom + "/memory/target", "524288");
    xl.write(t, p.dom + "/memory/videoram", "-1");
    xl.write(t, p.dom + "/cpu/0/availability", "online");
    xl.write(t, p.dom + "/domid", p.id);
    xl.write(t, p.dom + "/store/port", "1");
    xl.write(t, p.dom + "/store/ring-ref", "1044476");
    xl.write(t, p.dom + "/console/port", "2");
    xl.write(t, p.dom + "/console/ring-ref", "1044475");
    xl.write(t, p.dom + "/console/type", "xenconsoled");
  });
}

// libxl__device_generic_add for vif 0: frontend and backend directories, readable by the other end.
void add_vif(connection& xl, const domain_paths& p, unsigned domid) {
  const std::vector<xs_permissions> fe_perms = {{domid, XS_PERM_NONE}, {0, XS_PERM_READ}};
  const std::vector<xs_permissions> be_perms = {{0, XS_PERM_NONE}, {domid, XS_PERM_READ}};
  const std::string mac = "00:16:3e:00:" + std::to_string(domid / 256 % 100) + ":" + std::to_string(domid % 100);
  xl.transaction([&](xs_transaction_t t) {
    xl.rm(t, p.fe);
    xl.rm(t, p.be);
    xl.mknod(t, p.fe, fe_perms);
    xl.mknod(t, p.be, be_perms);
    xl.write(t, p.libxl + "/device/vif/0/frontend", p.fe);
    xl.write(t, p.libxl + "/device/vif/0/backend", p.be);
    for (const auto& [k, v] : std::vector<std::pair<const char*, std::string>>{
             {"/backend", p.be}, {"/backend-id", "0"}, {"/state", "1"}, {"/handle", "0"}, {"/mac", mac},
             {"/mtu", "1500"}})
      xl.write(t, p.fe + k, v);
    for (const auto& [k, v] : std::vector<std::pair<const char*, std::string>>{
             {"/frontend", p.fe}, {"/frontend-id", p.id}, {"/online", "1"}, {"/state", "1"},
             {"/script", "/etc/xen/scripts/vif-bridge"}, {"/mac", mac}, {"/bridge", "xenbr0"}, {"/handle", "0"},
             {"/type", "vif"}, {"/mtu", "1500"}})
      xl.write(t, p.be + k, v);
  });
}

// The xenbus state handshake of vif 0, each side waiting for its watch event on the other's state.
void connect_vif(clients& c, const domain_paths& p) {
  const std::string be_state = p.be + "/state", fe_state = p.fe + "/state";
  c.xl.watch(be_state);  // libxl__wait_device_connection: the backend reaching InitWait
  c.netback.watch(fe_state);
  c.netback.wait_for(fe_state, "1");
  c.netback.read(XBT_NULL, p.be + "/frontend");
  c.netback.read(XBT_NULL, p.be + "/mac");
  c.netback.write(XBT_NULL, be_state, "2");
  c.xl.wait_for(be_state, "2");
  c.xl.unwatch(be_state);

  c.netfront.watch(be_state);
  c.netfront.wait_for(be_state, "2");
  c.netfront.transaction([&](xs_transaction_t t) {
    c.netfront.write(t, p.fe + "/tx-ring-ref", "8");
    c.netfront.write(t, p.fe + "/rx-ring-ref", "9");
    c.netfront.write(t, p.fe + "/event-channel", "10");
    c.netfront.write(t, p.fe + "/request-rx-copy", "1");
    c.netfront.write(t, p.fe + "/feature-rx-notify", "1");
    c.netfront.write(t, p.fe + "/feature-sg", "1");
    c.netfront.write(t, p.fe + "/feature-gso-tcpv4", "1");
  });
  c.netfront.write(XBT_NULL, fe_state, "3");

  c.netback.wait_for(fe_state, "3");
  for (const char* k : {"/tx-ring-ref", "/rx-ring-ref", "/event-channel", "/request-rx-copy"})
    c.netback.read(XBT_NULL, p.fe + k);
  c.netback.write(XBT_NULL, be_state, "4");
  c.netfront.wait_for(be_state, "4");
  c.netfront.write(XBT_NULL, fe_state, "4");
  c.netback.wait_for(fe_state, "4");
  c.netfront.unwatch(be_state);
  c.netback.unwatch(fe_state);
}

// libxl__destroy_domid's xenstore part, in one transaction.
void destroy_domain(connection& xl, const domain_paths& p) {
  xl.transaction([&](xs_transaction_t t) {
    xl.rm(t, p.be_vifs);
    xl.rm(t, p.dom);
    xl.rm(t, p.vm);
    xl.rm(t, p.libxl);
  });
}

double since_us(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

// ---- one storm: P toolstack processes against one daemon ----------------------------------------

// Shared with the toolstack processes (MAP_SHARED): what each measured.
struct shared_results {
  std::uint64_t* requests;  // per process
  std::uint64_t* retries;   // per process
  double* create_us;        // per domain
  double* destroy_us;
};

struct storm_config {
  std::size_t domains = 1000;
  std::size_t parallel = 4;
  unsigned first_domid = 1;
};

// Block on `fd` until EOF (the parent closed the write end): the start signal.
void wait_for_go(int fd) {
  char byte;
  while (::read(fd, &byte, 1) < 0 && errno == EINTR) {
  }
}

// One toolstack process's share of the storm (domains index, index+parallel, ...).
void run_toolstack(const storm_config& cfg, std::size_t index, int ready, int go_create, int go_destroy,
                            const shared_results& out) {
  std::uint64_t& requests = out.requests[index];
  std::uint64_t& retries = out.retries[index];
  clients c{connection(requests, retries), connection(requests, retries), connection(requests, retries)};
  c.xl.read(XBT_NULL, "/");  // connected and answered before the clock starts
  requests = 0;
  if (::write(ready, "r", 1) != 1) ::_exit(4);
  wait_for_go(go_create);
  for (std::size_t d = index; d < cfg.domains; d += cfg.parallel) {
    const unsigned domid = cfg.first_domid + static_cast<unsigned>(d);
    const domain_paths p(domid);
    const auto t0 = clock_type::now();
    make_domain(c.xl, p, domid);
    build_domain(c.xl, p);
    add_vif(c.xl, p, domid);
    connect_vif(c, p);
    out.create_us[d] = since_us(t0);
  }
  if (::write(ready, "c", 1) != 1) ::_exit(4);
  wait_for_go(go_destroy);
  for (std::size_t d = index; d < cfg.domains; d += cfg.parallel) {
    const auto t0 = clock_type::now();
    destroy_domain(c.xl, domain_paths(cfg.first_domid + static_cast<unsigned>(d)));
    out.destroy_us[d] = since_us(t0);
  }
}

struct storm_result {
  double create_seconds = 0;  // until every domain is connected
  double seconds = 0;         // create and destroy
  double cpu_seconds = 0;     // the daemon's utime+stime over both
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;  // transactions redone after EAGAIN
  std::uint64_t wakeups = 0;  // the daemon's voluntary context switches over both
  double syscalls = -1;
  double create_p50_us = 0, create_p99_us = 0, destroy_p50_us = 0, destroy_p99_us = 0;

  double per_request(double x) const { return x / static_cast<double>(requests); }
};

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

template <class T>
T* shared_array(std::size_t n) {
  void* p = ::mmap(nullptr, std::max<std::size_t>(1, n) * sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) fail("mmap");
  return static_cast<T*>(p);
}

// Reads one byte per toolstack process from `fd`.
void await_all(int fd, std::size_t parallel, const std::string& what) {
  for (std::size_t got = 0; got < parallel;) {
    char buf[512];
    const ssize_t r = ::read(fd, buf, std::min(sizeof buf, parallel - got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail("a toolstack process failed " + what);
    got += static_cast<std::size_t>(r);
  }
}

storm_result run_storm(const measured_daemon& d, const storm_config& cfg, const std::string& perf = {}) {
  const shared_results out{shared_array<std::uint64_t>(cfg.parallel), shared_array<std::uint64_t>(cfg.parallel),
                           shared_array<double>(cfg.domains),
                           shared_array<double>(cfg.domains)};
  int ready[2], go_create[2], go_destroy[2];
  if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(go_create, O_CLOEXEC) != 0 || ::pipe2(go_destroy, O_CLOEXEC) != 0)
    fail("pipe");
  std::vector<pid_t> pids;
  for (std::size_t i = 0; i < cfg.parallel; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
      ::close(ready[0]);
      ::close(go_create[1]);
      ::close(go_destroy[1]);
      ::setenv("XENSTORED_PATH", d.socket().c_str(), 1);
      run_toolstack(cfg, i, ready[1], go_create[0], go_destroy[0], out);
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  ::close(ready[1]);
  ::close(go_create[0]);
  ::close(go_destroy[0]);
  await_all(ready[0], cfg.parallel, "to connect");

  std::unique_ptr<syscall_counter> syscalls;
  if (!perf.empty()) syscalls = std::make_unique<syscall_counter>(perf, d.pid());
  storm_result r;
  const auto cpu0 = d.cpu();
  const auto wake0 = d.voluntary_switches();
  const auto t0 = clock_type::now();
  ::close(go_create[1]);
  await_all(ready[0], cfg.parallel, "creating domains");
  r.create_seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  ::close(go_destroy[1]);
  int failed = 0;
  for (pid_t pid : pids) failed += wait_exit(pid) != 0;
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  const auto cpu1 = d.cpu();
  r.cpu_seconds = cpu1.user - cpu0.user + cpu1.system - cpu0.system;
  r.wakeups = d.voluntary_switches() - wake0;
  if (syscalls) r.syscalls = syscalls->stop();
  ::close(ready[0]);
  if (failed > 0) fail(std::to_string(failed) + " toolstack processes failed against " + d.name());

  for (std::size_t i = 0; i < cfg.parallel; ++i) {
    r.requests += out.requests[i];
    r.retries += out.retries[i];
  }
  const std::vector<double> create(out.create_us, out.create_us + cfg.domains),
      destroy(out.destroy_us, out.destroy_us + cfg.domains);
  r.create_p50_us = percentile(create, 0.50);
  r.create_p99_us = percentile(create, 0.99);
  r.destroy_p50_us = percentile(destroy, 0.50);
  r.destroy_p99_us = percentile(destroy, 0.99);
  ::munmap(out.requests, std::max<std::size_t>(1, cfg.parallel) * sizeof(std::uint64_t));
  ::munmap(out.retries, std::max<std::size_t>(1, cfg.parallel) * sizeof(std::uint64_t));
  ::munmap(out.create_us, std::max<std::size_t>(1, cfg.domains) * sizeof(double));
  ::munmap(out.destroy_us, std::max<std::size_t>(1, cfg.domains) * sizeof(double));
  return r;
}

// C xenstored accepts a node owned by domain N only if the hypervisor knows N (it asks
// xc_domain_getinfo or libxenmanage, here the emulation): on a daemon's host the storm's domains
// exist before the storm, as Xen's do before libxl writes their nodes. They live as long as the host.
std::unique_ptr<xenwire::sim::remote_transport> create_domains(const measured_daemon& d, const storm_config& cfg) {
  if (d.host_socket().empty()) return nullptr;
  xenwire::sim::remote_options opts;
  opts.socket = d.host_socket();
  opts.domid = 0;
  auto host = xenwire::sim::remote_transport::connect(opts);
  if (!host) fail("connecting to " + d.name() + "'s host: " + host.error().message());
  for (std::size_t i = 0; i < cfg.domains; ++i) {
    const auto domid = static_cast<xenwire::domid_t>(cfg.first_domid + i);
    if (auto r = (*host)->create_domain(domid); !r && r.error() != std::errc::file_exists)
      fail("creating dom" + std::to_string(domid) + " on " + d.name() + "'s host: " + r.error().message());
  }
  // C finds a domain in the host's whole domain list, one host message (256 KiB, about 6,000
  // domains); past that it would refuse every domain's nodes in the middle of the storm.
  if (auto all = (*host)->domains(); !all) {
    errno = 0;  // the reason is the error below, not a stale errno
    fail(d.name() + "'s host cannot list " + std::to_string(cfg.domains) +
         " domains (the emulation's message limit): " + all.error().message());
  }
  return std::move(*host);
}

// ---- the command line and the table -------------------------------------------------------------

struct options {
  std::vector<std::size_t> domains = {1000};
  storm_config storm;
  int rounds = 3;
  bool syscalls = false;
  daemon_options daemons;
};

std::vector<std::size_t> parse_counts(const std::string& s) {
  std::vector<std::size_t> out;
  for (std::size_t at = 0; at <= s.size();) {
    const auto comma = std::min(s.find(',', at), s.size());
    if (comma > at) out.push_back(std::stoul(s.substr(at, comma - at)));
    at = comma + 1;
  }
  if (out.empty()) fail("--domains wants N[,N...]");
  return out;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    if (o.daemons.parse(argc, argv, i)) continue;
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail("missing value for " + a);
      return argv[++i];
    };
    if (a == "--domains") o.domains = parse_counts(next());
    else if (a == "--parallel") o.storm.parallel = std::max(1UL, std::stoul(next()));
    else if (a == "--rounds") o.rounds = std::max(1, std::stoi(next()));
    else if (a == "--syscalls") o.syscalls = true;
    else {
      fail("unknown argument " + a + " (see the comment atop bench/xenstore_boot_storm.cpp)");
    }
  }
  return o;
}

std::vector<measured_daemon> start_daemons(const options& o) {
  std::vector<measured_daemon> ds;
  o.daemons.start_xenwire(ds, "/tmp/xenwire-boot-" + std::to_string(::getpid()) + ".sock");
  o.daemons.start_others(ds);
  for (const auto& d : ds)
    std::fprintf(stderr, "%s: %s (pid %d) at %s\n", program_invocation_short_name, d.name().c_str(), d.pid(),
                 d.socket().c_str());
  return ds;
}

// The medians over the rounds of every figure (each taken on its own).
storm_result median_of(const std::vector<storm_result>& runs) {
  auto med = [&](auto field) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(static_cast<double>(field(r)));
    return median_of_rounds(v);
  };
  storm_result m;
  m.create_seconds = med([](const storm_result& r) { return r.create_seconds; });
  m.seconds = med([](const storm_result& r) { return r.seconds; });
  m.cpu_seconds = med([](const storm_result& r) { return r.cpu_seconds; });
  m.requests = static_cast<std::uint64_t>(med([](const storm_result& r) { return r.requests; }));
  m.retries = static_cast<std::uint64_t>(med([](const storm_result& r) { return r.retries; }));
  m.wakeups = static_cast<std::uint64_t>(med([](const storm_result& r) { return r.wakeups; }));
  m.create_p50_us = med([](const storm_result& r) { return r.create_p50_us; });
  m.create_p99_us = med([](const storm_result& r) { return r.create_p99_us; });
  m.destroy_p50_us = med([](const storm_result& r) { return r.destroy_p50_us; });
  m.destroy_p99_us = med([](const storm_result& r) { return r.destroy_p99_us; });
  return m;
}

void print_header(const options& o) {
  std::printf("# bench_xenstore_boot_storm: %zu toolstack processes, %s, median of %d rounds (daemons alternated)\n",
              o.storm.parallel, o.daemons.pin ? "all processes pinned to one CPU" : "unpinned", o.rounds);
  std::printf("# CPU: the daemon's utime+stime over the storm; wake-ups: its voluntary context switches%s\n",
              o.syscalls ? "; syscalls: perf raw_syscalls:sys_enter -p PID, one extra round" : "");
  std::printf("\n| domains | daemon | wall s (create) | daemon CPU s | requests (tx retries) | CPU us/req | syscalls/req |"
              " wake-ups/req | create p50 / p99 ms | destroy p50 / p99 ms |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::fflush(stdout);
}

void print_row(std::size_t domains, const std::string& name, const storm_result& r) {
  std::printf("| %zu | %s | %.2f (%.2f) | %.2f | %llu (%llu) | %.2f | ", domains, name.c_str(), r.seconds,
              r.create_seconds, r.cpu_seconds, static_cast<unsigned long long>(r.requests),
              static_cast<unsigned long long>(r.retries), r.per_request(r.cpu_seconds * 1e6));
  if (r.syscalls >= 0) std::printf("%.2f", r.per_request(r.syscalls));
  else std::printf("-");
  std::printf(" | %.2f | %.2f / %.2f | %.2f / %.2f |\n", r.per_request(static_cast<double>(r.wakeups)),
              r.create_p50_us / 1e3, r.create_p99_us / 1e3, r.destroy_p50_us / 1e3, r.destroy_p99_us / 1e3);
}

// xenwire ÷ every other daemon, column by column; below 1 is xenwire ahead.
void print_ratios(std::size_t domains, const std::map<std::string, storm_result>& cells) {
  const auto us = cells.find("xenwire");
  if (us == cells.end()) return;
  const storm_result& x = us->second;
  for (const auto& [name, other] : cells) {
    if (name == "xenwire") continue;
    std::printf("| %zu | **xenwire ÷ %s** | **%.2f** (%.2f) | **%.2f** | %.2f | %.2f | ", domains, name.c_str(),
                x.seconds / other.seconds, x.create_seconds / other.create_seconds, x.cpu_seconds / other.cpu_seconds,
                static_cast<double>(x.requests) / static_cast<double>(other.requests),
                x.per_request(x.cpu_seconds) / other.per_request(other.cpu_seconds));
    if (x.syscalls >= 0 && other.syscalls >= 0)
      std::printf("%.2f", x.per_request(x.syscalls) / other.per_request(other.syscalls));
    std::printf(" | %.2f | %.2f / %.2f | %.2f / %.2f |\n",
                x.per_request(static_cast<double>(x.wakeups)) / other.per_request(static_cast<double>(other.wakeups)),
                x.create_p50_us / other.create_p50_us, x.create_p99_us / other.create_p99_us,
                x.destroy_p50_us / other.destroy_p50_us, x.destroy_p99_us / other.destroy_p99_us);
  }
}

// The same ratios round by round (xenwire's storm against the other's of the same round, run
// back to back), then their median: steadier than a ratio of medians when the machine's load drifts.
void print_paired_ratios(std::size_t domains, const std::map<std::string, std::vector<storm_result>>& runs) {
  const auto us = runs.find("xenwire");
  if (us == runs.end()) return;
  for (const auto& [name, other] : runs) {
    if (name == "xenwire") continue;
    std::vector<double> wall, cpu, cpu_per_request;
    for (std::size_t i = 0; i < other.size(); ++i) {
      const storm_result &x = us->second[i], &c = other[i];
      wall.push_back(x.seconds / c.seconds);
      cpu.push_back(x.cpu_seconds / c.cpu_seconds);
      cpu_per_request.push_back(x.per_request(x.cpu_seconds) / c.per_request(c.cpu_seconds));
    }
    std::printf("| %zu | xenwire ÷ %s, median of per-round ratios | %.2f | %.2f | | %.2f | | | | |\n", domains,
                name.c_str(), median_of_rounds(wall), median_of_rounds(cpu),
                median_of_rounds(cpu_per_request));
  }
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse(argc, argv);
  if (o.daemons.pin) pin_to_one_cpu();
  // Static: fail() ends the bench with std::exit, which destroys statics, not locals, and the
  // daemons must be stopped (hosts of their own included) however the bench ends.
  static const std::vector<measured_daemon> daemons = start_daemons(o);
  if (daemons.empty()) fail("no daemon to measure");
  print_header(o);
  for (std::size_t n : o.domains) {
    storm_config cfg = o.storm;
    cfg.domains = n;
    std::vector<std::unique_ptr<xenwire::sim::remote_transport>> hosts;
    for (const auto& d : daemons) hosts.push_back(create_domains(d, cfg));
    std::map<std::string, std::vector<storm_result>> runs;
    for (int round = 0; round < o.rounds; ++round) {
      for (const auto& d : daemons) {
        const storm_result r = run_storm(d, cfg);
        std::fprintf(stderr, "  %zu domains, %s, round %d: %.2f s, daemon CPU %.2f s, %llu requests, %llu retries\n",
                     n, d.name().c_str(), round + 1, r.seconds, r.cpu_seconds,
                     static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.retries));
        runs[d.name()].push_back(r);
      }
    }
    std::map<std::string, storm_result> cells;
    for (const auto& d : daemons) {
      storm_result m = median_of(runs[d.name()]);
      if (o.syscalls) {
        const storm_result counted = run_storm(d, cfg, "perf");
        m.syscalls = counted.syscalls / static_cast<double>(counted.requests) * static_cast<double>(m.requests);
      }
      print_row(n, d.name(), m);
      cells[d.name()] = m;
    }
    print_ratios(n, cells);
    print_paired_ratios(n, runs);
    std::fflush(stdout);
  }
  return 0;
}
