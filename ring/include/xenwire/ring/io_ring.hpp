// xen/include/public/io/ring.h's request/response rings (the split-driver rings) as a template over
// the entry types, with the shared header pinned and the front/back algorithms of its macros.
//
// Shared region: a 64-byte header {req_prod, req_event, rsp_prod, rsp_event, 48 bytes of padding}
// followed by N slots, each the size of union {Req; Rsp;}, N = the largest power of two that fits.
// Each side keeps its private indices (front: req_prod_pvt, rsp_cons; back: rsp_prod_pvt,
// req_cons) and a private copy of the producer index it published, so a peer rewriting our fields
// cannot move us. Entries are copied out before use; peer producer indices that claim more entries
// than possible put the ring into a sticky errc::ring_corrupt state.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <system_error>
#include <type_traits>

#include "xenwire/base/error.hpp"
#include "xenwire/ring/shared_memory.hpp"

namespace xenwire::io_ring {

using ring_idx = std::uint32_t;  // RING_IDX

struct shared_header {
  ring_idx req_prod, req_event;
  ring_idx rsp_prod, rsp_event;
  std::uint8_t pad[48];  // ring.h: pvt (4 bytes, netif/tapif) + __pad[44]
};
static_assert(offsetof(shared_header, req_prod) == 0);
static_assert(offsetof(shared_header, req_event) == 4);
static_assert(offsetof(shared_header, rsp_prod) == 8);
static_assert(offsetof(shared_header, rsp_event) == 12);
static_assert(sizeof(shared_header) == 64);

// The reference notify rule: signal iff the peer's event index lies in (old, new].
constexpr bool needs_notify(ring_idx old_prod, ring_idx new_prod, ring_idx event) noexcept {
  return static_cast<ring_idx>(new_prod - event) < static_cast<ring_idx>(new_prod - old_prod);
}

template <class Req, class Rsp>
struct geometry {
  static_assert(std::is_trivially_copyable_v<Req> && std::is_trivially_copyable_v<Rsp>,
                "entries cross a trust boundary as bytes");
  union slot {
    Req req;
    Rsp rsp;
  };
  static constexpr std::size_t slot_size = sizeof(slot);
  static constexpr std::size_t entries_offset =
      (sizeof(shared_header) + alignof(slot) - 1) / alignof(slot) * alignof(slot);
  // __RING_SIZE: the largest power of two number of slots after the header, 0 if none fits.
  static constexpr ring_idx entries(std::size_t region_bytes) noexcept {
    if (region_bytes < entries_offset + slot_size) return 0;
    const std::size_t n = (region_bytes - entries_offset) / slot_size;
    return static_cast<ring_idx>(std::bit_floor(std::min<std::size_t>(n, std::size_t{1} << 31)));
  }
};

namespace detail {

// Common state of both ends: the region, its geometry and the sticky error.
template <class Req, class Rsp>
class ring_base {
 public:
  using geo = geometry<Req, Rsp>;
  ring_idx size() const noexcept { return size_; }
  std::error_code error() const noexcept { return error_; }

 protected:
  static result<void> check(std::span<std::byte> region) noexcept {
    if (reinterpret_cast<std::uintptr_t>(region.data()) % alignof(typename geo::slot) != 0 ||
        reinterpret_cast<std::uintptr_t>(region.data()) % alignof(shared_header) != 0) {
      return fail(errc::invalid_argument);
    }
    if (geo::entries(region.size()) == 0) return fail(errc::invalid_argument);
    return {};
  }
  explicit ring_base(std::span<std::byte> region) noexcept
      : base_(region.data()), size_(geo::entries(region.size())) {}

  ring_idx* field(std::size_t offset) const noexcept {
    return static_cast<ring_idx*>(static_cast<void*>(base_ + offset));
  }
  std::byte* slot_at(ring_idx i) const noexcept {
    return base_ + geo::entries_offset + std::size_t{i & (size_ - 1)} * geo::slot_size;
  }
  tl::unexpected<std::error_code> corrupt() noexcept {
    error_ = make_error_code(errc::ring_corrupt);
    return fail(error_);
  }

  std::byte* base_;
  ring_idx size_;
  std::error_code error_;
};

}  // namespace detail

// The front end (frontend driver): produces requests, consumes responses.
template <class Req, class Rsp>
class front_ring : public detail::ring_base<Req, Rsp> {
  using base = detail::ring_base<Req, Rsp>;

