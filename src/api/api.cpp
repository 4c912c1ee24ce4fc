#include "api/api.hpp"

#include <algorithm>

#include <openssl/crypto.h>

#include <chrono>

#include "api/messages_route.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "messages_api/messages_api.hpp"

namespace llmux::api {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {
constexpr http::Header kJson[] = {{"content-type", "application/json"}};

}  // namespace

Api::Api(engine::Gateway& gw, net::any_io_executor ex, size_t worker, TimeoutSweep& sweep)
    : gw_(gw), engine_(gw, std::move(ex), worker, sweep), shard_(gw.metrics.shard(worker)) {}

Api::Route Api::route(std::string_view path) {
  if (path == "/v1/chat/completions" || path == "/chat/completions") return Route::ChatCompletions;
  if (path == "/v1/embeddings" || path == "/embeddings") return Route::Embeddings;
  if (path == "/v1/completions" || path == "/completions") return Route::Completions;
  if (path == "/v1/messages") return Route::Messages;
  if (path == "/v1/messages/count_tokens") return Route::CountTokens;
  if (path == "/v1/models" || path == "/models") return Route::Models;
  if (path == "/health" || path == "/health/") return Route::Health;
  if (path == "/health/liveliness" || path == "/health/liveness") return Route::Liveliness;
  if (path == "/health/readiness") return Route::Readiness;
  if (path == "/metrics" || path == "/metrics/") return Route::Metrics;
  return Route::NotFound;
}

bool Api::authorized(const http::Request& req) const {
  const std::string& key = gw_.cfg.masterKey;
  if (key.empty()) return true;
  // Constant-time comparison: the key must not leak through response timing.
  auto matches = [&](std::string_view v) {
    return v.size() == key.size() && CRYPTO_memcmp(v.data(), key.data(), key.size()) == 0;
  };
  std::string_view auth = req.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() >= kBearer.size() &&
      boost::beast::iequals(auth.substr(0, kBearer.size()), kBearer)) {
    auth.remove_prefix(kBearer.size());
    while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
    return matches(auth);
  }
  // The Anthropic SDKs send x-api-key; Azure OpenAI clients send api-key.
  if (auto k = req.header("x-api-key"); !k.empty()) return matches(k);
  if (auto k = req.header("api-key"); !k.empty()) return matches(k);
  return false;
}

net::awaitable<void> Api::handle(http::Request& req, http::ResponseWriter& out) {
  engine::RequestOutcome o;
  const uint64_t bytesBefore = out.bytesWritten();
  const auto path = req.path();
  const auto method = req.head.method;
  const Route r = route(path);
  const bool wantPost =
      r == Route::ChatCompletions || r == Route::Embeddings || r == Route::Completions;
  // /health calls every deployment: it needs a key (LiteLLM's needs one too).
  const bool llmRoute = wantPost || r == Route::Models || r == Route::Health;

  if (r == Route::Messages || r == Route::CountTokens) {
    co_await messages(req, out, o, r);
  } else if (r == Route::NotFound) {
    co_await engine_.sendError(
        out, GatewayError::notFound("Unknown route: " + std::string(utf8Prefix(path, 200)) + "."),
        o);
  } else if ((wantPost && method != bhttp::verb::post) ||
             (!wantPost && method != bhttp::verb::get)) {
    GatewayError e{405,
                   "invalid_request_error",
                   std::string("Method ") + req.head.methodString.substr(0, 20) +
                       " is not allowed on " + std::string(path) + "; use " +
                       (wantPost ? "POST" : "GET") + ".",
                   {},
                   "method_not_allowed",
                   {}};
    const http::Header allow[] = {{"allow", wantPost ? "POST" : "GET"}};
    co_await engine_.sendError(out, e, o, allow);
  } else if (llmRoute && !authorized(req)) {
    co_await engine_.sendError(
        out,
        GatewayError::authentication(
            "Authentication failed: send 'Authorization: Bearer <key>' with a valid llmux key."),
        o);
  } else {
    switch (r) {
      case Route::ChatCompletions:
        gw_.metrics.shard(engine_.worker()).inFlight.fetch_add(1, std::memory_order_relaxed);
        co_await engine_.chatCompletions(req, out, o);
        gw_.metrics.shard(engine_.worker()).inFlight.fetch_sub(1, std::memory_order_relaxed);
        break;
      case Route::Embeddings:
        gw_.metrics.shard(engine_.worker()).inFlight.fetch_add(1, std::memory_order_relaxed);
        co_await engine_.embeddings(req, out, o);
        gw_.metrics.shard(engine_.worker()).inFlight.fetch_sub(1, std::memory_order_relaxed);
        break;
      case Route::Completions:
        gw_.metrics.shard(engine_.worker()).inFlight.fetch_add(1, std::memory_order_relaxed);
        co_await engine_.completions(req, out, o);
        gw_.metrics.shard(engine_.worker()).inFlight.fetch_sub(1, std::memory_order_relaxed);
        break;
      case Route::Models:
        o.status = 200;
        co_await out.respond(200, kJson, gw_.modelsJson);
        break;
      case Route::Health:
        co_await engine_.health(req, out, o);
        break;
      case Route::Liveliness:
        o.status = 200;
        co_await out.respond(200, kJson, "\"I'm alive!\"");
        break;
      case Route::Readiness:
        if (gw_.draining.load(std::memory_order_relaxed)) {
          o.status = 503;
          co_await out.respond(503, kJson, R"({"status":"draining"})");
        } else {
          o.status = 200;
          co_await out.respond(200, kJson,
                               R"({"status":"healthy","version":")" LLMUX_VERSION R"("})");
        }
        break;
      case Route::Metrics: {
        o.status = 200;
        static constexpr http::Header kProm[] = {
            {"content-type", "text/plain; version=0.0.4; charset=utf-8"}};
        std::string text = gw_.metrics.render();
        co_await out.respond(200, kProm, text);
        break;
      }
      case Route::Messages:
      case Route::CountTokens:
      case Route::NotFound:
        break;
    }
  }
  record(req, out, o, out.bytesWritten() - bytesBefore);
}

