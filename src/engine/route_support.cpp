// The router's supporting cast: per-request routing fields, the single-attempt endpoints' pick,
// attempt preparation and bookkeeping (reservations, counters, cooldowns), and the final error
// that lists every attempt. The attempt loop itself is in route.cpp.
#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <ctime>

#include "common/text.hpp"
#include "engine/engine.hpp"
#include "engine/engine_detail.hpp"
#include "router/policy.hpp"

namespace llmux::engine {

using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

constexpr int kMaxRequestRetries = 10;
constexpr size_t kMaxRequestFallbacks = 16;

// LiteLLM accepts fallbacks as ["a", "b"] (for the requested model) or [{"model": ["a"]}].
std::optional<GatewayError> readFallbackList(simdjson::dom::element v, std::string_view key,
                                             std::string_view model,
                                             std::vector<std::string>& out) {
  auto bad = [&](std::string_view why) {
    return GatewayError::invalidRequest(fmt::format("Invalid '{}': {}.", key, why),
                                        std::string(key), "invalid_routing");
  };
  if (v.is_null()) return std::nullopt;
  simdjson::dom::array arr;
  if (v.get(arr) != simdjson::SUCCESS) {
    return bad("expected a list of model names or of {\"model\": [fallbacks]} objects");
  }
  for (simdjson::dom::element item : arr) {
    std::string_view name;
    simdjson::dom::object obj;
    if (item.get(name) == simdjson::SUCCESS) {
      if (name.empty() || name.size() > 256) return bad("model names must be 1 to 256 bytes");
      out.emplace_back(name);
    } else if (item.get(obj) == simdjson::SUCCESS) {
      for (auto [k, list] : obj) {
        if (k != model && k != "*") continue;
        simdjson::dom::array names;
        std::string_view one;
        if (list.get(one) == simdjson::SUCCESS) {
          out.emplace_back(one);
          continue;
        }
        if (list.get(names) != simdjson::SUCCESS) return bad("each entry maps a model to a list");
        for (simdjson::dom::element n : names) {
          if (n.get(one) != simdjson::SUCCESS || one.empty() || one.size() > 256) {
            return bad("fallback model names must be strings of 1 to 256 bytes");
          }
          out.emplace_back(one);
        }
      }
    } else {
      return bad("entries must be model names or {\"model\": [fallbacks]} objects");
    }
    if (out.size() > kMaxRequestFallbacks) {
      return bad(fmt::format("at most {} fallbacks", kMaxRequestFallbacks));
    }
  }
  return std::nullopt;
}

std::optional<GatewayError> readSeconds(simdjson::dom::element v, std::string_view key,
                                        std::optional<double>& out) {
  double s = 0;
  int64_t i = 0;
  if (v.is_null()) return std::nullopt;
  if (v.get(s) != simdjson::SUCCESS) {
    if (v.get(i) != simdjson::SUCCESS) {
      return GatewayError::invalidRequest(
          fmt::format("Invalid '{}': expected a number of seconds.", key), std::string(key),
          "invalid_routing");
    }
    s = static_cast<double>(i);
  }
  if (!(s > 0 && s <= 86400)) {
    return GatewayError::invalidRequest(
        fmt::format("Invalid '{}': expected seconds between 0 and 86400.", key), std::string(key),
        "invalid_routing");
  }
  out = s;
  return std::nullopt;
}

bool isTrue(simdjson::dom::element v) {
  bool b = false;
  return v.get(b) == simdjson::SUCCESS && b;
}

}  // namespace

router::PickInput Engine::pickInput(std::span<const size_t> deployments) const {
  router::PickInput in;
  in.deployments = deployments;
  in.ignoreCooldown = gw_.cfg.router.disableCooldowns;
  in.nowMs = coarseSteadyMs();
  const int64_t wall = coarseWallMs();
  in.minute = wall / 60000;
  in.msToNextMinute = 60000 - wall % 60000;
  return in;
}

const DeploymentRt& Engine::pick(const ModelGroup& g) {
  const router::PickInput in = pickInput(g.deployments);
  router::Reservation res;
  const router::Pick p = selector_.pick(in, res);
  selector_.settle(res, true, 0);
  // Nothing eligible: the first choice anyway; its answer tells the client what is wrong.
  return gw_.deployments[p.deployment >= 0 ? static_cast<size_t>(p.deployment) : g.tier[0]];
}

