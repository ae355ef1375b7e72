// libxenmanage (Xen 4.21+) on the host's domain list: what C xenstored 4.22 asks about domains
// instead of libxenctrl. Xen answers from its domain table and a per-caller record of state
// changes (XEN_DOMCTL_get_domain_state); here each handle keeps the states it has reported and
// polls report the difference with the host's list.
#include <algorithm>
#include <cerrno>
#include <map>
#include <new>

#include "errno_map.hpp"
#include "process_transport.hpp"
#include "xenmanage_api.h"

using namespace xenwire;

struct xenmanage_handle {
  struct reported {
    unsigned int state = 0;
    std::uint64_t unique_id = 0;
  };
  std::shared_ptr<sim::remote_transport> transport;
  std::map<unsigned int, reported> seen;  // what this handle has reported, by domid
  std::uint64_t next_unique_id = 1;
};

namespace {

// A dying domain of the host has been destroyed but is still listed while other domains (its
// xenstored) map its pages: Xen's DOMDYING_dead, which is what tells xenstored to release it.
unsigned int state_of(sim::domain_state s) {
  switch (s) {
    case sim::domain_state::alive: return XENMANAGE_GETDOMSTATE_STATE_EXIST;
    case sim::domain_state::dying: return XENMANAGE_GETDOMSTATE_STATE_EXIST | XENMANAGE_GETDOMSTATE_STATE_DEAD;
    case sim::domain_state::dead: break;
  }
  return XENMANAGE_GETDOMSTATE_STATE_DEAD;
}

// Dom0 is the control and hardware domain (not a xenstore stub domain).
unsigned int caps_of(unsigned int domid) {
  return domid == 0 ? XENMANAGE_GETDOMSTATE_CAP_CONTROL | XENMANAGE_GETDOMSTATE_CAP_HARDWARE : 0;
}

// The host's domains that Xen still lists (dead ones are gone), domid -> state.
result<std::map<unsigned int, unsigned int>> listed(xenmanage_handle& h) {
  auto doms = h.transport->domains();
  if (!doms) return fail(doms.error());
  std::map<unsigned int, unsigned int> out;
  for (const auto& d : *doms)
    if (d.state != sim::domain_state::dead) out[d.domid] = state_of(d.state);
  return out;
}

// The unique id of a domain this handle has not reported yet is fixed when first asked for, so a
// domid used again after a death gets a new one.
std::uint64_t unique_id_of(xenmanage_handle& h, unsigned int domid) {
  auto it = h.seen.find(domid);
  return it != h.seen.end() ? it->second.unique_id : h.next_unique_id;
}

void store(unsigned int* out, unsigned int v) {
  if (out != nullptr) *out = v;
}

}  // namespace

extern "C" {

xenmanage_handle* xenmanage_open(struct xentoollog_logger* /*logger: we never log*/, unsigned int open_flags) {
  if (open_flags != 0) {
    emu::fail_errno(EINVAL);
    return nullptr;
  }
  try {
    auto t = emu::process_transport();
    if (!t) {
      emu::fail_errno(t.error());
      return nullptr;
    }
    auto* h = new xenmanage_handle;
    h->transport = std::move(*t);
    return h;
  } catch (const std::bad_alloc&) {
    emu::fail_errno(ENOMEM);
    return nullptr;
  }
}

int xenmanage_close(xenmanage_handle* hdl) {
  delete hdl;
  return 0;
}

int xenmanage_get_domain_info(xenmanage_handle* hdl, unsigned int domid, unsigned int* state, unsigned int* caps,
                              std::uint64_t* unique_id) {
  if (hdl == nullptr || domid >= 0x7ff0) return emu::fail_errno(EINVAL);  // DOMID_FIRST_RESERVED
  try {
    auto doms = listed(*hdl);
    if (!doms) return emu::fail_errno(doms.error());
    auto it = doms->find(domid);
    if (it == doms->end()) return emu::fail_errno(ESRCH);
    store(state, it->second);
    store(caps, caps_of(domid));
    if (unique_id != nullptr) *unique_id = unique_id_of(*hdl, domid);
    return 0;
  } catch (const std::bad_alloc&) {
    return emu::fail_errno(ENOMEM);
  }
}

int xenmanage_poll_changed_domain(xenmanage_handle* hdl, unsigned int* domid, unsigned int* state, unsigned int* caps,
                                  std::uint64_t* unique_id) {
  if (hdl == nullptr || domid == nullptr) return emu::fail_errno(EINVAL);
  try {
    auto doms = listed(*hdl);
    if (!doms) return emu::fail_errno(doms.error());
    // The lowest domid whose state differs from what this handle reported: a listed domain not
    // reported yet or in another state, or a reported one no longer listed (dead, reported once).
    std::map<unsigned int, unsigned int> now = *doms;
    for (const auto& [id, r] : hdl->seen)
      if (now.find(id) == now.end()) now[id] = XENMANAGE_GETDOMSTATE_STATE_DEAD;
    for (const auto& [id, s] : now) {
      auto seen = hdl->seen.find(id);
      if (seen != hdl->seen.end() && seen->second.state == s) continue;
      const std::uint64_t uid = unique_id_of(*hdl, id);
      if (seen == hdl->seen.end()) ++hdl->next_unique_id;
      if (s == XENMANAGE_GETDOMSTATE_STATE_DEAD) hdl->seen.erase(id);
      else hdl->seen[id] = {s, uid};
      *domid = id;
      store(state, s);
      store(caps, caps_of(id));
      if (unique_id != nullptr) *unique_id = uid;
      return 0;
    }
    return emu::fail_errno(ENOENT);
  } catch (const std::bad_alloc&) {
    return emu::fail_errno(ENOMEM);
  }
}

}  // extern "C"
