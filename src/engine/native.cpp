// The engine's path for native providers (adapters): request translation and per-request auth
// (SigV4, Vertex OAuth), translated answers and decoded streams. The attempt loop itself is shared
// with the OpenAI path (Engine::runUpstream).
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "common/text.hpp"
#include "engine/engine.hpp"
#include "engine/engine_detail.hpp"
#include "engine/google_auth.hpp"
#include "providers/anthropic/anthropic.hpp"
#include "providers/common/sigv4.hpp"

namespace llmux::engine {

using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

constexpr size_t kMaxTokenResponse = 64 * 1024;
constexpr auto kTokenTimeout = std::chrono::seconds(30);

int64_t defaultMaxTokens(const config::Deployment& d) {
  for (const char* k : {"max_output_tokens", "max_tokens"}) {
    auto it = d.modelInfo.find(k);
    if (it == d.modelInfo.end()) continue;
    char* end = nullptr;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (end != it->second.c_str() && *end == '\0' && v > 0) return v;
  }
  return 4096;
}

}  // namespace

std::optional<GatewayError> Engine::buildNativeHead(std::string_view body, bool stream,
                                                    const DeploymentRt& d, Scratch& sc,
                                                    std::string_view bearer) {
  sc.dropped.clear();
  simdjson::dom::element doc;
  if (json_.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest("The request body is not valid JSON.");
  }
  providers::RequestOptions opts;
  opts.upstreamModel = sc.upstreamModel;
  opts.stream = stream;
  opts.dropParams = d.dropParams;
  bool drop = false;
  if (doc["drop_params"].get(drop) == simdjson::SUCCESS) opts.dropParams = drop;
  opts.defaultMaxTokens = defaultMaxTokens(*d.cfg);
  opts.apiVersion = d.cfg->apiVersion;
  opts.project = d.project;
  opts.location = d.location;
  sc.call.clear();
  if (auto err = sc.adapter->buildRequest(doc, opts, sc.call)) return err;
  for (const auto& p : sc.call.dropped) {
    if (!sc.dropped.empty()) sc.dropped += ", ";
    sc.dropped += p;
  }
  if (!isSafeHeaderValue(sc.dropped)) sc.dropped.clear();
  sc.upBody.swap(sc.call.body);

  const std::string path = joinPath(d.target.basePath, sc.call.path);
  sc.upHead.assign("POST ");
  sc.upHead += path;
  sc.upHead += " HTTP/1.1\r\n";
  sc.upHead += d.hostLine;
  sc.upHead += "content-type: application/json\r\ncontent-length: ";
  appendDecimal(sc.upHead, static_cast<int64_t>(sc.upBody.size()));
  sc.upHead += "\r\n";
  sc.upHead += d.authHeaders;
  if (d.spec->auth == AuthKind::AwsSigV4 && d.authHeaders.empty()) {
    if (d.awsAccessKeyId.empty() || d.awsSecretAccessKey.empty()) {
      auto e = GatewayError::authentication(fmt::format(
          "Deployment '{}' has no AWS credentials: set aws_access_key_id/aws_secret_access_key, "
          "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an AWS profile.",
          d.cfg->id));
      e.status = 500;
      e.type = "internal_error";
      e.code = "missing_credentials";
      return e;
    }
    providers::aws::SigningInput in;
    const size_t q = path.find('?');
    const std::string amzDate =
        providers::aws::formatAmzDate(static_cast<int64_t>(std::time(nullptr)));
    in.method = "POST";
    in.host = d.target.hostHeader;
    in.path = std::string_view(path).substr(0, q);
    if (q != std::string::npos) in.query = std::string_view(path).substr(q + 1);
    in.headers = {{"content-type", "application/json"}};
    in.body = sc.upBody;
    in.region = d.awsRegion;
    in.service = "bedrock";
    in.amzDate = amzDate;
    const auto signedHeaders = providers::aws::signRequest(
        in, {d.awsAccessKeyId, d.awsSecretAccessKey, d.awsSessionToken});
    if (signedHeaders.authorization.empty()) {
      return GatewayError::internal("Could not sign the Bedrock request.");
    }
    sc.upHead += "authorization: " + signedHeaders.authorization + "\r\n";
    sc.upHead += "x-amz-date: " + signedHeaders.amzDate + "\r\n";
    sc.upHead += "x-amz-content-sha256: " + signedHeaders.contentSha256 + "\r\n";
    if (!signedHeaders.securityToken.empty()) {
      sc.upHead += "x-amz-security-token: " + signedHeaders.securityToken + "\r\n";
    }
  }
  if (!bearer.empty()) {
    sc.upHead += "authorization: Bearer ";
    sc.upHead += bearer;
    sc.upHead += "\r\n";
  }
  sc.upHead += sc.call.headers;
  sc.upHead += d.fixedHeaders;
  sc.upHead += "\r\n";
  return std::nullopt;
}