 public:
  // SHARED_RING_INIT + FRONT_RING_INIT: the front end owns a fresh region and initialises it.
  static result<front_ring> init(std::span<std::byte> region) noexcept {
    if (auto ok = base::check(region); !ok) return fail(ok.error());
    front_ring r(region, 0);
    // Relaxed: the region reaches the back end through grant + xenstore, which order these stores.
    shm::store_relaxed(r.field(offsetof(shared_header, req_prod)), ring_idx{0});
    shm::store_relaxed(r.field(offsetof(shared_header, rsp_prod)), ring_idx{0});
    shm::store_relaxed(r.field(offsetof(shared_header, req_event)), ring_idx{1});
    shm::store_relaxed(r.field(offsetof(shared_header, rsp_event)), ring_idx{1});
    return r;
  }
  // FRONT_RING_ATTACH: resume on an initialised region at index `start`.
  static result<front_ring> attach(std::span<std::byte> region, ring_idx start) noexcept {
    if (auto ok = base::check(region); !ok) return fail(ok.error());
    return front_ring(region, start);
  }

  ring_idx free_requests() const noexcept { return this->size_ - (req_prod_pvt_ - rsp_cons_); }
  bool full() const noexcept { return free_requests() == 0; }

  // Queues a request privately (RING_GET_REQUEST + req_prod_pvt++); fails with would_block if full.
  result<void> queue_request(const Req& req) noexcept {
    if (this->error_) return fail(this->error_);
    if (full()) return fail(errc::would_block);
    std::memcpy(this->slot_at(req_prod_pvt_), &req, sizeof(Req));
    ++req_prod_pvt_;
    return {};
  }

  // RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: publishes queued requests; true if the back end must be
  // signalled.
  bool push_requests_and_check_notify() noexcept {
    const ring_idx old_prod = published_, new_prod = req_prod_pvt_;
    published_ = new_prod;
    // Pairs with the back end's acquire load of req_prod: the request slots are written before it.
    shm::store_release(this->field(offsetof(shared_header, req_prod)), new_prod);
    // Store req_prod, then load req_event: pairs with the fence in the back end's final check.
    shm::full_fence();
    return needs_notify(old_prod, new_prod, shm::load_relaxed(this->field(offsetof(shared_header, req_event))));
  }

  // Copies out the next response, or nullopt if none. A back end claiming more responses than the
  // ring holds → sticky ring_corrupt (RING_RESPONSE_PROD_OVERFLOW).
  result<std::optional<Rsp>> take_response() noexcept {
    auto n = unconsumed();
    if (!n) return fail(n.error());
    if (*n == 0) return std::optional<Rsp>{};
    Rsp rsp;
    std::memcpy(&rsp, this->slot_at(rsp_cons_), sizeof(Rsp));
    ++rsp_cons_;
    return std::optional<Rsp>{rsp};
  }

  // Responses ready (RING_HAS_UNCONSUMED_RESPONSES), checking consistency.
  result<ring_idx> unconsumed() noexcept {
    if (this->error_) return fail(this->error_);
    // Pairs with the back end's release store of rsp_prod: the response slots are written.
    const ring_idx prod = shm::load_acquire(this->field(offsetof(shared_header, rsp_prod)));
    const ring_idx n = prod - rsp_cons_;
    // More responses than requests we published (never more than the ring holds) cannot be honest.
    if (n > published_ - rsp_cons_) return this->corrupt();
    return n;
  }

  // RING_FINAL_CHECK_FOR_RESPONSES: true if responses are waiting (do not sleep); otherwise asks to
  // be signalled on the next one (rsp_event = rsp_cons + 1) and looks again.
  result<bool> final_check_for_responses() noexcept {
    auto n = unconsumed();
    if (!n) return fail(n.error());
    if (*n != 0) return true;
    shm::store_relaxed(this->field(offsetof(shared_header, rsp_event)), rsp_cons_ + 1);
    // Store rsp_event, then load rsp_prod: pairs with the fence in the back end's push.
    shm::full_fence();
    n = unconsumed();
    if (!n) return fail(n.error());
    return *n != 0;
  }

  ring_idx req_prod_pvt() const noexcept { return req_prod_pvt_; }
  ring_idx rsp_cons() const noexcept { return rsp_cons_; }

