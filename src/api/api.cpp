#include "api/api.hpp"

#include <algorithm>

#include <openssl/crypto.h>

#include <chrono>

#include "api/gov_writer.hpp"
#include "api/governance_runtime.hpp"
#include "api/messages_route.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "management/management.hpp"
#include "messages_api/messages_api.hpp"

namespace llmux::api {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {
constexpr http::Header kJson[] = {{"content-type", "application/json"}};

}  // namespace

Api::Api(engine::Gateway& gw, GovernanceRuntime& gov, net::any_io_executor ex, size_t worker,
         TimeoutSweep& sweep)
    : gw_(gw),
      engine_(gw, ex, worker, sweep),
      gk_(gov, gw, ex, worker),
      shard_(gw.metrics.shard(worker)) {}

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
  if (path == "/model/info" || path == "/v1/model/info") return Route::ModelInfo;
  if (path == "/model_group/info") return Route::ModelGroupInfo;
  if (path == "/utils/token_counter") return Route::TokenCounter;
  if (management::handles(path)) return Route::Management;
  return Route::NotFound;
}

RequestStatePool::Lease::Lease(RequestStatePool& pool) : pool_(pool) {
  if (pool_.free_.empty()) {
    s_ = std::make_unique<RequestState>();
    return;
  }
  s_ = std::move(pool_.free_.back());
  pool_.free_.pop_back();
}

RequestStatePool::Lease::~Lease() {
  constexpr size_t kMaxFree = 1024;  // bounds what a burst of concurrency leaves behind
  constexpr size_t kMaxKeptBytes = 64 * 1024;
  if (pool_.free_.size() >= kMaxFree) return;
  s_->st.reset();
  // An unusually large request's strings are not kept for the next one.
  for (std::string* t : {&s_->st.metadata, &s_->st.tags, &s_->st.endUser, &s_->st.model}) {
    if (t->capacity() > kMaxKeptBytes) std::string().swap(*t);
  }
  s_->gov.extra.clear();
  pool_.free_.push_back(std::move(s_));
}

net::awaitable<void> Api::refuseRoute(http::Request& req, http::ResponseWriter& out,
                                      engine::RequestOutcome& o, bool notFound, bool wantPost) {
  const auto path = req.path();
  if (notFound) {
    co_await engine_.sendError(
        out, GatewayError::notFound("Unknown route: " + std::string(utf8Prefix(path, 200)) + "."),
        o);
    co_return;
  }
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
}

net::awaitable<bool> Api::admitCaller(http::Request& req, http::ResponseWriter& out,
                                      engine::RequestOutcome& o, RequestGov& st) {
  std::optional<GatewayError> denied = co_await gk_.authenticate(req, st);
  if (!denied) co_return true;
  co_await engine_.sendError(out, *denied, o);
  co_return false;
}

net::awaitable<void> Api::otherCall(http::Request& req, http::ResponseWriter& out,
                                    engine::RequestOutcome& o, RequestGov& st, GovBuffers& gb,
                                    Route r) {
  gw_.metrics.shard(engine_.worker()).inFlight.fetch_add(1, std::memory_order_relaxed);
  st.callType = r == Route::Embeddings ? "embedding" : "text_completion";
  GovWriter writer(out, gk_, st, o, gb);
  if (auto e = co_await gk_.admitOther(req, st)) {
    co_await engine_.sendError(writer, *e, o);
  } else if (r == Route::Embeddings) {
    co_await engine_.embeddings(req, writer, o);
  } else {
    co_await engine_.completions(req, writer, o);
  }
  gw_.metrics.shard(engine_.worker()).inFlight.fetch_sub(1, std::memory_order_relaxed);
}

net::awaitable<void> Api::metrics(http::ResponseWriter& out, engine::RequestOutcome& o) {
  o.status = 200;
  static constexpr http::Header kProm[] = {
      {"content-type", "text/plain; version=0.0.4; charset=utf-8"}};
  std::string text = gw_.metrics.render();
  gk_.runtime().renderMetrics(text);
  co_await out.respond(200, kProm, text);
}

