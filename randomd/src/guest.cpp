#include "xenwire/randomd/guest.hpp"

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "xenwire/randomd/discovery.hpp"
#include "xenwire/vchan/xenstore_rendezvous.hpp"

namespace xenwire::randomd {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

tl::unexpected<fetch_error> fetch_fail(fetch_errc c, std::error_code cause = {},
                                       std::optional<response_status> st = std::nullopt) {
  return tl::unexpected<fetch_error>(fetch_error{c, cause, st});
}

// A vchan failure in fetch terms.
tl::unexpected<fetch_error> io_fail(std::error_code ec) {
  if (ec == errc::timed_out) return fetch_fail(fetch_errc::timed_out, ec);
  if (ec == errc::peer_closed) return fetch_fail(fetch_errc::server_gone, ec);
  return fetch_fail(fetch_errc::vchan_error, ec);
}

std::chrono::milliseconds left_until(clock::time_point deadline) {
  return std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
}

// Not a secret and not entropy: only makes each request a distinct value.
std::uint64_t fresh_nonce() {
  // Relaxed: only the values must differ between calls; nothing is published through the counter.
  static std::atomic<std::uint64_t> counter{0};
  std::random_device rd;
  const std::uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  return (std::uint64_t{rd()} << 32) ^ rd() ^ (n * 0x9E3779B97F4A7C15ull) ^
         static_cast<std::uint64_t>(clock::now().time_since_epoch().count());
}

}  // namespace

const char* to_string(fetch_errc e) noexcept {
  switch (e) {
    case fetch_errc::timed_out: return "timed out";
    case fetch_errc::rate_limited: return "rate-limited beyond the timeout";
    case fetch_errc::refused: return "refused by randomd";
    case fetch_errc::unavailable: return "randomd's entropy source unavailable";
    case fetch_errc::server_gone: return "randomd closed the channel";
    case fetch_errc::protocol_error: return "malformed response";
    case fetch_errc::xenstore_error: return "cannot write the request node";
    case fetch_errc::vchan_error: return "vchan error";
    case fetch_errc::invalid_argument: return "invalid argument";
  }
  return "unknown error";
}

std::string fetch_error::message() const {
  std::string m = to_string(code);
  if (status) m += std::string(" (") + to_string(*status) + ")";
  if (cause) m += ": " + cause.message();
  return m;
}

struct entropy_client::state {
  fetch_options opts;
  std::unique_ptr<vchan::xenstore_rendezvous> rdv;
  std::optional<vchan::endpoint> ep;
  std::uint32_t next_id = 1;

  void count(std::uint64_t fetch_stats::*field, std::uint64_t v) const {
    if (opts.stats) opts.stats->*field += v;
  }

  // Reads exactly out.size() bytes (a response may be larger than the ring: stream it).
  result<void> read_exact(std::span<std::byte> out, clock::time_point deadline) {
    std::size_t got = 0;
    while (got < out.size()) {
      const auto left = left_until(deadline);
      if (left == 0ms) return fail(errc::timed_out);
      ep->set_io({.mode = vchan::io_mode::blocking, .timeout = left});
      auto r = ep->read(out.subspan(got));
      if (!r) return fail(r.error());
      got += *r;
    }
    count(&fetch_stats::vchan_bytes, out.size());
    return {};
  }
};

entropy_client::entropy_client(std::unique_ptr<state> s) noexcept : s_(std::move(s)) {}
entropy_client::entropy_client(entropy_client&&) noexcept = default;
entropy_client& entropy_client::operator=(entropy_client&&) noexcept = default;
entropy_client::~entropy_client() { close(); }

vchan::endpoint& entropy_client::channel() noexcept { return *s_->ep; }

void entropy_client::close() noexcept {
  if (s_ && s_->ep) s_->ep->close();
}

