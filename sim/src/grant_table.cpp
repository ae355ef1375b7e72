// Grant tables: share() / map() and the objects that undo them (unshare, unmap), with gntalloc's
// rule that a ref still mapped by the grantee outlives its unshare until the grantee unmaps.
#include <algorithm>

#include "core.hpp"
#include "grant_table_impl.hpp"

namespace xenwire::sim::detail {
namespace {

class shared_pages_impl final : public shared_pages {
 public:
  shared_pages_impl(std::shared_ptr<host_core> core, std::shared_ptr<share_record> rec, page_view view)
      : core_(std::move(core)), rec_(std::move(rec)), view_(std::move(view)) {}
  ~shared_pages_impl() override {
    std::lock_guard lock(core_->mutex);
    core_->unshare_locked(*rec_);
    for (page_index p : rec_->pages) core_->memory.release(p);  // our view's references
  }
  std::span<std::byte> bytes() noexcept override { return view_.bytes(); }
  std::span<const grant_ref_t> refs() const noexcept override { return rec_->refs; }
  domid_t peer() const noexcept override { return rec_->peer; }
  std::span<const page_index> pages() const noexcept { return rec_->pages; }

 private:
  std::shared_ptr<host_core> core_;
  std::shared_ptr<share_record> rec_;
  page_view view_;
};

class mapped_pages_impl final : public mapped_pages {
 public:
  mapped_pages_impl(std::shared_ptr<host_core> core, std::shared_ptr<map_record> rec, page_view view)
      : core_(std::move(core)), rec_(std::move(rec)), view_(std::move(view)) {}
  ~mapped_pages_impl() override {
    std::lock_guard lock(core_->mutex);
    core_->unmap_locked(*rec_);
    for (page_index p : rec_->pages) core_->memory.release(p);
  }
  std::span<std::byte> bytes() noexcept override { return view_.bytes(); }
  access mode() const noexcept override { return rec_->mode; }
  domid_t peer() const noexcept override { return rec_->granter->id; }
  std::span<const page_index> pages() const noexcept { return rec_->pages; }