std::optional<GatewayError> Engine::readRequestRouting(Scratch& sc) {
  RequestRouting& r = sc.routing;
  simdjson::dom::object obj;
  if (json_.parse(sc.body.data(), sc.body.size()).get(obj) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest("The request body is not a valid JSON object.");
  }
  const std::string_view model = sc.chat.model;
  for (auto [key, v] : obj) {
    if (key == "fallbacks") {
      r.hasFallbacks = !v.is_null();
      if (auto e = readFallbackList(v, key, model, r.fallbacks)) return e;
    } else if (key == "context_window_fallbacks") {
      if (auto e = readFallbackList(v, key, model, r.contextFallbacks)) return e;
    } else if (key == "content_policy_fallbacks") {
      if (auto e = readFallbackList(v, key, model, r.contentFallbacks)) return e;
    } else if (key == "num_retries") {
      int64_t n = 0;
      if (v.is_null()) continue;
      if (v.get(n) != simdjson::SUCCESS || n < 0 || n > kMaxRequestRetries) {
        return GatewayError::invalidRequest(
            fmt::format("Invalid 'num_retries': expected an integer from 0 to {}.",
                        kMaxRequestRetries),
            "num_retries", "invalid_routing");
      }
      r.numRetries = static_cast<int>(n);
    } else if (key == "timeout") {
      if (auto e = readSeconds(v, key, r.timeoutSeconds)) return e;
    } else if (key == "stream_timeout") {
      if (auto e = readSeconds(v, key, r.streamTimeoutSeconds)) return e;
    } else if (key == "disable_fallbacks") {
      r.disableFallbacks = isTrue(v);
    } else if (key == "mock_testing_fallbacks") {
      if (isTrue(v)) r.mockFault = RequestRouting::MockFault::Generic;
    } else if (key == "mock_testing_context_fallbacks") {
      if (isTrue(v)) r.mockFault = RequestRouting::MockFault::ContextWindow;
    } else if (key == "mock_testing_content_policy_fallbacks") {
      if (isTrue(v)) r.mockFault = RequestRouting::MockFault::ContentPolicy;
    } else if (key == "mock_testing_rate_limit_error") {
      if (isTrue(v)) r.mockFault = RequestRouting::MockFault::RateLimit;
    } else if (key == "models" || key == "provider") {
      r.hasOpenRouter = true;
    }
  }
  if (r.hasOpenRouter) {
    if (auto e = router::openrouter::parse(obj, r.openrouter)) return e;
  }
  return std::nullopt;
}

// Runs one attempt on deployment `d`: answers the client, or leaves sc.failure.
net::awaitable<void> Engine::attemptChat(http::Request& req, const DeploymentRt& d,
                                         http::ResponseWriter& out, RequestOutcome& outcome,
                                         Scratch& sc) {
  const types::ChatRequest& chat = sc.chat;
  switch (d.kind) {
    case ProviderKind::Mock:
      co_await runMock(req, chat, d, out, outcome, sc);
      break;
    case ProviderKind::OpenAI:
      buildOpenAIHead(req, chat, d, sc);
      co_await runUpstream(req, chat, d, out, outcome, sc);
      break;
    case ProviderKind::Native:
      co_await runNative(req, chat, d, out, outcome, sc);
      break;
    case ProviderKind::Unsupported:
      sc.failure = GatewayError::invalidRequest(
          fmt::format("Deployment '{}' uses provider '{}', which this build of llmux "
                      "does not support yet.",
                      d.cfg->id, d.cfg->provider),
          "model", "unsupported_provider");
      break;
  }
}

