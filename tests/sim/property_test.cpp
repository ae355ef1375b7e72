// RapidCheck properties: events are never lost, only coalesced; any sequence of operations leaves
// nothing behind once every domain is destroyed.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "sim_test_support.hpp"
#include "xenwire/sim/host.hpp"

namespace xenwire::sim {
namespace {

enum class ev_op : int { notify, take, mask, unmask };

// Three channels from dom2 into one handle of dom1. For any sequence of notify/take/mask/unmask,
// what pending() yields matches a model of one pending and one mask bit per port, the fd is
// readable exactly when the model has a deliverable port, and once everything is unmasked every
// port the model holds pending is delivered: nothing is lost, only coalesced.
RC_GTEST_PROP(SimProperties, EventsAreNeverLostOnlyCoalesced,
              (const std::vector<std::pair<int, int>>& raw_ops)) {
  host h;
  RC_ASSERT(h.create_domain(1).has_value());
  RC_ASSERT(h.create_domain(2).has_value());
  auto t1 = h.transport(1).value();
  auto t2 = h.transport(2).value();
  auto rx = t1->open_event_channel().value();
  auto tx = t2->open_event_channel().value();
  std::vector<evtchn_port_t> rx_ports, tx_ports;
  for (int i = 0; i < 3; ++i) {
    rx_ports.push_back(rx->bind_unbound(2).value());
    tx_ports.push_back(tx->bind_interdomain(1, rx_ports.back()).value());
  }
  struct bits {
    bool pending = false, masked = false;
  };
  std::map<evtchn_port_t, bits> model;
  for (evtchn_port_t p : rx_ports) model[p] = {};
  auto deliverable = [&] {
    std::set<evtchn_port_t> s;
    for (auto& [p, b] : model) {
      if (b.pending && !b.masked) s.insert(p);
    }
    return s;
  };

  for (auto [op_raw, which_raw] : raw_ops) {
    const auto op = static_cast<ev_op>((op_raw % 4 + 4) % 4);
    const std::size_t which = static_cast<std::size_t>((which_raw % 3 + 3) % 3);
    switch (op) {
      case ev_op::notify:
        RC_ASSERT(tx->notify(tx_ports[which]).has_value());
        model[rx_ports[which]].pending = true;
        break;
      case ev_op::take: {
        const auto expected = deliverable();
        auto got = rx->pending().value();
        if (expected.empty()) {
          RC_ASSERT(!got.has_value());
        } else {
          RC_ASSERT(got.has_value());
          RC_ASSERT(expected.count(*got) == 1U);
          model[*got].pending = false;
        }
        break;
      }
      case ev_op::mask:
        RC_ASSERT(rx->mask(rx_ports[which]).has_value());
        model[rx_ports[which]].masked = true;
        break;
      case ev_op::unmask:
        RC_ASSERT(rx->unmask(rx_ports[which]).has_value());
        model[rx_ports[which]].masked = false;
        break;
    }
    RC_ASSERT(test_support::readable(rx->fd()) == !deliverable().empty());
  }

  std::set<evtchn_port_t> still_pending;
  for (auto& [p, b] : model) {
    if (b.pending) still_pending.insert(p);
    RC_ASSERT(rx->unmask(p).has_value());
  }
  std::set<evtchn_port_t> drained;
  while (auto p = rx->pending().value()) RC_ASSERT(drained.insert(*p).second);  // each once
  RC_ASSERT(drained == still_pending);
}

// Random operations over three domains (share, map, unshare, unmap, open/close handles, bind,
// connect, unbind, notify, crash and re-create), then destroy every domain: check_clean() passes
// while the objects are still held, and every page is freed once they are dropped.
RC_GTEST_PROP(SimProperties, EverythingIsReleasedWhenAllDomainsDie,
              (const std::vector<std::tuple<int, int, int, int>>& raw_ops)) {
  host h(host_options{.grant_limit = 16, .port_limit = 8});
  constexpr domid_t n = 3;
  for (domid_t d = 0; d < n; ++d) RC_ASSERT(h.create_domain(d).has_value());
  std::vector<std::unique_ptr<domain_transport>> t(n);
  for (domid_t d = 0; d < n; ++d) t[d] = h.transport(d).value();

  struct share_obj {
    domid_t owner;
    std::unique_ptr<shared_pages> pages;
  };
  struct handle_obj {
    domid_t owner;
    std::unique_ptr<event_channel> h;
  };
  std::vector<share_obj> shares;
  std::vector<std::pair<domid_t, std::unique_ptr<mapped_pages>>> maps;
  std::vector<handle_obj> handles;
  std::vector<std::pair<domid_t, evtchn_port_t>> unbound;  // (owner, port) advertised for connection

  auto pick = [](int raw, std::size_t size) {
    const int m = static_cast<int>(size);
    return static_cast<std::size_t>((raw % m + m) % m);
  };
  for (auto [op_raw, a, b, c] : raw_ops) {
    const domid_t self = static_cast<domid_t>(pick(a, n));
    const domid_t peer = static_cast<domid_t>(pick(b, n));
    if (!t[self]) continue;  // crashed and not re-created yet
    switch (pick(op_raw, 11)) {
      case 0: {  // share
        auto r = t[self]->grants().share(peer, 1 + pick(c, 3), c % 2 ? access::read_only : access::read_write);
        if (r) shares.push_back({self, std::move(*r)});
        break;
      }
      case 1:  // unshare
        if (!shares.empty()) shares.erase(shares.begin() + static_cast<std::ptrdiff_t>(pick(c, shares.size())));
        break;
      case 2: {  // map some share granted to self (may fail: dying owner, read-only, ...)
        if (shares.empty()) break;
        auto& s = shares[pick(c, shares.size())];
        if (s.pages->peer() != self) break;
        auto r = t[self]->grants().map(s.owner, s.pages->refs(), c % 3 ? access::read_only : access::read_write);
        if (r) maps.emplace_back(self, std::move(*r));
        break;
      }
      case 3:  // unmap
        if (!maps.empty()) maps.erase(maps.begin() + static_cast<std::ptrdiff_t>(pick(c, maps.size())));
        break;
      case 4: {  // open a handle
        auto r = t[self]->open_event_channel();
        if (r) handles.push_back({self, std::move(*r)});
        break;
      }
      case 5:  // close a handle
        if (!handles.empty()) handles.erase(handles.begin() + static_cast<std::ptrdiff_t>(pick(c, handles.size())));
        break;
      case 6: {  // bind unbound
        if (handles.empty()) break;
        auto& hd = handles[pick(c, handles.size())];
        if (auto p = hd.h->bind_unbound(peer)) unbound.emplace_back(hd.owner, *p);
        break;
      }
      case 7: {  // connect to an advertised port
        if (handles.empty() || unbound.empty()) break;
        auto& hd = handles[pick(c, handles.size())];
        auto [owner, port] = unbound[pick(b, unbound.size())];
        (void)hd.h->bind_interdomain(owner, port);  // refused unless addressed to hd's domain
        break;
      }
      case 8: {  // unbind / notify some port of a handle
        if (handles.empty()) break;
        auto& hd = handles[pick(c, handles.size())];
        for (evtchn_port_t p = 1; p < 10; ++p) {
          if (hd.h->state(p)) {
            if (b % 2) {
              (void)hd.h->notify(p);
            } else {
              RC_ASSERT(hd.h->unbind(p).has_value());
            }
            break;
          }
        }
        while (hd.h->pending() && hd.h->pending().value()) {
        }
        break;
      }
      case 9:  // crash
        RC_ASSERT(h.destroy_domain(self).has_value());
        t[self].reset();
        break;
      case 10:  // re-create a crashed domain once it is dead
        if (h.state(peer).value() == domain_state::dead) {
          RC_ASSERT(h.create_domain(peer).has_value());
          t[peer] = h.transport(peer).value();
        }
        break;
    }
  }

  for (domid_t d = 0; d < n; ++d) RC_ASSERT(h.destroy_domain(d).has_value());
  const clean_report report = h.check_clean();
  if (!report.ok()) RC_FAIL(report.describe());
  for (domid_t d = 0; d < n; ++d) RC_ASSERT(h.state(d).value() == domain_state::dead);
  maps.clear();
  shares.clear();
  handles.clear();
  RC_ASSERT(h.pages_in_use() == 0U);
}

}  // namespace
}  // namespace xenwire::sim
