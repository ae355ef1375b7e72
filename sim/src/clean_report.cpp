// host::check_clean(): lists every resource still allocated, one readable line each.
#include "xenwire/sim/clean_report.hpp"

#include <string>

#include "core.hpp"

namespace xenwire::sim {
namespace {

const char* name(access a) { return a == access::read_only ? "read_only" : "read_write"; }

std::string dom(domid_t id) { return "dom" + std::to_string(id); }

std::string ref_list(const std::vector<grant_ref_t>& refs) {
  std::string s = "[";
  for (std::size_t i = 0; i < refs.size(); ++i) s += (i ? "," : "") + std::to_string(refs[i]);
  return s + "]";
}

}  // namespace

std::string clean_report::describe() const {
  if (leaks_.empty()) return "clean";
  std::string s = std::to_string(leaks_.size()) + " leaked resource(s):";
  for (const auto& l : leaks_) s += "\n  " + l;
  return s;
}

namespace detail {

std::vector<std::string> host_core::leaks_locked(const domain& d) const {
  std::vector<std::string> out;
  const std::string me = dom(d.id);
  if (d.state == domain_state::dying) {
    out.push_back(me + ": dying, " + std::to_string(d.grants.size()) + " grant(s) still mapped by peers");
  }
  for (const auto& [ref, g] : d.grants) {
    out.push_back(me + ": grant ref " + std::to_string(ref) + " to " + dom(g.grantee) + " (" + name(g.mode) + "), " +
                  (g.shared ? "shared" : "unshared") + ", mapped " + std::to_string(g.maps) + "x");
  }
  for (const map_record* m : d.maps) {
    out.push_back(me + ": mapping of " + dom(m->granter->id) + " refs " + ref_list(m->refs) + " (" + name(m->mode) +
                  ")");
  }
  for (evtchn_port_t p = 1; p < d.ports.size(); ++p) {
    const port_entry& e = d.ports[p];
    std::string what;
    switch (e.kind) {
      case port_kind::free:
        continue;
      case port_kind::unbound:
        what = "unbound for " + dom(e.remote_domid);
        break;
      case port_kind::connected:
        what = "connected to " + dom(e.remote_domid) + " port " + std::to_string(e.remote_port);
        break;
      case port_kind::closed:
        what = "peer closed (was " + dom(e.remote_domid) + " port " + std::to_string(e.remote_port) + ")";
        break;
      case port_kind::virq:
        what = "VIRQ " + std::to_string(e.remote_port);
        break;
    }
    out.push_back(me + ": port " + std::to_string(p) + " " + what);
  }
  return out;
}

}  // namespace detail

clean_report host::check_clean() const {
  std::lock_guard lock(core_->mutex);
  std::vector<std::string> leaks;
  for (const auto& [id, d] : core_->domains) {
    auto more = core_->leaks_locked(*d);
    leaks.insert(leaks.end(), more.begin(), more.end());
  }
  return clean_report(std::move(leaks));
}

clean_report host::check_clean(domid_t domid) const {
  std::lock_guard lock(core_->mutex);
  const detail::domain* d = core_->find_locked(domid);
  if (d == nullptr) return clean_report({dom(domid) + ": no such domain"});
  return clean_report(core_->leaks_locked(*d));
}

}  // namespace xenwire::sim
