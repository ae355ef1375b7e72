// Drives a server_core through its real interface (feed bytes, read output) for tests and fuzzers:
// encode requests, collect replies and watch events per connection, check the store after each step.
#pragma once

#include <chrono>
#include <cstring>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "xenwire/xenstore/replies.hpp"
#include "xenwire/xenstore/server/core.hpp"
#include "xenwire/xenstore/wire.hpp"

namespace xenwire::xenstore::testing {

// Plays the adapter's part for the core's effects: INTRODUCE maps (or fails to, with fail_introduce)
// and completes, opening a ring connection as a real host would; releases, drops and log lines are
// recorded. Drops are not carried out: tests close connections themselves.
class recording_host {
 public:
  std::map<domid_t, conn_id> rings;
  std::vector<domid_t> released;
  std::vector<std::string> logs;
  std::vector<std::pair<conn_id, drop_reason>> drops;  // taken by core_harness::take_drops()
  std::vector<core_effect> seen;                       // every effect, in order (cleared by tests)
  bool fail_introduce = false;
  // Leaves INTRODUCEs pending (for tests of the two-phase protocol): they collect in `introductions`
  // until the test completes them.
  bool hold_introduce = false;
  std::vector<effect::introduce_domain> introductions;
  // CONTROL live-update requests, left for the test to complete.
  std::vector<effect::live_update> live_updates;

  // Carries out every queued effect; returns whether an INTRODUCE was completed (held input may move).
  bool run(server_core& core, time_point now) {
    bool completed = false;
    for (;;) {
      auto batch = core.take_effects();
      if (batch.empty()) return completed;
      for (core_effect& e : batch) {
        seen.push_back(e);
        if (auto* in = std::get_if<effect::introduce_domain>(&e)) {
          if (hold_introduce) {
            introductions.push_back(*in);
            continue;
          }
          complete(core, *in, now);
          completed = true;
        } else if (auto* rel = std::get_if<effect::release_domain>(&e)) {
          released.push_back(rel->domid);
        } else if (auto* d = std::get_if<effect::drop>(&e)) {
          drops.emplace_back(d->conn, d->reason);
        } else if (auto* lu = std::get_if<effect::live_update>(&e)) {
          live_updates.push_back(*lu);
        } else if (auto* l = std::get_if<effect::log>(&e)) {
          logs.push_back(l->text);
        }
      }
    }
  }
  result<conn_id> complete(server_core& core, const effect::introduce_domain& in, time_point now) {
    auto r = core.complete_introduce(in.token, fail_introduce ? result<void>(fail(errc::bad_grant_ref)) : result<void>(),
                                     now);
    if (r) rings[in.domid] = *r;
    return r;
  }
};

struct reply {
  msg_type type;
  std::string payload;
  bool is_error() const { return type == msg_type::error; }
  std::string error() const { return is_error() ? payload.substr(0, payload.find('\0')) : std::string(); }
  bool ok() const { return !is_error() && payload == std::string("OK\0", 3); }
  // The single string of a string reply ("value\0").
  std::string str() const { return payload.substr(0, payload.find('\0')); }
};

struct event {
  std::string path;
  std::string token;
  friend bool operator==(const event&, const event&) = default;
};

class core_harness {
 public:
  explicit core_harness(server_config cfg = {}) : core_(cfg) {}

  server_core& core() { return core_; }
  recording_host& host() { return host_; }
  time_point now() const { return now_; }
  void advance(std::chrono::milliseconds ms) {
    now_ += ms;
    core_.tick(now_);
    run_effects();
  }
  // Carries out the effects the core queued so far (see recording_host).
  bool run_effects() { return host_.run(core_, now_); }
  // Connections the core asked to drop since the last call.
  std::vector<std::pair<conn_id, drop_reason>> take_drops() {
    run_effects();
    return std::exchange(host_.drops, {});
  }

  conn_id dom0() {
    if (!dom0_) dom0_ = core_.open({conn_kind::socket, 0, false}, now_);
    return *dom0_;
  }
  conn_id open_socket(bool read_only = false) { return core_.open({conn_kind::socket, 0, read_only}, now_); }
  conn_id guest(domid_t domid) { return core_.open({conn_kind::guest_socket, domid, false}, now_); }