net::awaitable<void> Engine::runNative(http::Request& req, const types::ChatRequest& chat,
                                       const DeploymentRt& d, http::ResponseWriter& out,
                                       RequestOutcome& outcome, Scratch& sc) {
  sc.answerId.assign("chatcmpl-");
  sc.answerId += req.requestId;
  sc.adapter = d.adapter;
  std::string_view body = sc.body;
  if (d.spec->fetchImages) {
    bool replaced = false;
    if (auto err = co_await inlineRemoteImages(body, sc.inlinedBody, replaced)) {
      sc.failure = std::move(err);
      co_return;
    }
    if (replaced) body = sc.inlinedBody;
  }
  // The token last: image downloads may take longer than its refresh margin.
  std::string token;
  if (d.google) {
    if (auto err = co_await googleToken(d, token)) {
      sc.failure = std::move(err);
      co_return;
    }
  }
  if (auto err = buildNativeHead(body, chat.stream, d, sc, token)) {
    sc.failure = std::move(err);
    co_return;
  }
  co_await runUpstream(req, chat, d, out, outcome, sc);
  // A rejected token (revoked, rotated key) must not be reused until its scheduled refresh.
  if (d.google && sc.failure && sc.failure->status == 401) {
    googleTokens_[d.google.get()].token.clear();
  }
}

net::awaitable<std::optional<GatewayError>> Engine::googleToken(const DeploymentRt& d,
                                                                std::string& token) {
  const GoogleServiceAccount& sa = *d.google;
  auto& st = googleTokens_[&sa];
  if (!st.token.empty() && Clock::now() < st.refreshAt) {
    token = st.token;
    co_return std::nullopt;
  }
  if (!st.token.empty() && Clock::now() < st.expiresAt - std::chrono::seconds(30) && st.fetching) {
    // Refreshing ahead of expiry: the current token still works meanwhile.
    token = st.token;
    co_return std::nullopt;
  }
  if (st.fetching) {
    // Another request on this thread is fetching: wait for it rather than fetch twice.
    net::steady_timer wait(ex_);
    wait.expires_after(kTokenTimeout + std::chrono::seconds(5));
    st.waiters.push_back(&wait);
    co_await wait.async_wait(kTok);
    std::erase(st.waiters, &wait);
    if (st.token.empty()) {
      co_return GatewayError::badGateway(
          fmt::format("Could not get a Vertex AI access token for '{}'.", sa.clientEmail()),
          "upstream_auth_failed");
    }
    token = st.token;
    co_return std::nullopt;
  }
  st.fetching = true;
  std::string head, body, respBody, readBuf;
  http::HeaderList headers;
  sa.tokenRequest(static_cast<int64_t>(std::time(nullptr)), head, body);
  std::optional<GatewayError> err;
  if (body.empty()) {
    err = GatewayError::internal("Could not sign the Vertex AI token request.");
  } else {
    upstream::Timeouts t;
    t.connect = gw_.cfg.server.connectTimeout;
    t.firstByte = kTokenTimeout;
    t.idle = kTokenTimeout;
    t.deadline = Clock::now() + kTokenTimeout;
    upstream::Exchange ex(client_, sa.tokenTarget(), t, headers, readBuf);
    auto f = co_await ex.start(head, body);
    while (f == upstream::Failure::None) {
      auto [rf, data] = co_await ex.read();
      f = rf;
      if (rf != upstream::Failure::None || data.empty()) break;
      if (respBody.size() + data.size() > kMaxTokenResponse) {
        f = upstream::Failure::Protocol;
        break;
      }
      respBody.append(data);
    }
    const int status = f == upstream::Failure::None ? ex.status() : 0;
    ex.release();
    auto parsed = status == 200 ? GoogleServiceAccount::parseTokenResponse(respBody)
                                : std::optional<GoogleServiceAccount::Token>();
    if (parsed) {
      st.token = std::move(parsed->accessToken);
      // Refresh five minutes before expiry (or halfway through a short-lived token).
      const int64_t life = std::max<int64_t>(parsed->expiresIn, 1);
      const int64_t refreshIn = life > 600 ? life - 300 : life / 2;
      st.refreshAt = Clock::now() + std::chrono::seconds(refreshIn);
      st.expiresAt = Clock::now() + std::chrono::seconds(life);
    } else if (!st.token.empty() && Clock::now() < st.expiresAt - std::chrono::seconds(30)) {
      // A failed refresh keeps the token that still works; the next request tries again.
      f = upstream::Failure::None;
    } else {
      st.token.clear();
      const std::string detail =
          f != upstream::Failure::None
              ? fmt::format("{} ({})", upstream::failureName(f), ex.errorDetail())
              : fmt::format("HTTP {}: {}", status, utf8Prefix(respBody, 200));
      err = GatewayError::badGateway(
          fmt::format("Could not get a Vertex AI access token for '{}' from {}: {}",
                      sa.clientEmail(), sa.tokenTarget().origin, detail),
          "upstream_auth_failed");
    }
  }
  st.fetching = false;
  auto waiters = std::move(st.waiters);
  st.waiters.clear();
  for (auto* w : waiters) w->cancel();
  if (err) co_return err;
  token = st.token;
  co_return std::nullopt;
}