void Engine::prepareAttempt(const DeploymentRt& d, std::string_view capture, Scratch& sc,
                            int attemptNo, bool fallback) {
  sc.failure.reset();
  sc.failureRetryAfterMs.reset();
  sc.dropped.clear();
  if (d.wildcard) {
    // "openai/*" with the request's "openai/gpt-4o": the provider model is "gpt-4o".
    sc.upstreamModel.assign(d.upstreamModel);
    const size_t star = sc.upstreamModel.find('*');
    sc.upstreamModel.replace(star, 1, capture);
  } else {
    sc.upstreamModel.assign(d.upstreamModel);
  }
  sc.timeout = d.timeout;
  sc.streamTimeout = d.streamTimeout;
  const RequestRouting& r = sc.routing;
  if (r.timeoutSeconds) {
    sc.timeout = std::min(
        sc.timeout, std::chrono::milliseconds(static_cast<int64_t>(*r.timeoutSeconds * 1000.0)));
    sc.streamTimeout = std::min(sc.streamTimeout, sc.timeout);
  }
  if (r.streamTimeoutSeconds) {
    // Like `timeout`: the request may shorten the deployment's limit, not lengthen it.
    sc.streamTimeout =
        std::min(sc.streamTimeout,
                 std::chrono::milliseconds(static_cast<int64_t>(*r.streamTimeoutSeconds * 1000.0)));
  }
  sc.headers.n = 0;
  sc.headers.add("x-llmux-model-group", d.cfg->modelName);
  sc.headers.add("x-llmux-deployment", d.cfg->id);
  auto res =
      std::to_chars(sc.attemptsValue, sc.attemptsValue + sizeof sc.attemptsValue - 1, attemptNo);
  sc.headers.add(
      "x-llmux-attempts",
      std::string_view(sc.attemptsValue, static_cast<size_t>(res.ptr - sc.attemptsValue)));
  sc.headers.add("x-llmux-fallback-used", fallback ? "true" : "false");
}

void Engine::recordResult(const DeploymentRt& d, const ModelGroup& g, Scratch& sc,
                          RequestOutcome& outcome, uint64_t attemptUs) {
  router::DeploymentState& st = gw_.states()[d.index];
  const int64_t minute = coarseWallMs() / 60000;
  const auto tokens =
      static_cast<uint64_t>(std::max<int64_t>(outcome.promptTokens + outcome.completionTokens, 0));
  selector_.settle(sc.reservation, !sc.failure, tokens);
  if (!sc.failure) {
    st.successes.add(minute, 1);
    if (outcome.stream) {
      if (outcome.ttftUs > 0) st.ttftUs.observe(outcome.ttftUs);
    } else {
      st.latencyUs.observe(attemptUs);
    }
    if (outcome.completionTokens > 0 && attemptUs > 0) {
      st.usPerOutputToken.observe(attemptUs / static_cast<uint64_t>(outcome.completionTokens));
    }
    return;
  }
  const GatewayError& err = *sc.failure;
  st.failuresTotal.fetch_add(1, std::memory_order_relaxed);
  st.fails.add(minute, 1);
  router::CooldownInput in;
  in.cls = router::classify(err);
  in.status = err.status;
  in.failsThisMinute = st.fails.get(minute);
  in.successesThisMinute = st.successes.get(minute);
  in.onlyDeployment = g.deployments.size() == 1;
  // The provider's Retry-After sets the cooldown's length when it gives one (0: none). Wildcard
  // deployments serve many models: one model's failure says nothing about the others.
  const int64_t length = sc.failureRetryAfterMs.value_or(gw_.cfg.router.cooldownTime.count());
  if (!g.wildcard && length > 0 && router::shouldCooldown(in, gw_.cfg.router)) {
    // The coarse clock, as pickInput() reads it: a precise start read against a coarse now
    // would make the remaining cooldown (Retry-After) look up to a tick longer than its length.
    const int64_t now = coarseSteadyMs();
    const int64_t until = now + length;
    int64_t prev = st.cooldownUntilMs.load(std::memory_order_relaxed);
    while (prev < until &&
           !st.cooldownUntilMs.compare_exchange_weak(prev, until, std::memory_order_relaxed)) {
    }
    // A new cooldown, not the extension of a running one (same test as coolingDown()).
    if (prev <= now) st.cooldownsTotal.fetch_add(1, std::memory_order_relaxed);
  }
}

void Engine::beginSimple(const DeploymentRt& d, Scratch& sc, std::string_view body) {
  prepareAttempt(d, sc.capture, sc, 1, false);
  sc.body = body;
}

net::awaitable<void> Engine::finishSimple(http::ResponseWriter& out, RequestOutcome& outcome,
                                          Scratch& sc, const DeploymentRt& d,
                                          Clock::time_point t0) {
  recordResult(d, gw_.groups[d.group], sc, outcome, usSince(t0));
  if (!sc.failure) co_return;
  GatewayError e = std::move(*sc.failure);
  sc.failure.reset();
  co_await sendError(out, e, outcome, sc.headers.span());
}

