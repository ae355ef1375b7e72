// A domain's xenwire::grant_table: forwards to the host core on behalf of that domain.
#pragma once

#include <memory>

#include "xenwire/ring/transport.hpp"

namespace xenwire::sim::detail {

class host_core;
class domain;

class grant_table_impl final : public grant_table {
 public:
  grant_table_impl(std::shared_ptr<host_core> core, std::shared_ptr<domain> dom);
  result<std::unique_ptr<shared_pages>> share(domid_t peer, std::size_t pages, access peer_access,
                                              unmap_notify notify) override;
  result<std::unique_ptr<mapped_pages>> map(domid_t peer, std::span<const grant_ref_t> refs, access mode,
                                            unmap_notify notify) override;

 private:
  std::shared_ptr<host_core> core_;
  std::shared_ptr<domain> dom_;
};

}  // namespace xenwire::sim::detail