net::awaitable<void> Api::messages(http::Request& req, http::ResponseWriter& out,
                                   engine::RequestOutcome& o, Route r) {
  // Errors before the engine runs are answered in Anthropic's shape too.
  auto fail = [&](GatewayError e,
                  std::span<const http::Header> extra = {}) -> net::awaitable<void> {
    o.status = messages_api::anthropicStatus(e);
    o.errorType = e.type;
    const std::string body = messages_api::toAnthropicError(e, req.requestId);
    std::array<http::Header, 2> h{http::Header{"content-type", "application/json"}};
    size_t n = 1;
    for (const auto& x : extra) {
      if (n < h.size()) h[n++] = x;
    }
    co_await out.respond(o.status, std::span<const http::Header>(h.data(), n), body);
  };
  if (req.head.method != bhttp::verb::post) {
    const http::Header allow[] = {{"allow", "POST"}};
    co_await fail(GatewayError{405,
                               "invalid_request_error",
                               "Method " + std::string(req.head.methodString.substr(0, 20)) +
                                   " is not allowed on " + std::string(req.path()) + "; use POST.",
                               {},
                               "method_not_allowed",
                               {}},
                  allow);
    co_return;
  }
  if (!authorized(req)) {
    co_await fail(GatewayError::authentication(
        "Authentication failed: send 'x-api-key: <key>' or 'Authorization: Bearer <key>' with a "
        "valid llmux key."));
    co_return;
  }
  simdjson::dom::element doc;
  const std::string& body = req.body();
  if (messagesParser_.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      !doc.is_object()) {
    co_await fail(GatewayError::invalidRequest("The request body is not a valid JSON object."));
    co_return;
  }
  if (std::string_view model;
      doc["model"].get(model) == simdjson::SUCCESS && engine_.servesAnthropicNatively(model)) {
    // Anthropic in, Anthropic out: relayed as it is, nothing lost in translation (and tokens
    // counted by Anthropic itself).
    AnthropicErrorWriter writer(out);
    gw_.metrics.shard(engine_.worker()).inFlight.fetch_add(1, std::memory_order_relaxed);
    co_await engine_.messagesPassthrough(req, writer, o, r == Route::CountTokens);
    gw_.metrics.shard(engine_.worker()).inFlight.fetch_sub(1, std::memory_order_relaxed);
    co_return;
  }
  if (r == Route::CountTokens) {
    o.status = 200;
    const std::string answer =
        messages_api::countTokensBody(messages_api::estimateInputTokens(doc));
    co_await out.respond(200, kJson, answer);
    co_return;
  }
  std::string openaiBody;
  messages_api::RequestInfo info;
  if (auto err = messages_api::toOpenAIRequest(doc, openaiBody, info)) {
    co_await fail(*err);
    co_return;
  }
  info.idFallback = std::string(req.requestId);
  req.head.body.swap(openaiBody);
  AnthropicWriter writer(out, info);
  gw_.metrics.shard(engine_.worker()).inFlight.fetch_add(1, std::memory_order_relaxed);
  co_await engine_.chatCompletions(req, writer, o);
  gw_.metrics.shard(engine_.worker()).inFlight.fetch_sub(1, std::memory_order_relaxed);
}

void Api::record(const http::Request& req, const http::ResponseWriter& out,
                 const engine::RequestOutcome& o, uint64_t bytesOut) {
  const uint64_t totalUs = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - req.received).count());
  int status = o.status;
  if (out.clientGone() && status == 0) status = 499;
  observability::Metrics::Observation ob;
  ob.deployment = o.deployment;
  ob.group = o.group;
  ob.status = status;
  ob.totalUs = totalUs;
  ob.upstreamUs = o.upstreamUs;
  ob.ttftUs = o.ttftUs;
  ob.promptTokens = static_cast<uint64_t>(o.promptTokens > 0 ? o.promptTokens : 0);
  ob.completionTokens = static_cast<uint64_t>(o.completionTokens > 0 ? o.completionTokens : 0);
  observability::Metrics::record(shard_, ob);

  auto& log = *gw_.accessLog;
  if (!log.enabled()) return;
  observability::AccessRecord a;
  a.unixMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  a.requestId.set(req.requestId);
  a.method.set(req.head.methodString);
  a.path.set(req.path());
  a.status = status;
  if (o.deployment >= 0) {
    const auto& d = gw_.deployments[static_cast<size_t>(o.deployment)];
    a.modelGroup.set(d.cfg->modelName);
    a.deployment.set(d.cfg->id);
  }
  a.errorType.set(o.errorType);
  a.attempts = static_cast<uint16_t>(std::clamp(o.attempts, 0, 65535));
  a.fallback = o.fallbackUsed;
  a.attemptLog.set(o.attemptLog);
  a.stream = o.stream;
  a.totalUs = totalUs;
  a.upstreamUs = o.upstreamUs;
  a.ttftUs = o.ttftUs;
  a.overheadUs = o.upstreamUs ? (totalUs > o.upstreamUs ? totalUs - o.upstreamUs : 0) : totalUs;
  a.promptTokens = ob.promptTokens;
  a.completionTokens = ob.completionTokens;
  a.bytesIn = req.bytesIn;
  a.bytesOut = bytesOut;
  log.push(req.worker, a);
}

}  // namespace llmux::api