GatewayError Engine::mockFault(RequestRouting::MockFault f, std::string_view group) {
  switch (f) {
    case RequestRouting::MockFault::ContextWindow: {
      auto e = GatewayError::invalidRequest(
          fmt::format("This is a mock context window exceeded error for model group '{}' "
                      "(mock_testing_context_fallbacks).",
                      group),
          "messages", "context_length_exceeded");
      return e;
    }
    case RequestRouting::MockFault::ContentPolicy: {
      auto e = GatewayError::invalidRequest(
          fmt::format("This is a mock content policy violation for model group '{}' "
                      "(mock_testing_content_policy_fallbacks).",
                      group),
          std::nullopt, "content_policy_violation");
      return e;
    }
    case RequestRouting::MockFault::RateLimit: {
      GatewayError e;
      e.status = 429;
      e.type = "rate_limit_error";
      e.code = "rate_limit_exceeded";
      e.message = fmt::format(
          "This is a mock rate limit error for model group '{}' (mock_testing_rate_limit_error).",
          group);
      return e;
    }
    default: {
      auto e = GatewayError::internal(
          fmt::format("This is a mock exception for model group '{}', to trigger a fallback "
                      "(mock_testing_fallbacks).",
                      group));
      return e;
    }
  }
}

void Engine::noteUnavailable(const GatewayError& e, Scratch& sc) {
  AttemptRecord rec;
  rec.deployment = SIZE_MAX;
  rec.status = e.status;
  rec.code = e.code.value_or(e.type);
  rec.message = utf8Prefix(e.message, 300);
  sc.attempts.push_back(std::move(rec));
}

void Engine::summarizeAttempts(Scratch& sc, RequestOutcome& outcome) {
  sc.attemptLog.clear();
  for (const auto& a : sc.attempts) {
    if (a.deployment == SIZE_MAX) continue;
    if (!sc.attemptLog.empty()) sc.attemptLog += ',';
    sc.attemptLog += gw_.deployments[a.deployment].cfg->id;
    sc.attemptLog += ':';
    sc.attemptLog += std::to_string(a.status);
  }
  outcome.attemptLog = sc.attemptLog;
}

void Engine::noteAttempt(const DeploymentRt& d, Scratch& sc) {
  const GatewayError& e = *sc.failure;
  sc.tried.push_back(d.index);
  AttemptRecord rec;
  rec.deployment = d.index;
  rec.status = e.status;
  rec.code = e.code.value_or(e.type);
  rec.message = utf8Prefix(e.message, 300);
  sc.attempts.push_back(std::move(rec));
}

net::awaitable<void> Engine::sendFinalError(http::ResponseWriter& out, RequestOutcome& outcome,
                                            Scratch& sc, std::string_view group) {
  GatewayError err = std::move(*sc.failure);
  sc.failure.reset();
  // Count the upstream attempts (entries without a deployment are "group unavailable" notes).
  size_t calls = 0;
  for (const auto& a : sc.attempts) calls += a.deployment != SIZE_MAX ? 1 : 0;
  if (sc.attempts.size() > 1) {
    std::string msg = fmt::format("All {} attempt{} for model '{}' failed. Last error: {}", calls,
                                  calls == 1 ? "" : "s", utf8Prefix(group, 200), err.message);
    std::string list = ",\"attempts\":[";
    for (size_t i = 0; i < sc.attempts.size(); ++i) {
      const auto& a = sc.attempts[i];
      const std::string_view dep =
          a.deployment == SIZE_MAX ? std::string_view() : gw_.deployments[a.deployment].cfg->id;
      msg += fmt::format(" | {}{}{} {} ({}): {}", i == 0 ? "tried " : "",
                         dep.empty() ? "" : "deployment '", dep.empty() ? std::string_view() : dep,
                         dep.empty() ? "" : "' answered", a.status, a.code, a.message);
      if (i) list += ',';
      list += "{\"deployment\":";
      if (dep.empty()) {
        list += "null,\"model_group\":null";
      } else {
        appendJsonString(list, dep);
        list += ",\"model_group\":";
        appendJsonString(list, gw_.deployments[a.deployment].cfg->modelName);
      }
      list += ",\"status\":";
      list += std::to_string(a.status);
      list += ",\"code\":";
      appendJsonString(list, a.code);
      list += ",\"message\":";
      appendJsonString(list, a.message);
      list += '}';
    }
    list += ']';
    err.message = std::move(msg);
    err.extraJson = std::move(list);
  }
  summarizeAttempts(sc, outcome);
  outcome.attempts = static_cast<int>(calls);
  // Keep the headers of the last attempt (group, deployment, attempts, fallback-used).
  if (sc.headers.n == 0) sc.headers.add("x-llmux-model-group", group);
  co_await sendError(out, err, outcome, sc.headers.span());
}

}  // namespace llmux::engine