fetch_result<entropy_client> entropy_client::connect(xenstore::client& xs, transport& t,
                                                     std::chrono::milliseconds timeout, fetch_options opts) {
  if (opts.chunk == 0) return fetch_fail(fetch_errc::invalid_argument);
  const auto deadline = clock::now() + timeout;
  const domid_t self = t.self();
  if (auto w = xs.write(request_path(self), format_nonce(fresh_nonce())); !w)
    return fetch_fail(fetch_errc::xenstore_error, vchan::to_error_code(w.error()));
  auto s = std::make_unique<state>();
  s->opts = opts;
  s->rdv = std::make_unique<vchan::xenstore_rendezvous>(xs);
  for (;;) {
    vchan::client_config cc{.server = opts.server, .path = keys_path(opts.server, self), .io = {}};
    auto ep = vchan::connect_wait(t, *s->rdv, std::move(cc), left_until(deadline));
    if (ep) {
      s->ep.emplace(std::move(*ep));
      break;
    }
    // EACCES while randomd has not yet made our keys' directory readable (xenstored hides a
    // missing node under an unreadable parent): it will, once it has seen our domain.
    if (ep.error() != errc::permission_denied) return io_fail(ep.error());
    if (left_until(deadline) == 0ms) return fetch_fail(fetch_errc::timed_out, ep.error());
    std::this_thread::sleep_for(std::min(5ms, left_until(deadline)));
  }
  // The rendezvous is only needed to connect; it must not outlive `xs`.
  s->rdv.reset();
  return entropy_client(std::move(s));
}

fetch_result<std::vector<std::byte>> entropy_client::fetch(std::size_t n, std::chrono::milliseconds timeout) {
  if (!s_ || !s_->ep) return fetch_fail(fetch_errc::invalid_argument);
  state& st = *s_;
  const auto deadline = clock::now() + timeout;
  std::vector<std::byte> out(n);
  std::size_t got = 0;
  std::uint32_t chunk = st.opts.chunk;
  while (got < n) {
    const auto want = static_cast<std::uint32_t>(std::min<std::size_t>(chunk, n - got));
    const request q{.id = st.next_id++, .length = want};
    const auto frame = encode(q);
    const auto left = left_until(deadline);
    if (left == 0ms) return fetch_fail(fetch_errc::timed_out);
    st.ep->set_io({.mode = vchan::io_mode::blocking, .timeout = left});
    if (auto ok = st.ep->send(frame); !ok) return io_fail(ok.error());
    st.count(&fetch_stats::requests, 1);
    st.count(&fetch_stats::vchan_bytes, frame.size());

    std::array<std::byte, response_header_size> head{};
    if (auto ok = st.read_exact(head, deadline); !ok) return io_fail(ok.error());
    const auto h = decode_response(head);
    if (!h || h->version != protocol_version || h->reserved != 0 || h->id != q.id ||
        (h->status == response_status::ok ? h->length != want : h->length != 0))
      return fetch_fail(fetch_errc::protocol_error);
    switch (h->status) {
      case response_status::ok:
        if (auto ok = st.read_exact(std::span(out).subspan(got, want), deadline); !ok) return io_fail(ok.error());
        got += want;
        st.count(&fetch_stats::bytes, want);
        break;
      case response_status::rate_limited: {
        st.count(&fetch_stats::rate_limited, 1);
        const auto wait = std::chrono::milliseconds(std::max<std::uint32_t>(h->detail, 1));
        if (clock::now() + wait > deadline) return fetch_fail(fetch_errc::rate_limited, {}, h->status);
        std::this_thread::sleep_for(wait);
        if (st.opts.stats) st.opts.stats->waited += wait;
        break;
      }
      case response_status::too_large:
        // The server named its limit: ask for less, once per limit.
        if (h->detail == 0 || h->detail >= want) return fetch_fail(fetch_errc::refused, {}, h->status);
        chunk = h->detail;
        break;
      case response_status::bad_request: return fetch_fail(fetch_errc::refused, {}, h->status);
      case response_status::unavailable: {
        const auto wait = 20ms;
        if (clock::now() + wait > deadline) return fetch_fail(fetch_errc::unavailable, {}, h->status);
        std::this_thread::sleep_for(wait);
        break;
      }
    }
  }
  return out;
}

fetch_result<std::vector<std::byte>> fetch_entropy(xenstore::client& xs, transport& t, std::size_t n,
                                                   std::chrono::milliseconds timeout, fetch_options opts) {
  const auto deadline = clock::now() + timeout;
  auto c = entropy_client::connect(xs, t, timeout, opts);
  if (!c) return tl::unexpected(c.error());
  return c->fetch(n, left_until(deadline));
}

}  // namespace xenwire::randomd
