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
#include "router/policy.hpp"

namespace llmux::engine {

namespace net = boost::asio;
namespace openai = providers::openai;
using Clock = std::chrono::steady_clock;

using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

void Scratch::trim() {
  constexpr size_t kKeep = 256 * 1024;
  for (std::string* b :
       {&upHead, &upBody, &respBody, &outBuf, &upRead, &chat.lastUserText, &inlinedBody, &call.body,
        &call.headers, &dropped, &attemptLog, &overrideBody}) {
    if (b->capacity() > kKeep) std::string().swap(*b);
  }
  upHeaders.shrink(kKeep);
  sse.reset();
  routing.clear();
  plan.clear();
  if (!portkeyRoot.targets.empty() || !portkeyRoot.overrides.empty()) portkeyRoot = {};
  portkey = nullptr;
  tried.clear();
  if (attempts.capacity() > 64) std::vector<AttemptRecord>().swap(attempts);
  attempts.clear();
  failure.reset();
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
      selector_(gw.routeInfo, gw.states(), gw.cfg.router.strategy,
                gw.cfg.router.lowestLatencyBuffer,
                0x2545f4914f6cdd1dULL * (static_cast<uint64_t>(worker) + 7) ^
                    static_cast<uint64_t>(Clock::now().time_since_epoch().count())) {}

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

net::awaitable<void> Engine::runMock(http::Request& req, const types::ChatRequest& chat,
                                     const DeploymentRt& d, http::ResponseWriter& out,
                                     RequestOutcome& outcome, Scratch& sc) {
  const auto& cfg = *d.cfg;
  auto reply = providers::mock::makeReply(chat, cfg.mockResponse, sc.body.size());
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
  Headers& h = sc.headers;
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
  (void)req;
  simdjson::dom::object obj;
  if ((chat.hasDropParams || chat.hasRouterFields) &&
      json_.parse(sc.body.data(), sc.body.size()).get(obj) == simdjson::SUCCESS) {
    rewriteBody(obj, sc.upstreamModel, chat.stream, sc.upBody, d.forceStreamUsage);
  } else {
    openai::buildUpstreamBody(sc.body, chat, sc.upstreamModel, sc.upBody, d.forceStreamUsage);
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
    t.firstByte = sc.streamTimeout;
    t.idle = d.streamIdleTimeout;
  } else {
    // The whole call, this deployment's retries included (tick resolution is plenty).
    t.deadline = TimeoutSweep::coarseNow() + sc.timeout;
    t.firstByte = sc.timeout;
    t.idle = sc.timeout;
  }
  // The exchange, the retry timer and the header list live in the Scratch, not in this coroutine's
  // frame: it stays under 1 KiB that way, the sizes malloc's per-thread cache serves fastest.
  auto& ex = sc.exchange;
  if (!sc.backoff) sc.backoff.emplace(ex_);
  auto& backoff = *sc.backoff;
  struct DropExchange {
    std::optional<upstream::Exchange>& e;
    ~DropExchange() { e.reset(); }  // releases the connection when this request is done with it
  } dropExchange{ex};
  AbortAttempt abort(ex, backoff);
  WatchGuard watch(out, &abort);
  if (!sc.dropped.empty()) sc.headers.add("x-llmux-dropped-params", sc.dropped);
  const auto t0 = Clock::now();
  auto clientGone = [&] {
    outcome.upstreamUs += usSince(t0);
    outcome.status = 499;
    outcome.errorType = "client_closed_request";
  };

  // Attempts on this deployment (litellm_params.max_retries), like the official SDKs: retry
  // connection failures and 408/409/429/5xx answers, honouring Retry-After and x-should-retry,
  // always before anything has been sent to the client. A failure that remains is left in
  // sc.failure for the router (route.cpp), which may try another deployment or model group.
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
        outcome.upstreamUs += usSince(t0);
        sc.failure = failureError(f, d, *ex, chat.stream, sc);
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
      outcome.upstreamUs += usSince(t0);
      co_return;
    }
    if (ok && chat.stream && isSse) {
      co_await relayStream(*ex, chat, d, req, out, outcome, sc);
      outcome.upstreamUs += usSince(t0);
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
        outcome.upstreamUs += usSince(t0);
        sc.failure = failureError(rf, d, *ex, chat.stream, sc);
        co_return;
      }
      if (data.empty()) break;
      if (sc.respBody.size() + data.size() > limit) {
        outcome.upstreamUs += usSince(t0);
        ex->abort();
        sc.failure = GatewayError::badGateway(
            fmt::format("Upstream response for deployment '{}' exceeds {} bytes.", d.cfg->id,
                        limit),
            "upstream_response_too_large");
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
      outcome.upstreamUs += usSince(t0);
      sc.failure = mapUpstream(sc.adapter, status, sc.respBody, retryAfter);
      sc.failureRetryAfterMs = retryAfterMsOf(*ex);
      co_return;
    }
    outcome.upstreamUs += usSince(t0);
    if (sc.adapter != nullptr) {
      co_await sendTranslated(out, outcome, sc, status);
      co_return;
    }
    auto usage = openai::parseResponseUsage(sc.respBody);
    outcome.promptTokens = usage.promptTokens;
    outcome.completionTokens = usage.completionTokens;
    outcome.status = status;
    sc.headers.add("content-type", sc.contentType.empty() ? std::string_view("application/json")
                                                          : std::string_view(sc.contentType));
    co_await out.respond(status, sc.headers.span(), sc.respBody);
    co_return;
  }
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
    const int64_t base = router::backoffMs(attempt + 1);
    delay = std::chrono::milliseconds(
        base -
        static_cast<int64_t>(selector_.rng().next() % (static_cast<uint64_t>(base) / 4 + 1)));
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
  Headers& h = sc.headers;
  h.add("content-type", "text/event-stream");
  h.add("cache-control", "no-cache");
  h.add("x-accel-buffering", "no");
  // The client's response starts with the first event worth sending: until then a failure (a
  // stall past stream_timeout, a reset, an error event) is the router's to retry or fall back.
  bool begun = false;
  auto begin = [&]() -> net::awaitable<bool> {
    begun = true;
    outcome.status = 200;
    co_return co_await out.beginStream(200, h.span());
  };
  sc.sse.reset();
  bool sawDone = false;
  bool upstreamError = false;
  bool errorFirst = false;
  std::optional<GatewayError> failure;
  for (;;) {
    auto [f, data] = co_await ex.read();
    if (f != upstream::Failure::None) {
      if (f == upstream::Failure::Cancelled || out.clientGone()) {
        outcome.status = begun ? outcome.status : 499;
        outcome.errorType = "client_closed_request";
        co_return;
      }
      if (f == upstream::Failure::Timeout) {
        failure = GatewayError::gatewayTimeout(fmt::format(
            "Upstream stream for deployment '{}' stalled: no data for {} ms.", d.cfg->id,
            ex.gotBody() ? d.streamIdleTimeout.count() : sc.streamTimeout.count()));
      } else {
        failure = failureError(f, d, ex, true, sc);
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
          if (!upstreamError) {
            if (!begun && sc.outBuf.empty()) {
              errorFirst = true;
              sc.respBody.assign(ev.data);
            }
            sc.outBuf.append(ev.raw);
          }
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
    if (errorFirst) {
      // An error event before any content: nothing reached the client, so another deployment may
      // still answer. (The event's JSON is the provider's error object.)
      ex.abort();
      sc.failure = mapUpstream(nullptr, 500, sc.respBody, std::nullopt);
      co_return;
    }
    const bool end = sawDone || upstreamError;
    if (!sc.outBuf.empty() || end) {
      if (!begun && !co_await begin()) {
        ex.abort();
        co_return;
      }
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
    if (!begun) {
      sc.failure = std::move(failure);
      co_return;
    }
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
