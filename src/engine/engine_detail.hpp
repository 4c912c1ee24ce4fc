#pragma once
// Helpers shared by the engine's translation units (engine.cpp, native.cpp); not a public API.
#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <chrono>
#include <ctime>
#include <optional>

#include "common/clock.hpp"
#include "engine/engine.hpp"
#include "providers/openai/openai.hpp"

namespace llmux::engine::detail {

namespace net = boost::asio;
namespace openai = providers::openai;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxUpstreamErrorBody = 1 << 20;
constexpr size_t kMaxUpstreamBody = 64u << 20;
constexpr auto kTok = net::as_tuple(net::use_awaitable);

inline uint64_t usSince(Clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
}

using llmux::steadyMs;
using llmux::wallMs;

// Aborts whichever upstream attempt is running, or the wait before the next one.
struct AbortAttempt final : http::ResponseWriter::Abortable {
  AbortAttempt(std::optional<upstream::Exchange>& e, net::steady_timer& t) : ex(e), timer(t) {}
  void abortNow() override {
    if (ex) ex->abort();
    timer.cancel();
  }
  std::optional<upstream::Exchange>& ex;
  net::steady_timer& timer;
};

// An upstream error answer the official SDKs would retry: x-should-retry decides when present;
// otherwise 408, 409, 429 (but not an exhausted quota) and every 5xx.
inline bool retryableAnswer(int status, const GatewayError& err, std::string_view shouldRetry) {
  if (shouldRetry == "true") return true;
  if (shouldRetry == "false") return false;
  if (err.code && *err.code == "insufficient_quota") return false;
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

struct RetryHint {
  bool retryable = false;
  std::optional<int64_t> retryAfterSeconds;
};

inline GatewayError mapUpstream(const providers::Adapter* adapter, int status,
                                std::string_view body, std::optional<int64_t> retryAfter) {
  if (adapter != nullptr) return adapter->mapError(status, body, retryAfter);
  return openai::mapUpstreamError(status, body, retryAfter);
}

inline RetryHint retryHint(const providers::Adapter* adapter, int status, std::string_view body,
                           std::optional<int64_t> retryAfter, std::string_view shouldRetry) {
  const GatewayError err = mapUpstream(adapter, status, body, retryAfter);
  return {retryableAnswer(status, err, shouldRetry), err.retryAfterSeconds};
}

struct AbortTimer final : http::ResponseWriter::Abortable {
  explicit AbortTimer(net::steady_timer& t) : timer(t) {}
  void abortNow() override { timer.cancel(); }
  net::steady_timer& timer;
};

// Stops watching the client on every exit path, before the Abortable it points to goes away.
struct WatchGuard {
  WatchGuard(http::ResponseWriter& o, http::ResponseWriter::Abortable* a) : out(o) {
    out.watchClient(a);
  }
  ~WatchGuard() { out.unwatchClient(); }
  WatchGuard(const WatchGuard&) = delete;
  WatchGuard& operator=(const WatchGuard&) = delete;
  http::ResponseWriter& out;
};

inline GatewayError failureError(upstream::Failure f, const DeploymentRt& d,
                                 const upstream::Exchange& ex, bool stream, const Scratch& sc) {
  using upstream::Failure;
  switch (f) {
    case Failure::Timeout: {
      auto ms = stream ? sc.streamTimeout.count() : sc.timeout.count();
      return GatewayError::gatewayTimeout(
          fmt::format("Upstream {} for deployment '{}' did not answer within {} ms.",
                      d.target.origin, d.cfg->id, ms));
    }
    case Failure::Connect:
      return GatewayError::badGateway(
          fmt::format("Could not connect to upstream for deployment '{}': {}.", d.cfg->id,
                      ex.errorDetail()),
          "upstream_connect_failed");
    case Failure::Protocol:
      return GatewayError::badGateway(
          fmt::format("Upstream for deployment '{}' sent an invalid HTTP response: {}.", d.cfg->id,
                      ex.errorDetail()),
          "upstream_protocol_error");
    default:
      return GatewayError::badGateway(
          fmt::format("Upstream connection for deployment '{}' failed: {}.", d.cfg->id,
                      ex.errorDetail()),
          "upstream_connection_reset");
  }
}

// The provider's requested wait in milliseconds (retry-after-ms, else Retry-After).
inline std::optional<int64_t> retryAfterMsOf(const upstream::Exchange& ex) {
  if (auto ms = ex.header("retry-after-ms"); !ms.empty()) {
    double v = 0;
    auto r = std::from_chars(ms.data(), ms.data() + ms.size(), v);
    if (r.ec == std::errc() && r.ptr == ms.data() + ms.size() && v >= 0 && v < 1e9) {
      return static_cast<int64_t>(v);
    }
  }
  if (auto ra = ex.header("retry-after"); !ra.empty()) {
    if (auto s = openai::parseRetryAfter(ra, static_cast<int64_t>(std::time(nullptr)))) {
      return *s * 1000;
    }
  }
  return std::nullopt;
}

inline std::optional<int64_t> retryAfterOf(const upstream::Exchange& ex) {
  if (auto ms = ex.header("retry-after-ms"); !ms.empty()) {
    if (auto v = openai::parseRetryAfterMs(ms)) return v;
  }
  if (auto ra = ex.header("retry-after"); !ra.empty()) {
    return openai::parseRetryAfter(ra, static_cast<int64_t>(std::time(nullptr)));
  }
  return std::nullopt;
}

// A ResponseWriter with no client behind it (health checks): keeps the status and body of a
// whole answer; streams are refused.
class SinkWriter final : public http::ResponseWriter {
 public:
  net::awaitable<bool> respond(int s, std::span<const http::Header>, std::string_view b) override {
    status = s;
    body.assign(b.substr(0, 4096));
    co_return true;
  }
  net::awaitable<bool> beginStream(int, std::span<const http::Header>) override { co_return false; }
  net::awaitable<bool> writeChunk(std::string_view, bool) override { co_return false; }
  net::awaitable<bool> endStream() override { co_return false; }
  void watchClient(Abortable*) override {}
  void unwatchClient() override {}
  [[nodiscard]] bool clientGone() const override { return false; }
  [[nodiscard]] uint64_t bytesWritten() const override { return 0; }
  int status = 0;
  std::string body;
};

// `buf` holds exactly one SSE event and it is an error: {"error":...}.
inline bool onlyErrorEvent(std::string_view buf) {
  constexpr std::string_view kHead = "data: {\"error\"";
  if (!buf.starts_with(kHead) || !buf.ends_with("\n\n")) return false;
  return buf.find("\n\n") == buf.size() - 2;
}

// The GatewayError of such an event (status 502: the provider failed, whatever it called it).
inline GatewayError errorOfEvent(std::string_view buf) {
  std::string_view json = buf.substr(6, buf.size() - 8);
  return openai::mapUpstreamError(502, json, std::nullopt);
}

// The client's object with "model" replaced, LiteLLM's gateway-only keys (drop_params) left out
// and, for streams with `forceUsage`, stream_options.include_usage forced on (the gateway accounts
// for tokens); every other member is copied as it came (minified). For requests the byte splice
// cannot serve (providers::openai::buildUpstreamBody).
inline void rewriteBody(simdjson::dom::object obj, std::string_view upstreamModel, bool stream,
                        std::string& out, bool forceUsage = true) {
  out.assign("{\"model\":");
  appendJsonString(out, upstreamModel);
  for (auto [key, value] : obj) {
    if (key == "model" || key == "drop_params" || types::isRouterField(key) ||
        (stream && forceUsage && key == "stream_options")) {
      continue;
    }
    out += ',';
    appendJsonString(out, key);
    out += ':';
    out += simdjson::minify(value);
  }
  if (stream && forceUsage) out += R"(,"stream_options":{"include_usage":true})";
  out += '}';
}

}  // namespace llmux::engine::detail