net::awaitable<void> Engine::sendTranslated(http::ResponseWriter& out, RequestOutcome& outcome,
                                            Scratch& sc, int status) {
  providers::ResponseOptions ropts;
  ropts.clientModel = sc.chat.model;
  ropts.id = sc.answerId;
  ropts.created = static_cast<int64_t>(std::time(nullptr));
  ropts.base64 = sc.base64;
  providers::Usage usage;
  if (auto err = sc.adapter->translateResponse(sc.respBody, ropts, json_, sc.outBuf, usage)) {
    sc.failure = std::move(err);  // a malformed answer: another deployment may do better
    co_return;
  }
  outcome.promptTokens = usage.promptTokens;
  outcome.completionTokens = usage.completionTokens;
  outcome.status = status;
  sc.headers.add("content-type", "application/json");
  co_await out.respond(status, sc.headers.span(), sc.outBuf);
}

net::awaitable<void> Engine::relayNativeStream(upstream::Exchange& ex,
                                               const types::ChatRequest& chat,
                                               const DeploymentRt& d, http::Request& req,
                                               http::ResponseWriter& out, RequestOutcome& outcome,
                                               Scratch& sc) {
  Headers& h = sc.headers;
  h.add("content-type", "text/event-stream");
  h.add("cache-control", "no-cache");
  h.add("x-accel-buffering", "no");
  // As in relayStream: the client's response begins with the first translated event; a failure
  // before it is the router's.
  bool begun = false;
  providers::ResponseOptions ropts;
  ropts.clientModel = chat.model;
  ropts.id = sc.answerId;
  ropts.created = static_cast<int64_t>(std::time(nullptr));
  ropts.includeUsage = chat.includeUsage;
  sc.decoder = sc.adapter->makeStreamDecoder(ropts);
  struct DropDecoder {
    Scratch& s;
    ~DropDecoder() { s.decoder.reset(); }
  } dropDecoder{sc};
  auto& dec = *sc.decoder;
  std::optional<GatewayError> failure;
  auto st = providers::StreamStatus::Continue;
  for (;;) {
    auto [f, data] = co_await ex.read();
    if (f != upstream::Failure::None) {
      if (f == upstream::Failure::Cancelled || out.clientGone()) {
        if (!begun) outcome.status = 499;
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
    sc.outBuf.clear();
    st = data.empty() ? dec.finish(sc.outBuf) : dec.feed(data, sc.outBuf);
    if (data.empty() && st != providers::StreamStatus::Done) {
      failure = GatewayError::badGateway(
          fmt::format("Upstream stream for deployment '{}' ended before the provider's "
                      "end-of-stream event.",
                      d.cfg->id),
          "upstream_stream_truncated");
      if (sc.outBuf.empty()) break;
    }
    const bool end = st != providers::StreamStatus::Continue && !failure;
    if (!begun && failure) break;
    if (!begun && st == providers::StreamStatus::Failed && onlyErrorEvent(sc.outBuf)) {
      // The provider refused before any content (e.g. overloaded): nothing reached the client.
      ex.abort();
      sc.failure = errorOfEvent(sc.outBuf);
      co_return;
    }
    if (!sc.outBuf.empty() || end) {
      if (!begun) {
        begun = true;
        outcome.status = 200;
        if (!co_await out.beginStream(200, h.span())) {
          ex.abort();
          co_return;
        }
      }
      if (outcome.ttftUs == 0) outcome.ttftUs = usSince(req.received);
      if (!co_await out.writeChunk(sc.outBuf, end)) {
        ex.abort();
        outcome.errorType = "client_closed_request";
        co_return;
      }
    }
    if (failure) break;
    if (st == providers::StreamStatus::Failed) {
      ex.abort();
      outcome.errorType = "upstream_stream_error";
      break;
    }
    if (st == providers::StreamStatus::Done) break;
  }
  const auto usage = dec.usage();
  outcome.promptTokens = usage.promptTokens;
  outcome.completionTokens = usage.completionTokens;
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
  if (st != providers::StreamStatus::Done) co_return;
  while (!ex.done()) {
    auto [f, data] = co_await ex.read();
    if (f != upstream::Failure::None || data.empty()) break;
  }
  ex.release();
}

}  // namespace llmux::engine

namespace llmux::engine {

bool Engine::servesAnthropicNatively(std::string_view model) const {
  const ModelGroup* g = gw_.matchGroup(model).group;
  if (g == nullptr || g->tier.empty()) return false;
  for (size_t i : g->tier) {
    const auto& d = gw_.deployments[i];
    if (d.kind != ProviderKind::Native || d.spec == nullptr || d.spec->name != "anthropic") {
      return false;
    }
  }
  return true;
}

net::awaitable<void> Engine::messagesPassthrough(http::Request& req, http::ResponseWriter& out,
                                                 RequestOutcome& outcome, bool countTokens) {
  auto sc = scratch_.get();
  sc->chat.reset();
  {
    simdjson::dom::element doc;
    const std::string_view body = req.body();
    std::string_view model;
    if (json_.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
        doc["model"].get(model) != simdjson::SUCCESS) {
      co_await sendError(out, GatewayError::invalidRequest("model: Field required", "model"),
                         outcome);
      co_return;
    }
    sc->chat.modelStorage.assign(model);
    sc->chat.model = sc->chat.modelStorage;
    bool stream = false;
    if (doc["stream"].get(stream) == simdjson::SUCCESS) sc->chat.stream = stream;
  }
  outcome.stream = sc->chat.stream;
  const GroupMatch match = gw_.matchGroup(sc->chat.model);
  const ModelGroup* g = match.group;
  if (g == nullptr) {
    co_await sendError(
        out,
        GatewayError::notFound(fmt::format("model: {} not found", utf8Prefix(sc->chat.model, 200)),
                               "model_not_found"),
        outcome);
    co_return;
  }
  sc->capture = match.capture;
  const DeploymentRt& d = pick(*g);
  outcome.group = static_cast<int>(d.group);
  outcome.deployment = static_cast<int>(d.index);
  beginSimple(d, *sc, req.body());
  sc->answerId.assign("msg_");
  sc->answerId += req.requestId;
  if (countTokens) sc->chat.stream = false;
  sc->adapter = countTokens ? &providers::anthropic::countTokensAdapter()
                            : &providers::anthropic::passthroughAdapter();
  if (auto err = buildNativeHead(req.body(), sc->chat.stream, d, *sc, {})) {
    co_await sendError(out, *err, outcome);
    co_return;
  }
  // The client's API version and beta flags decide the wire format: they go upstream as sent.
  sc->upHead.resize(sc->upHead.size() - 2);  // before the blank line
  std::string_view version = req.header("anthropic-version");
  if (version.empty() || !isSafeHeaderValue(version) || version.size() > 64) version = "2023-06-01";
  sc->upHead += "anthropic-version: ";
  sc->upHead += version;
  sc->upHead += "\r\n";
  std::string_view beta = req.header("anthropic-beta");
  if (!beta.empty() && isSafeHeaderValue(beta) && beta.size() <= 1024) {
    sc->upHead += "anthropic-beta: ";
    sc->upHead += beta;
    sc->upHead += "\r\n";
  }
  sc->upHead += "\r\n";
  const auto t0 = Clock::now();
  co_await runUpstream(req, sc->chat, d, out, outcome, *sc);
  co_await finishSimple(out, outcome, *sc, d, t0);
}

}  // namespace llmux::engine