 private:
  std::shared_ptr<host_core> core_;
  std::shared_ptr<map_record> rec_;
  page_view view_;
};

bool port_bound(const domain& d, evtchn_port_t port) {
  return port != 0 && port < d.ports.size() && d.ports[port].kind != port_kind::free;
}

result<void> check_notify(const domain& d, const unmap_notify& notify) {
  if (notify.clear_byte && *notify.clear_byte >= page_size) return fail(errc::invalid_argument);
  if (notify.port && !port_bound(d, *notify.port)) return fail(errc::bad_port);
  return {};
}

}  // namespace

std::span<const page_index> backing_pages(const shared_pages& s) {
  return dynamic_cast<const shared_pages_impl&>(s).pages();
}
std::span<const page_index> backing_pages(const mapped_pages& m) {
  return dynamic_cast<const mapped_pages_impl&>(m).pages();
}

result<std::unique_ptr<shared_pages>> host_core::share(const std::shared_ptr<domain>& owner, domid_t peer,
                                                       std::size_t pages, access peer_access,
                                                       unmap_notify notify, std::optional<grant_ref_t> fixed_ref) {
  std::lock_guard lock(mutex);
  domain& d = *owner;
  if (!d.alive()) return fail(errc::domain_dying);
  if (pages == 0) return fail(errc::invalid_argument);
  if (peer == domid_self) peer = d.id;
  if (peer >= domid_first_reserved) return fail(errc::invalid_argument);
  if (auto ok = check_notify(d, notify); !ok) return fail(ok.error());
  if (d.grants.size() + pages > std::min<std::size_t>(d.grant_limit, grant_ref_space - first_free_ref)) {
    return fail(errc::grant_exhausted);
  }
  if (fixed_ref) {
    if (pages != 1 || d.grants.contains(*fixed_ref)) return fail(errc::invalid_argument);
  } else if (fail_grant_locked()) {
    return fail(errc::grant_exhausted);
  }

  auto allocated = memory.allocate(pages);
  if (!allocated) return fail(allocated.error());
  auto view = memory.map(*allocated, true);
  if (!view) {
    for (page_index p : *allocated) memory.release(p);
    return fail(view.error());
  }

  auto rec = std::make_shared<share_record>();
  rec->owner = owner;
  rec->peer = peer;
  rec->pages = std::move(*allocated);
  rec->notify = notify;
  rec->refs.reserve(pages);
  for (page_index p : rec->pages) {
    grant_ref_t ref = 0;
    if (fixed_ref) {
      ref = *fixed_ref;
    } else {
      // Next-fit, so a freed ref is not handed out again at once (stale refs show up as errors).
      while (d.grants.contains(d.next_ref)) {
        d.next_ref = d.next_ref + 1 >= grant_ref_space ? first_free_ref : d.next_ref + 1;
      }
      ref = d.next_ref;
      d.next_ref = d.next_ref + 1 >= grant_ref_space ? first_free_ref : d.next_ref + 1;
    }
    d.grants.emplace(ref, grant_entry{peer, peer_access, p, true, 0});
    memory.retain(p);  // the sharer's view
    rec->refs.push_back(ref);
  }
  d.shares.insert(rec.get());
  return std::make_unique<shared_pages_impl>(shared_from_this(), std::move(rec), std::move(*view));
}

result<std::unique_ptr<mapped_pages>> host_core::map(const std::shared_ptr<domain>& mapper, domid_t peer,
                                                     std::span<const grant_ref_t> refs, access mode,
                                                     unmap_notify notify) {
  std::lock_guard lock(mutex);
  domain& self = *mapper;
  if (!self.alive()) return fail(errc::domain_dying);
  if (refs.empty()) return fail(errc::invalid_argument);
  if (peer == domid_self) peer = self.id;
  domain* granter = find_locked(peer);
  if (granter == nullptr) return fail(errc::no_such_domain);
  if (!granter->alive()) return fail(errc::domain_dying);

  std::vector<page_index> pages;
  pages.reserve(refs.size());
  for (grant_ref_t ref : refs) {
    auto it = granter->grants.find(ref);
    if (it == granter->grants.end() || !it->second.shared) return fail(errc::bad_grant_ref);
    if (it->second.grantee != self.id) return fail(errc::permission_denied);
    if (mode == access::read_write && it->second.mode == access::read_only) return fail(errc::permission_denied);
    pages.push_back(it->second.page);
  }
  if (notify.clear_byte && mode == access::read_only) return fail(errc::read_only);
  if (auto ok = check_notify(self, notify); !ok) return fail(ok.error());

  auto view = memory.map(pages, mode == access::read_write);
  if (!view) return fail(view.error());

  auto rec = std::make_shared<map_record>();
  rec->mapper = mapper;
  rec->granter = granter->shared_from_this();
  rec->refs.assign(refs.begin(), refs.end());
  rec->pages = std::move(pages);
  rec->mode = mode;
  rec->notify = notify;
  for (grant_ref_t ref : refs) ++granter->grants[ref].maps;
  for (page_index p : rec->pages) memory.retain(p);  // the mapper's view
  self.maps.insert(rec.get());
  return std::make_unique<mapped_pages_impl>(shared_from_this(), std::move(rec), std::move(*view));
}

void host_core::unshare_locked(share_record& rec) {
  if (!rec.active) return;
  rec.active = false;
  domain& d = *rec.owner;
  if (rec.notify.clear_byte) memory.write_byte(rec.pages.front(), *rec.notify.clear_byte, 0);
  if (rec.notify.port) signal_remote_locked(d, *rec.notify.port);
  for (grant_ref_t ref : rec.refs) {
    grant_entry& e = d.grants.at(ref);
    e.shared = false;
    if (e.maps == 0) free_grant_locked(d, ref);  // else freed by the grantee's last unmap
  }
  d.shares.erase(&rec);
  update_dead_locked(d);
}

void host_core::unmap_locked(map_record& rec) {
  if (!rec.active) return;
  rec.active = false;
  if (rec.notify.clear_byte) memory.write_byte(rec.pages.front(), *rec.notify.clear_byte, 0);
  if (rec.notify.port) signal_remote_locked(*rec.mapper, *rec.notify.port);
  domain& g = *rec.granter;
  for (grant_ref_t ref : rec.refs) {
    grant_entry& e = g.grants.at(ref);
    if (--e.maps == 0 && !e.shared) free_grant_locked(g, ref);
  }
  rec.mapper->maps.erase(&rec);
  update_dead_locked(g);
}

void host_core::free_grant_locked(domain& d, grant_ref_t ref) {
  auto it = d.grants.find(ref);
  memory.release(it->second.page);
  d.grants.erase(it);
}

void host_core::update_dead_locked(domain& d) {
  if (d.state == domain_state::dying && d.grants.empty()) {
    d.state = domain_state::dead;
    raise_dom_exc_locked();
  }
}

grant_table_impl::grant_table_impl(std::shared_ptr<host_core> core, std::shared_ptr<domain> dom)
    : core_(std::move(core)), dom_(std::move(dom)) {}

result<std::unique_ptr<shared_pages>> grant_table_impl::share(domid_t peer, std::size_t pages, access peer_access,
                                                              unmap_notify notify) {
  return core_->share(dom_, peer, pages, peer_access, notify);
}

result<std::unique_ptr<mapped_pages>> grant_table_impl::map(domid_t peer, std::span<const grant_ref_t> refs,
                                                            access mode, unmap_notify notify) {
  return core_->map(dom_, peer, refs, mode, notify);
}

}  // namespace xenwire::sim::detail