net::awaitable<void> Api::handle(http::Request& req, http::ResponseWriter& out) {
  RequestStatePool::Lease state(states_);
  engine::RequestOutcome& o = state->outcome;
  o = engine::RequestOutcome{};
  RequestGov& st = state->st;
  GovBuffers& gb = state->gov;
  const uint64_t bytesBefore = out.bytesWritten();
  const auto path = req.path();
  const auto method = req.head.method;
  const Route r = route(path);
  const bool wantPost = r == Route::ChatCompletions || r == Route::Embeddings ||
                        r == Route::Completions || r == Route::TokenCounter;
  // /health calls every deployment: it needs a key (LiteLLM's needs one too).
  const bool needsKey = wantPost || r == Route::Models || r == Route::Health ||
                        r == Route::ModelInfo || r == Route::ModelGroupInfo ||
                        r == Route::Management;
  const bool spendRoute =
      r == Route::ChatCompletions || r == Route::Embeddings || r == Route::Completions;

  // The refusals run in coroutines of their own, so their errors and strings are not part of
  // this frame (small enough for malloc's per-thread cache).
  if (r == Route::Messages || r == Route::CountTokens) {
    co_await messages(req, out, o, r, *state);
  } else if (r == Route::NotFound ||
             (r != Route::Management && ((wantPost && method != bhttp::verb::post) ||
                                         (!wantPost && method != bhttp::verb::get)))) {
    co_await refuseRoute(req, out, o, r == Route::NotFound, wantPost);
  } else if (needsKey && !co_await admitCaller(req, out, o, st)) {
    // refused: answered by admitCaller
  } else {
    switch (r) {
      case Route::ChatCompletions: {
        gw_.metrics.shard(engine_.worker()).inFlight.fetch_add(1, std::memory_order_relaxed);
        RequestAdmission admission(gk_, st);
        o.admission = &admission;
        GovWriter writer(out, gk_, st, o, gb);
        co_await engine_.chatCompletions(req, writer, o);
        gw_.metrics.shard(engine_.worker()).inFlight.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
      case Route::Embeddings:
      case Route::Completions:
        co_await otherCall(req, out, o, st, gb, r);
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
        co_await readiness(out, o);
        break;
      case Route::Metrics:
        co_await metrics(out, o);
        break;
      case Route::Management:
        co_await gk_.management(req, out, o, st);
        break;
      case Route::ModelInfo:
      case Route::ModelGroupInfo:
      case Route::TokenCounter:
        co_await info(req, out, o, r, st);
        break;
      case Route::Messages:
      case Route::CountTokens:
      case Route::NotFound:
        break;
    }
  }
  record(req, out, o, out.bytesWritten() - bytesBefore);
  if (spendRoute || st.callType == "anthropic_messages") {
    int status = o.status;
    if (out.clientGone() && status == 0) status = 499;
    gk_.finish(req, st, o, status);
  }
}

net::awaitable<void> Api::messages(http::Request& req, http::ResponseWriter& out,
                                   engine::RequestOutcome& o, Route r, RequestState& rs) {
  RequestGov& st = rs.st;
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
  if (auto denied = co_await gk_.authenticate(req, st)) {
    co_await fail(std::move(*denied));
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
    if (r == Route::CountTokens) {
      AnthropicErrorWriter writer(out);
      co_await engine_.messagesPassthrough(req, writer, o, true);
      co_return;
    }
    st.callType = "anthropic_messages";
    GovWriter gov(out, gk_, st, o, rs.gov);
    AnthropicErrorWriter writer(gov);
    if (auto e = co_await gk_.admitOther(req, st)) {
      co_await engine_.sendError(writer, *e, o);
      co_return;
    }
    gw_.metrics.shard(engine_.worker()).inFlight.fetch_add(1, std::memory_order_relaxed);
    co_await engine_.messagesPassthrough(req, writer, o, false);
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
  st.callType = "anthropic_messages";
  GovWriter gov(out, gk_, st, o, rs.gov);
  AnthropicWriter writer(gov, info);
  RequestAdmission admission(gk_, st);
  o.admission = &admission;
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