  // Sends one request, returns its reply; events that arrive meanwhile are kept for events().
  reply request(conn_id c, msg_type type, std::string_view payload, std::uint32_t tx = 0) {
    std::uint32_t req_id = next_req_++;
    send_raw(c, static_cast<std::uint32_t>(type), req_id, tx, payload);
    return take_reply(c, req_id);
  }
  void send_raw(conn_id c, std::uint32_t type, std::uint32_t req_id, std::uint32_t tx, std::string_view payload) {
    std::string frame;
    header h{type, req_id, tx, 0};
    (void)encode(frame, h, payload);
    pending_in_[c] += frame;
    pump(c);
  }
  // Feeds whatever the core would take now (quotas or a pending INTRODUCE may hold some back),
  // carries out the effects, and drains output. A completed INTRODUCE lets held input move again.
  void pump(conn_id c) {
    std::string& in = pending_in_[c];
    for (;;) {
      if (!in.empty()) {
        auto r = core_.feed(c, std::as_bytes(std::span(in.data(), in.size())), now_);
        if (!r) {
          protocol_errors_.push_back(c);
          run_effects();
          break;
        }
        in.erase(0, *r);
      }
      if (!run_effects() || in.empty()) break;
    }
    drain(c);
  }
  void drain(conn_id c) {
    for (;;) {
      auto out = core_.peek_output(c);
      if (out.empty()) break;
      std::string_view bytes(reinterpret_cast<const char*>(out.data()), out.size());
      decoders_[c] += bytes;
      core_.consume_output(c, out.size(), now_);
    }
    std::string& buf = decoders_[c];
    while (buf.size() >= header_size) {
      header h;
      std::memcpy(&h, buf.data(), sizeof h);
      if (buf.size() < header_size + h.len) break;
      std::string payload = buf.substr(header_size, h.len);
      buf.erase(0, header_size + h.len);
      if (h.type == static_cast<std::uint32_t>(msg_type::watch_event)) {
        auto ev = parse_watch_event(payload);
        if (ev) events_[c].push_back({std::string(ev->path), std::string(ev->token)});
      } else {
        replies_[c].emplace_back(h.req_id, reply{static_cast<msg_type>(h.type), std::move(payload)});
      }
    }
  }
  std::optional<reply> try_reply(conn_id c, std::uint32_t req_id) {
    auto& q = replies_[c];
    for (auto it = q.begin(); it != q.end(); ++it) {
      if (it->first == req_id) {
        reply r = std::move(it->second);
        q.erase(it);
        return r;
      }
    }
    return std::nullopt;
  }
  reply take_reply(conn_id c, std::uint32_t req_id) {
    if (auto r = try_reply(c, req_id)) return *r;
    return reply{msg_type::invalid, "<no reply>"};
  }
  std::vector<event> events(conn_id c) { return std::exchange(events_[c], {}); }
  std::vector<conn_id> protocol_errors() { return std::exchange(protocol_errors_, {}); }
  std::uint32_t last_req_id() const { return next_req_ - 1; }

  // Convenience wrappers for the common ops.
  reply read(conn_id c, std::string_view path, std::uint32_t tx = 0) { return request(c, msg_type::read, z(path), tx); }
  reply write(conn_id c, std::string_view path, std::string_view value, std::uint32_t tx = 0) {
    std::string p = z(path);
    p.append(value);
    return request(c, msg_type::write, p, tx);
  }
  reply mkdir(conn_id c, std::string_view path, std::uint32_t tx = 0) { return request(c, msg_type::mkdir, z(path), tx); }
  reply rm(conn_id c, std::string_view path, std::uint32_t tx = 0) { return request(c, msg_type::rm, z(path), tx); }
  reply directory(conn_id c, std::string_view path, std::uint32_t tx = 0) {
    return request(c, msg_type::directory, z(path), tx);
  }
  reply get_perms(conn_id c, std::string_view path, std::uint32_t tx = 0) {
    return request(c, msg_type::get_perms, z(path), tx);
  }
  reply set_perms(conn_id c, std::string_view path, std::vector<std::string> perms, std::uint32_t tx = 0) {
    std::string p = z(path);
    for (auto& e : perms) p += z(e);
    return request(c, msg_type::set_perms, p, tx);
  }
  reply watch(conn_id c, std::string_view path, std::string_view token) {
    return request(c, msg_type::watch, z(path) + z(token));
  }
  reply unwatch(conn_id c, std::string_view path, std::string_view token) {
    return request(c, msg_type::unwatch, z(path) + z(token));
  }
  std::uint32_t start(conn_id c) {
    auto r = request(c, msg_type::transaction_start, std::string_view("\0", 1));
    return r.is_error() ? 0 : static_cast<std::uint32_t>(std::stoul(r.str()));
  }
  reply end(conn_id c, std::uint32_t tx, bool commit) {
    return request(c, msg_type::transaction_end, commit ? std::string_view("T\0", 2) : std::string_view("F\0", 2), tx);
  }
  reply introduce(domid_t domid, std::uint64_t gfn = 1, evtchn_port_t port = 3) {
    return request(dom0(), msg_type::introduce,
                   z(std::to_string(domid)) + z(std::to_string(gfn)) + z(std::to_string(port)));
  }
  reply release(domid_t domid) { return request(dom0(), msg_type::release, z(std::to_string(domid))); }

  static std::string z(std::string_view s) {
    std::string r(s);
    r.push_back('\0');
    return r;
  }
  // "a\0b\0" → {"a", "b"}
  static std::vector<std::string> split(std::string_view payload) {
    std::vector<std::string> out;
    while (!payload.empty()) {
      auto n = payload.find('\0');
      if (n == std::string_view::npos) {
        out.emplace_back(payload);
        break;
      }
      out.emplace_back(payload.substr(0, n));
      payload.remove_prefix(n + 1);
    }
    return out;
  }

 private:
  recording_host host_;
  server_core core_;
  time_point now_{std::chrono::seconds(1000)};
  std::optional<conn_id> dom0_;
  std::uint32_t next_req_ = 1;
  std::map<conn_id, std::string> pending_in_;
  std::map<conn_id, std::string> decoders_;
  std::map<conn_id, std::deque<std::pair<std::uint32_t, reply>>> replies_;
  std::map<conn_id, std::vector<event>> events_;
  std::vector<conn_id> protocol_errors_;
};

}  // namespace xenwire::xenstore::testing
