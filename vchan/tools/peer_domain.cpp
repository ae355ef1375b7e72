#include "peer_domain.hpp"

#include "xenwire/vchan/xenstore_rendezvous.hpp"

namespace xenwire::vchan_proxy {

result<peer_domain> peer_domain::watch(transport& t, xenstore::client& xs, domid_t domid) {
  auto ev = t.open_event_channel();
  if (!ev) return tl::unexpected(ev.error());
  auto w = xs.add_watch("@releaseDomain");
  if (!w) return fail(vchan::to_error_code(w.error()));
  peer_domain p(std::move(*ev), domid, std::move(*w));
  if (auto ok = p.check(); !ok) return tl::unexpected(ok.error());
  return p;
}

result<void> peer_domain::check_due() {
  bool fired = false;
  while (release_.try_next()) fired = true;
  if (!fired && std::chrono::steady_clock::now() - last_ < std::chrono::seconds(1)) return {};
  return check();
}

result<void> peer_domain::check() {
  last_ = std::chrono::steady_clock::now();
  auto p = events_->bind_interdomain(domid_, 0);
  if (p) {  // cannot happen (port 0 is never unbound); give it back all the same
    (void)events_->unbind(*p);
    return {};
  }
  if (p.error() == errc::no_such_domain || p.error() == errc::domain_dying) return fail(errc::no_such_domain);
  return {};  // bad_port / invalid_argument: the domain is there
}

}  // namespace xenwire::vchan_proxy
