#include "output_queue.hpp"

#include <algorithm>
#include <cassert>

#include "xenwire/xenstore/wire.hpp"

namespace xenwire::xenstore::detail {

namespace {
constexpr std::size_t max_spare = 8;
constexpr std::size_t max_spare_capacity = 8192;  // don't hoard big buffers
}  // namespace

std::string output_queue::take_buffer() {
  if (spare_.empty()) return {};
  std::string s = std::move(spare_.back());
  spare_.pop_back();
  s.clear();
  return s;
}

void output_queue::recycle(std::string buffer) {
  if (spare_.size() < max_spare && buffer.capacity() <= max_spare_capacity) spare_.push_back(std::move(buffer));
}

bool output_queue::push(std::string frame_bytes, kind k, time_point now) {
  assert(frame_bytes.size() >= header_size);
  if (k == kind::event && unsent_events_.contains(frame_bytes)) {
    recycle(std::move(frame_bytes));
    return false;
  }
  bytes_ += frame_bytes.size();
  frames_.push_back(frame{std::move(frame_bytes), k, now});
  if (k == kind::reply) {
    ++replies_;
  } else {
    unsent_events_.insert(frames_.back().bytes);
  }
  return true;
}

std::span<const std::byte> output_queue::front() const noexcept {
  if (frames_.empty()) return {};
  return std::as_bytes(std::span(frames_.front().bytes)).subspan(sent_);
}

std::size_t output_queue::stage(std::vector<std::byte>& into, std::size_t max) {
  into.clear();
  std::size_t skip = sent_;
  for (frame& f : frames_) {
    if (into.size() >= max) break;
    const auto bytes = std::as_bytes(std::span(f.bytes)).subspan(skip);
    const auto take = bytes.first(std::min(bytes.size(), max - into.size()));
    into.insert(into.end(), take.begin(), take.end());
    mark_started(f);
    skip = 0;
  }
  return into.size();
}

void output_queue::mark_started(frame& f) {
  if (f.started) return;
  f.started = true;
  if (f.k == kind::event) unsent_events_.erase(f.bytes);
}

void output_queue::pop_front() {
  frame& f = frames_.front();
  bytes_ -= f.bytes.size();
  if (f.k == kind::reply) {
    --replies_;
  } else if (!f.started) {
    unsent_events_.erase(f.bytes);
  }
  recycle(std::move(f.bytes));
  frames_.pop_front();
  sent_ = 0;
}

std::size_t output_queue::consume(std::size_t n) {
  std::size_t replies_done = 0;
  while (n > 0 && !frames_.empty()) {
    frame& f = frames_.front();
    mark_started(f);
    std::size_t take = std::min(f.bytes.size() - sent_, n);
    sent_ += take;
    n -= take;
    if (sent_ == f.bytes.size()) {
      if (f.k == kind::reply) ++replies_done;
      pop_front();
    }
  }
  return replies_done;
}

std::size_t output_queue::expire_events(time_point cutoff) {
  // Frames are in queue order, so the ones older than cutoff form a prefix. Replies always go out.
  std::size_t dropped = 0;
  for (auto it = frames_.begin(); it != frames_.end() && it->queued < cutoff;) {
    if (it->k == kind::event && !it->started) {
      unsent_events_.erase(it->bytes);
      bytes_ -= it->bytes.size();
      recycle(std::move(it->bytes));
      it = frames_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

std::optional<time_point> output_queue::oldest_unsent_event() const noexcept {
  for (const frame& f : frames_)
    if (f.k == kind::event && !f.started) return f.queued;
  return std::nullopt;
}

std::string output_queue::unsent(std::size_t& partial) const {
  std::string out;
  out.reserve(bytes_ - sent_);
  partial = frames_.empty() || sent_ == 0 ? 0 : frames_.front().bytes.size() - sent_;
  for (std::size_t i = 0; i < frames_.size(); ++i)
    out.append(std::string_view(frames_[i].bytes).substr(i == 0 ? sent_ : 0));
  return out;
}

void output_queue::push_rest(std::string rest, kind k) {
  assert(frames_.empty());
  bytes_ += rest.size();
  if (k == kind::reply) ++replies_;
  frames_.push_back(frame{std::move(rest), k, time_point{}, /*started=*/true});
}

void output_queue::clear() {
  while (!frames_.empty()) pop_front();
}

}  // namespace xenwire::xenstore::detail
