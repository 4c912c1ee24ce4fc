#include "engine/engine.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <ctime>

#include "common/text.hpp"
#include "engine/engine_detail.hpp"
#include "providers/mock/mock.hpp"
#include "providers/openai/openai.hpp"

namespace llmux::engine {

namespace net = boost::asio;
namespace openai = providers::openai;
using Clock = std::chrono::steady_clock;

using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

void Scratch::trim() {
  constexpr size_t kKeep = 256 * 1024;
  for (std::string* b : {&upHead, &upBody, &respBody, &outBuf, &upRead, &chat.lastUserText,
                         &inlinedBody, &call.body, &call.headers, &dropped}) {
    if (b->capacity() > kKeep) std::string().swap(*b);
  }
  upHeaders.shrink(kKeep);
  sse.reset();
}

ScratchPool::Lease ScratchPool::get() {
  if (free_.empty()) return Lease(*this, std::make_unique<Scratch>());
  auto s = std::move(free_.back());
  free_.pop_back();
  return Lease(*this, std::move(s));
}

void ScratchPool::put(std::unique_ptr<Scratch> s) {
  constexpr size_t kMaxFree = 1024;  // bounds the memory kept after a burst of concurrency
  if (!s || free_.size() >= kMaxFree) return;
  s->trim();
  free_.push_back(std::move(s));
}

Engine::Engine(Gateway& gw, net::any_io_executor ex, size_t worker, TimeoutSweep& sweep)
    : gw_(gw),
      ex_(ex),
      worker_(worker),
      client_(ex, gw.tls, sweep),
      wrr_(gw.deployments.size(), 0.0),
      rng_(0x9e3779b97f4a7c15ULL ^ (static_cast<uint64_t>(worker) + 1) * 0xbf58476d1ce4e5b9ULL ^
           static_cast<uint64_t>(Clock::now().time_since_epoch().count())) {}

const DeploymentRt& Engine::pick(const ModelGroup& g) {
  // Smooth weighted round-robin over the group's preferred tier (nginx's algorithm): every
  // deployment gains its weight, the leader is chosen and pays the total back. Deterministic, and
  // it interleaves instead of sending bursts to the heaviest deployment.
  const auto& tier = g.tier;
  if (tier.size() == 1) return gw_.deployments[tier[0]];
  size_t best = tier[0];
  double total = 0;
  for (size_t i : tier) {
    wrr_[i] += gw_.deployments[i].weight;
    total += gw_.deployments[i].weight;
    if (wrr_[i] > wrr_[best]) best = i;
  }
  wrr_[best] -= total;
  return gw_.deployments[best];
}

net::awaitable<void> Engine::sendError(http::ResponseWriter& out, const GatewayError& err,
                                       RequestOutcome& outcome,
                                       std::span<const http::Header> extra) {
  outcome.status = err.status;
  outcome.errorType = err.type;
  const std::string json = err.toJson();  // error path: an allocation is fine here
  Headers h;
  h.add("content-type", "application/json");
  for (const auto& x : extra) h.add(x.first, x.second);
  char ra[24];
  if (err.retryAfterSeconds) {
    auto r = std::to_chars(ra, ra + sizeof ra, *err.retryAfterSeconds);
    h.add("retry-after", std::string_view(ra, static_cast<size_t>(r.ptr - ra)));
  }
  co_await out.respond(err.status, h.span(), json);
}

net::awaitable<void> Engine::chatCompletions(http::Request& req, http::ResponseWriter& out,
                                             RequestOutcome& outcome) {
  auto sc = scratch_.get();
  if (auto e = types::parseChatRequest(req.body(), sc->chat)) {
    co_await sendError(out, *e, outcome);
    co_return;
  }
  const types::ChatRequest& chat = sc->chat;
  outcome.stream = chat.stream;
  const ModelGroup* g = gw_.findGroup(chat.model);
  if (g == nullptr) {
    auto e = GatewayError::notFound(fmt::format("Model '{}' not found. Available models: {}.",
                                                utf8Prefix(chat.model, 200), gw_.availableModels),
                                    "model_not_found");
    e.param = "model";
    co_await sendError(out, e, outcome);
    co_return;
  }
  const DeploymentRt& d = pick(*g);
  outcome.group = static_cast<int>(d.group);
  outcome.deployment = static_cast<int>(d.index);
  switch (d.kind) {
    case ProviderKind::Mock:
      co_await runMock(req, chat, d, out, outcome);
      break;
    case ProviderKind::OpenAI:
      buildOpenAIHead(req, chat, d, *sc);
      co_await runUpstream(req, chat, d, out, outcome, *sc);
      break;
    case ProviderKind::Native:
      co_await runNative(req, chat, d, out, outcome, *sc);
      break;
    case ProviderKind::Unsupported: {
      const http::Header hs[] = {{"x-llmux-model-group", g->name},
                                 {"x-llmux-deployment", d.cfg->id}};
      co_await sendError(
          out,
          GatewayError::invalidRequest(
              fmt::format("Deployment '{}' uses provider '{}', which this build of llmux "
                          "does not support yet.",
                          d.cfg->id, d.cfg->provider),
              "model", "unsupported_provider"),
          outcome, hs);
      break;
    }
  }
}

net::awaitable<void> Engine::runMock(http::Request& req, const types::ChatRequest& chat,
                                     const DeploymentRt& d, http::ResponseWriter& out,
                                     RequestOutcome& outcome) {
  const auto& cfg = *d.cfg;
  auto reply = providers::mock::makeReply(chat, cfg.mockResponse, req.body().size());
  outcome.promptTokens = reply.promptTokens;
  outcome.completionTokens = reply.completionTokens;
  net::steady_timer timer(ex_);
  AbortTimer abort(timer);
  WatchGuard watch(out, &abort);
  if (cfg.mockLatencyMs > 0) {
    timer.expires_after(std::chrono::milliseconds(cfg.mockLatencyMs));
    co_await timer.async_wait(kTok);
    if (out.clientGone()) {
      outcome.status = 499;
      outcome.errorType = "client_closed_request";
      co_return;
    }
  }
  std::string id = "chatcmpl-" + std::string(req.requestId);
  auto created = static_cast<int64_t>(std::time(nullptr));
  Headers h;
  h.add("x-llmux-model-group", cfg.modelName);
  h.add("x-llmux-deployment", cfg.id);
  outcome.status = 200;
  if (!chat.stream) {
    h.add("content-type", "application/json");
    const std::string body = providers::mock::completionBody(reply, chat.model, id, created);
    co_await out.respond(200, h.span(), body);
    co_return;
  }
  h.add("content-type", "text/event-stream");
  h.add("cache-control", "no-cache");
  h.add("x-accel-buffering", "no");
  auto events = providers::mock::streamEvents(reply, chat.model, id, created, chat.includeUsage);
  if (!co_await out.beginStream(200, h.span())) co_return;
  if (cfg.mockChunkDelayMs <= 0) {
    std::string all;
    for (const auto& e : events) all += e;
    outcome.ttftUs = usSince(req.received);
    co_await out.writeChunk(all, true);
    co_return;
  } else {
    for (size_t i = 0; i < events.size(); ++i) {
      if (i > 0) {
        timer.expires_after(std::chrono::milliseconds(cfg.mockChunkDelayMs));
        co_await timer.async_wait(kTok);
        if (out.clientGone()) co_return;
      }
      if (i == 0) outcome.ttftUs = usSince(req.received);
      if (!co_await out.writeChunk(events[i])) co_return;
    }
  }
  co_await out.endStream();
}

void Engine::buildOpenAIHead(http::Request& req, const types::ChatRequest& chat,
                             const DeploymentRt& d, Scratch& sc) {
  simdjson::dom::object obj;
  if (chat.hasDropParams &&
      json_.parse(req.body().data(), req.body().size()).get(obj) == simdjson::SUCCESS) {
    rewriteBody(obj, d.upstreamModel, chat.stream, sc.upBody, d.forceStreamUsage);
  } else {
    openai::buildUpstreamBody(req.body(), chat, d.upstreamModel, sc.upBody, d.forceStreamUsage);
  }
  sc.upHead.assign(d.requestLinePrefix);
  sc.upHead += "content-type: application/json\r\ncontent-length: ";
  appendDecimal(sc.upHead, static_cast<int64_t>(sc.upBody.size()));
  sc.upHead += "\r\n";
  sc.upHead += d.fixedHeaders;
  sc.upHead += "\r\n";
  sc.dropped.clear();
  sc.adapter = nullptr;
}

net::awaitable<void> Engine::runUpstream(http::Request& req, const types::ChatRequest& chat,
                                         const DeploymentRt& d, http::ResponseWriter& out,
                                         RequestOutcome& outcome, Scratch& sc) {
  upstream::Timeouts t;
  t.connect = gw_.cfg.server.connectTimeout;
  if (chat.stream) {
    t.firstByte = d.streamTimeout;
    t.idle = d.streamIdleTimeout;
  } else {
    t.deadline = Clock::now() + d.timeout;  // the whole call, retries included
    t.firstByte = d.timeout;
    t.idle = d.timeout;
  }
  // The exchange, the retry timer and the header list live in the Scratch, not in this coroutine's
  // frame: it stays under Asio's 1 KiB frame-recycling limit that way (no malloc per request).
  auto& ex = sc.exchange;
  if (!sc.backoff) sc.backoff.emplace(ex_);
  auto& backoff = *sc.backoff;
  struct DropExchange {
    std::optional<upstream::Exchange>& e;
    ~DropExchange() { e.reset(); }  // releases the connection when this request is done with it
  } dropExchange{ex};
  AbortAttempt abort(ex, backoff);
  WatchGuard watch(out, &abort);
  Headers& base = sc.headers;
  base.n = 0;
  base.add("x-llmux-model-group", d.cfg->modelName);
  base.add("x-llmux-deployment", d.cfg->id);
  if (!sc.dropped.empty()) base.add("x-llmux-dropped-params", sc.dropped);
  const auto t0 = Clock::now();
  auto clientGone = [&] {
    outcome.upstreamUs = usSince(t0);
    outcome.status = 499;
    outcome.errorType = "client_closed_request";
  };

  // Attempts on this deployment (litellm_params.max_retries), like the official SDKs: retry
  // connection failures and 408/409/429/5xx answers, honouring Retry-After and x-should-retry,
  // always before anything has been sent to the client.
  for (int attempt = 0;; ++attempt) {
    const bool mayRetry = attempt < d.cfg->maxRetries;
    ex.emplace(client_, d.target, t, sc.upHeaders, sc.upRead);
    auto f = co_await ex->start(sc.upHead, sc.upBody);
    if (f == upstream::Failure::Cancelled || out.clientGone()) {
      clientGone();
      co_return;
    }
    if (f != upstream::Failure::None) {
      const bool retryable = f == upstream::Failure::Connect || f == upstream::Failure::Reset;
      if (!(mayRetry && retryable && co_await sleepBeforeRetry(backoff, attempt, {}, t.deadline))) {
        outcome.upstreamUs = usSince(t0);
        co_await sendFailure(out, outcome, base.span(), f, d, *ex, chat.stream);
        co_return;
      }
      if (out.clientGone()) {
        clientGone();
        co_return;
      }
      continue;
    }

    const int status = ex->status();
    const bool ok = status >= 200 && status < 300;
    std::string_view ctype = ex->header("content-type");
    const bool isSse = ctype.substr(0, 17) == "text/event-stream";
    sc.contentType.assign(ctype);  // the header arena belongs to the exchange; keep our own copy
    if (sc.contentType.find_first_of("\r\n") != std::string::npos) sc.contentType.clear();
    if (ok && chat.stream && sc.adapter != nullptr) {
      // Native streams come as SSE, NDJSON or AWS event-stream: the decoder knows which.
      co_await relayNativeStream(*ex, chat, d, req, out, outcome, sc);
      outcome.upstreamUs = usSince(t0);
      co_return;
    }
    if (ok && chat.stream && isSse) {
      co_await relayStream(*ex, chat, d, req, out, outcome, sc);
      outcome.upstreamUs = usSince(t0);
      co_return;
    }

    // Read the whole body: a JSON completion, or an error to map.
    sc.respBody.clear();
    const size_t limit = ok ? kMaxUpstreamBody : kMaxUpstreamErrorBody;
    for (;;) {
      auto [rf, data] = co_await ex->read();
      if (rf != upstream::Failure::None) {
        if (rf == upstream::Failure::Cancelled || out.clientGone()) {
          clientGone();
          co_return;
        }
        outcome.upstreamUs = usSince(t0);
        co_await sendFailure(out, outcome, base.span(), rf, d, *ex, chat.stream);
        co_return;
      }
      if (data.empty()) break;
      if (sc.respBody.size() + data.size() > limit) {
        outcome.upstreamUs = usSince(t0);
        ex->abort();
        co_await sendTooLarge(out, outcome, base.span(), d, limit);
        co_return;
      }
      if (sc.respBody.empty() && ex->done()) {
        // The whole body came in one read (the usual case): take the read buffer, do not copy it.
        sc.respBody.swap(sc.upRead);
        break;
      }
      sc.respBody.append(data);
    }
    ex->release();

    if (!ok) {
      const auto retryAfter = retryAfterOf(*ex);
      const RetryHint hint =
          retryHint(sc.adapter, status, sc.respBody, retryAfter, ex->header("x-should-retry"));
      if (mayRetry && hint.retryable &&
          co_await sleepBeforeRetry(backoff, attempt, hint.retryAfterSeconds, t.deadline)) {
        if (out.clientGone()) {
          clientGone();
          co_return;
        }
        continue;
      }
      outcome.upstreamUs = usSince(t0);
      co_await sendUpstreamError(out, outcome, base.span(), sc.adapter, status, sc.respBody,
                                 retryAfter);
      co_return;
    }
    outcome.upstreamUs = usSince(t0);
    if (sc.adapter != nullptr) {
      co_await sendTranslated(out, outcome, sc, status);
      co_return;
    }
    auto usage = openai::parseResponseUsage(sc.respBody);
    outcome.promptTokens = usage.promptTokens;
    outcome.completionTokens = usage.completionTokens;
    outcome.status = status;
    base.add("content-type", sc.contentType.empty() ? std::string_view("application/json")
                                                    : std::string_view(sc.contentType));
    co_await out.respond(status, base.span(), sc.respBody);
    co_return;
  }
}

// Error answers are built in these small coroutines rather than inline: their temporaries would
// otherwise sit in runUpstream's coroutine frame on every request, and frames over 1 KiB are not
// recycled by Asio (a malloc each).
net::awaitable<void> Engine::sendFailure(http::ResponseWriter& out, RequestOutcome& outcome,
                                         std::span<const http::Header> headers, upstream::Failure f,
                                         const DeploymentRt& d, const upstream::Exchange& ex,
                                         bool stream) {
  co_await sendError(out, failureError(f, d, ex, stream), outcome, headers);
}

net::awaitable<void> Engine::sendTooLarge(http::ResponseWriter& out, RequestOutcome& outcome,
                                          std::span<const http::Header> headers,
                                          const DeploymentRt& d, size_t limit) {
  co_await sendError(
      out,
      GatewayError::badGateway(
          fmt::format("Upstream response for deployment '{}' exceeds {} bytes.", d.cfg->id, limit),
          "upstream_response_too_large"),
      outcome, headers);
}

net::awaitable<void> Engine::sendUpstreamError(http::ResponseWriter& out, RequestOutcome& outcome,
                                               std::span<const http::Header> headers,
                                               const providers::Adapter* adapter, int status,
                                               std::string_view body,
                                               std::optional<int64_t> retryAfter) {
  co_await sendError(out, mapUpstream(adapter, status, body, retryAfter), outcome, headers);
}

net::awaitable<bool> Engine::sleepBeforeRetry(net::steady_timer& timer, int attempt,
                                              std::optional<int64_t> retryAfterSeconds,
                                              Clock::time_point deadline) {
  // The SDKs' schedule: Retry-After when it is 0..60 s, else 0.5 s doubling to 8 s, minus up to
  // 25 % jitter so clients that failed together do not retry together.
  std::chrono::milliseconds delay;
  if (retryAfterSeconds && *retryAfterSeconds >= 0 && *retryAfterSeconds <= 60) {
    delay = std::chrono::seconds(*retryAfterSeconds);
  } else {
    const int64_t base = std::min<int64_t>(8000, int64_t{500} << std::min(attempt, 4));
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    delay = std::chrono::milliseconds(
        base - static_cast<int64_t>(rng_ % (static_cast<uint64_t>(base) / 4 + 1)));
  }
  if (Clock::now() + delay >= deadline) co_return false;  // no time left for another attempt
  timer.expires_after(delay);
  auto [ec] = co_await timer.async_wait(kTok);
  co_return !ec;
}

net::awaitable<void> Engine::relayStream(upstream::Exchange& ex, const types::ChatRequest& chat,
                                         const DeploymentRt& d, http::Request& req,
                                         http::ResponseWriter& out, RequestOutcome& outcome,
                                         Scratch& sc) {
  Headers h;
  h.add("x-llmux-model-group", d.cfg->modelName);
  h.add("x-llmux-deployment", d.cfg->id);
  h.add("content-type", "text/event-stream");
  h.add("cache-control", "no-cache");
  h.add("x-accel-buffering", "no");
  outcome.status = 200;
  if (!co_await out.beginStream(200, h.span())) {
    ex.abort();
    co_return;
  }
  sc.sse.reset();
  bool sawDone = false;
  bool upstreamError = false;
  std::optional<GatewayError> failure;
  for (;;) {
    auto [f, data] = co_await ex.read();
    if (f != upstream::Failure::None) {
      if (f == upstream::Failure::Cancelled || out.clientGone()) {
        outcome.errorType = "client_closed_request";
        co_return;
      }
      if (f == upstream::Failure::Timeout) {
        failure = GatewayError::gatewayTimeout(fmt::format(
            "Upstream stream for deployment '{}' stalled: no data for {} ms.", d.cfg->id,
            ex.gotBody() ? d.streamIdleTimeout.count() : d.streamTimeout.count()));
      } else {
        failure = failureError(f, d, ex, true);
      }
      break;
    }
    if (data.empty()) {
      // OpenAI always ends a stream with [DONE]; a body that stops before it was cut short.
      failure = GatewayError::badGateway(
          fmt::format("Upstream stream for deployment '{}' ended before [DONE].", d.cfg->id),
          "upstream_stream_truncated");
      break;
    }
    sc.outBuf.clear();
    bool fits = sc.sse.feed(data, [&](const providers::SseEvent& ev) {
      auto info = openai::inspectStreamChunk(ev.data);
      if (info.usage.present) {
        outcome.promptTokens = info.usage.promptTokens;
        outcome.completionTokens = info.usage.completionTokens;
      }
      switch (info.kind) {
        case openai::ChunkKind::Done:
          if (!upstreamError) sc.outBuf.append(ev.raw);
          sawDone = true;
          break;
        case openai::ChunkKind::UsageOnly:
          if (chat.includeUsage && !upstreamError) sc.outBuf.append(ev.raw);
          break;
        case openai::ChunkKind::Error:
          // The upstream gave up mid-stream: relay its error event and end the stream there.
          if (!upstreamError) sc.outBuf.append(ev.raw);
          upstreamError = true;
          break;
        case openai::ChunkKind::Content:
          if (!upstreamError) sc.outBuf.append(ev.raw);
          break;
      }
    });
    if (!fits) {
      failure = GatewayError::badGateway(
          fmt::format("Upstream stream for deployment '{}' sent an oversized event.", d.cfg->id),
          "upstream_protocol_error");
      break;
    }
    const bool end = sawDone || upstreamError;
    if (!sc.outBuf.empty() || end) {
      if (outcome.ttftUs == 0) outcome.ttftUs = usSince(req.received);
      // The event that ends the stream goes out in the same write as the terminating chunk.
      if (!co_await out.writeChunk(sc.outBuf, end)) {
        ex.abort();
        outcome.errorType = "client_closed_request";
        co_return;
      }
    }
    if (upstreamError) {
      ex.abort();
      outcome.errorType = "upstream_stream_error";
      co_return;
    }
    if (sawDone) break;
  }
  if (failure) {
    ex.abort();
    outcome.errorType = "upstream_stream_error";
    sc.outBuf.assign("data: ");
    sc.outBuf += failure->toJson();
    sc.outBuf += "\n\n";
    co_await out.writeChunk(sc.outBuf, true);
    co_return;
  }
  // Drain the rest of the upstream body (normally nothing) so the connection can be reused.
  while (!ex.done()) {
    auto [f, data] = co_await ex.read();
    if (f != upstream::Failure::None || data.empty()) break;
  }
  ex.release();
}

}  // namespace llmux::engine