 private:
  front_ring(std::span<std::byte> region, ring_idx start) noexcept
      : base(region), req_prod_pvt_(start), rsp_cons_(start), published_(start) {}
  ring_idx req_prod_pvt_, rsp_cons_, published_;
};

// The back end (backend driver): consumes requests, produces responses.
template <class Req, class Rsp>
class back_ring : public detail::ring_base<Req, Rsp> {
  using base = detail::ring_base<Req, Rsp>;

 public:
  // BACK_RING_ATTACH (BACK_RING_INIT is start = 0) on a region the front end initialised.
  static result<back_ring> attach(std::span<std::byte> region, ring_idx start = 0) noexcept {
    if (auto ok = base::check(region); !ok) return fail(ok.error());
    return back_ring(region, start);
  }

  // Requests we may take now (RING_HAS_UNCONSUMED_REQUESTS: bounded by free response slots). A
  // front end claiming more requests than the ring holds → sticky ring_corrupt.
  result<ring_idx> unconsumed() noexcept {
    if (this->error_) return fail(this->error_);
    // Pairs with the front end's release store of req_prod: the request slots are written.
    const ring_idx prod = shm::load_acquire(this->field(offsetof(shared_header, req_prod)));
    // Measured from our answered point: taken <= claimed <= size, else the front end lies
    // (RING_REQUEST_PROD_OVERFLOW, or req_prod moved back behind what we already took).
    const ring_idx claimed = prod - rsp_prod_pvt_;
    const ring_idx taken = req_cons_ - rsp_prod_pvt_;
    if (claimed > this->size_ || claimed < taken) return this->corrupt();
    const ring_idx req = claimed - taken;
    const ring_idx rsp_room = this->size_ - taken;
    return req < rsp_room ? req : rsp_room;
  }

  // Copies out the next request, or nullopt if none may be taken now.
  result<std::optional<Req>> take_request() noexcept {
    auto n = unconsumed();
    if (!n) return fail(n.error());
    if (*n == 0) return std::optional<Req>{};
    Req req;
    std::memcpy(&req, this->slot_at(req_cons_), sizeof(Req));
    ++req_cons_;
    return std::optional<Req>{req};
  }

  // Queues a response privately; fails with invalid_argument if no taken request is unanswered.
  result<void> queue_response(const Rsp& rsp) noexcept {
    if (this->error_) return fail(this->error_);
    if (rsp_prod_pvt_ == req_cons_) return fail(errc::invalid_argument);
    std::memcpy(this->slot_at(rsp_prod_pvt_), &rsp, sizeof(Rsp));
    ++rsp_prod_pvt_;
    return {};
  }

  // RING_PUSH_RESPONSES_AND_CHECK_NOTIFY.
  bool push_responses_and_check_notify() noexcept {
    const ring_idx old_prod = published_, new_prod = rsp_prod_pvt_;
    published_ = new_prod;
    // Pairs with the front end's acquire load of rsp_prod: the response slots are written.
    shm::store_release(this->field(offsetof(shared_header, rsp_prod)), new_prod);
    // Store rsp_prod, then load rsp_event: pairs with the fence in the front end's final check.
    shm::full_fence();
    return needs_notify(old_prod, new_prod, shm::load_relaxed(this->field(offsetof(shared_header, rsp_event))));
  }

  // RING_FINAL_CHECK_FOR_REQUESTS.
  result<bool> final_check_for_requests() noexcept {
    auto n = unconsumed();
    if (!n) return fail(n.error());
    if (*n != 0) return true;
    shm::store_relaxed(this->field(offsetof(shared_header, req_event)), req_cons_ + 1);
    // Store req_event, then load req_prod: pairs with the fence in the front end's push.
    shm::full_fence();
    n = unconsumed();
    if (!n) return fail(n.error());
    return *n != 0;
  }

  ring_idx req_cons() const noexcept { return req_cons_; }
  ring_idx rsp_prod_pvt() const noexcept { return rsp_prod_pvt_; }

 private:
  back_ring(std::span<std::byte> region, ring_idx start) noexcept
      : base(region), req_cons_(start), rsp_prod_pvt_(start), published_(start) {}
  ring_idx req_cons_, rsp_prod_pvt_, published_;
};

}  // namespace xenwire::io_ring
