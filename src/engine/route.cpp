// The router's request half: the attempt loop over a model group's deployments (retries), then
// its fallback groups or the request's plan (OpenRouter, Portkey). Each attempt either answers the
// client or leaves a failure in Scratch::failure that nothing has seen yet, so the loop is free to
// try elsewhere; only when every option is spent does the client get an error, and that error
// lists every attempt. The loop's state lives in Scratch::route and its decisions in plain
// functions, so the coroutine frame stays small (malloc's per-thread cache serves up to 1 KiB).
#include <fmt/format.h>

#include <chrono>

#include "common/text.hpp"
#include "engine/engine.hpp"
#include "engine/engine_detail.hpp"
#include "router/policy.hpp"

namespace llmux::engine {

using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

std::string_view noPickWord(router::NoPick r) {
  switch (r) {
    case router::NoPick::CoolingDown:
      return "cooling down or failing health checks";
    case router::NoPick::AtLimit:
      return "at their rpm / tpm / max_parallel_requests limits";
    case router::NoPick::TooSmall:
      return "too small for the prompt";
    case router::NoPick::None:
      break;
  }
  return "unavailable";
}

GatewayError noDeploymentError(const ModelGroup& g, const router::Pick& p, int64_t promptTokens,
                               size_t candidates) {
  if (p.reason == router::NoPick::TooSmall) {
    return GatewayError::invalidRequest(
        fmt::format("The prompt (about {} tokens) exceeds the context window of every "
                    "deployment of model group '{}'.",
                    promptTokens, g.name),
        "messages", "context_length_exceeded");
  }
  const int64_t secs = (p.retryAfterMs + 999) / 1000;
  GatewayError e;
  e.status = 429;
  e.type = "rate_limit_error";
  e.code =
      p.reason == router::NoPick::CoolingDown ? "no_deployments_available" : "rate_limit_exceeded";
  e.message = fmt::format(
      "No deployments available for model group '{}': all {} are {}. Try again in {} second{}.",
      g.name, candidates, noPickWord(p.reason), secs, secs == 1 ? "" : "s");
  e.retryAfterSeconds = secs;
  return e;
}

}  // namespace

std::optional<GatewayError> Engine::prepareChat(http::Request& req, Scratch& sc) {
  if (auto e = types::parseChatRequest(req.body(), sc.chat)) return e;
  sc.body = req.body();
  sc.portkey = nullptr;
  sc.chatIsOverride = false;
  if (auto e = readPortkeyConfig(req, sc)) return e;
  if (sc.chat.hasRouterFields) {
    if (auto e = readRequestRouting(sc)) return e;
  }
  return std::nullopt;
}

net::awaitable<void> Engine::chatCompletions(http::Request& req, http::ResponseWriter& out,
                                             RequestOutcome& outcome) {
  auto sc = scratch_.get();
  // The error goes through the Scratch, not a local: this frame stays small (see the top).
  sc->failure = prepareChat(req, *sc);
  if (!sc->failure && outcome.admission != nullptr) {
    sc->failure = co_await outcome.admission->admitChat(req, sc->chat, outcome);
  }
  if (!sc->failure) sc->failure = startRoute(req, *sc);
  outcome.stream = sc->chat.stream;
  if (sc->failure) {
    co_await sendError(out, *sc->failure, outcome);
    co_return;
  }
  co_await routeChat(req, out, outcome, *sc);
}

std::optional<GatewayError> Engine::startRoute(http::Request& req, Scratch& sc) {
  const types::ChatRequest& chat = sc.chat;
  RouteCursor& rc = sc.route;
  rc = RouteCursor{};
  rc.groupName = chat.model;
  sc.plan.clear();
  sc.headers.n = 0;  // nothing from the scratch's previous request
  // Who decides the failover: a Portkey config, OpenRouter's fields (both build a plan), or the
  // gateway's LiteLLM settings (no plan: the hot path allocates nothing here).
  if (sc.portkey != nullptr) {
    if (auto e = buildPortkeyPlan(req, sc)) return e;
  } else if (sc.routing.hasOpenRouter) {
    if (auto e = buildOpenRouterPlan(sc)) return e;
  } else {
    rc.match = gw_.matchGroup(chat.model);
    if (rc.match.group == nullptr) {
      if (router::openrouter::splitSuffix(chat.model).sort != router::openrouter::Sort::None) {
        if (auto e = buildOpenRouterPlan(sc)) return e;  // "model:nitro" / "model:floor"
      } else {
        auto e =
            GatewayError::notFound(fmt::format("Model '{}' not found. Available models: {}.",
                                               utf8Prefix(chat.model, 200), gw_.availableModels),
                                   "model_not_found");
        e.param = "model";
        return e;
      }
    }
  }
  rc.primary = sc.plan.empty() ? rc.match.group : sc.plan[0].group;
  if (!sc.backoff) sc.backoff.emplace(ex_);
  return std::nullopt;
}

const ModelGroup* Engine::beginStep(http::Request& req, Scratch& sc, RequestOutcome& outcome) {
  RouteCursor& rc = sc.route;
  const RequestRouting& r = sc.routing;
  const PlanStep* step = sc.plan.empty() ? nullptr : &sc.plan[rc.stepIdx];
  const ModelGroup* g = step != nullptr ? step->group : rc.match.group;
  if (step != nullptr) rc.groupName = step->name;
  rc.group = g;
  rc.retries = 0;
  if (auto e = applyOverrides(req, step, sc)) {
    noteUnavailable(*e, sc);
    sc.failure = std::move(e);
    return nullptr;
  }
  if (g == nullptr) {
    auto e = step != nullptr && step->error
                 ? *step->error
                 : GatewayError::notFound(
                       fmt::format("Model '{}' not found.", utf8Prefix(rc.groupName, 200)),
                       "model_not_found");
    noteUnavailable(e, sc);
    sc.failure = std::move(e);
    return nullptr;
  }
  rc.deployments = step != nullptr && !step->deployments.empty()
                       ? std::span<const size_t>(step->deployments)
                       : std::span<const size_t>(g->deployments);
  outcome.group = static_cast<int>(g - gw_.groups.data());
  if (r.mockFault != RequestRouting::MockFault::None && !rc.fallback &&
      r.mockFault != RequestRouting::MockFault::RateLimit) {
    // LiteLLM raises these before any call (and without retries) to exercise fallbacks.
    auto e = mockFault(r.mockFault, g->name);
    noteUnavailable(e, sc);
    sc.failure = std::move(e);
    return nullptr;
  }
  return g;
}

const DeploymentRt* Engine::pickNext(Scratch& sc, RequestOutcome& outcome) {
  RouteCursor& rc = sc.route;
  const RequestRouting& r = sc.routing;
  const config::RouterSettings& rs = gw_.cfg.router;
  const ModelGroup& g = *rc.group;
  const int numRetries = r.numRetries.value_or(rs.numRetries);
  while (r.mockFault == RequestRouting::MockFault::RateLimit && !rc.fallback) {
    // mock_testing_rate_limit_error: raised inside the retry loop (so it is retried), never
    // reaching a deployment.
    auto e = mockFault(r.mockFault, g.name);
    noteUnavailable(e, sc);
    sc.failure = std::move(e);
    outcome.attempts = ++rc.attemptNo;
    if (rc.retries >=
        router::retriesFor(router::ErrorClass::RateLimit, g.retryPolicy, numRetries)) {
      return nullptr;
    }
    ++rc.retries;
  }
  router::PickInput& in = rc.pick;
  const PlanStep* step = sc.plan.empty() ? nullptr : &sc.plan[rc.stepIdx];
  in = pickInput(rc.deployments);
  if (step != nullptr) in.tiers = step->tiers;
  in.tried = sc.tried;
  in.stream = sc.chat.stream;
  in.promptTokens = outcome.countedPromptTokens >= 0 ? outcome.countedPromptTokens
                                                     : static_cast<int64_t>(sc.body.size() / 4);
  in.checkContextWindow =
      rs.enablePreCallChecks || !g.contextFallbacks.empty() || !r.contextFallbacks.empty();
  const router::Pick p = selector_.pick(in, sc.reservation);
  if (p.deployment < 0) {
    if (rc.retries > 0) return nullptr;  // the last real failure stays the answer
    // Nothing to call: every deployment is cooling down, at its limits or too small.
    GatewayError e = noDeploymentError(g, p, in.promptTokens, rc.deployments.size());
    noteUnavailable(e, sc);
    sc.failure = std::move(e);
    sc.failureRetryAfterMs = p.retryAfterMs;
    return nullptr;
  }
  const DeploymentRt& d = gw_.deployments[static_cast<size_t>(p.deployment)];
  ++rc.attemptNo;
  prepareAttempt(d, step != nullptr ? std::string_view(step->capture) : rc.match.capture, sc,
                 rc.attemptNo, rc.fallback);
  if (step != nullptr && step->timeoutMs) {
    const std::chrono::milliseconds cap(*step->timeoutMs);
    sc.timeout = std::min(sc.timeout, cap);
    sc.streamTimeout = std::min(sc.streamTimeout, cap);
  }
  outcome.group = static_cast<int>(d.group);
  outcome.deployment = static_cast<int>(d.index);
  outcome.attempts = rc.attemptNo;
  outcome.fallbackUsed = rc.fallback;
  outcome.promptTokens = outcome.completionTokens = 0;
  return &d;
}

void Engine::noteSuccess(const DeploymentRt& d, Scratch& sc, RequestOutcome& outcome) {
  if (sc.attempts.empty()) return;
  summarizeAttempts(sc, outcome);
  sc.attemptLog += ',';
  sc.attemptLog += d.cfg->id;
  sc.attemptLog += ':';
  sc.attemptLog += std::to_string(outcome.status);
  outcome.attemptLog = sc.attemptLog;
}

int64_t Engine::afterFailure(const DeploymentRt& d, Scratch& sc) {
  RouteCursor& rc = sc.route;
  const ModelGroup& g = *rc.group;
  const RequestRouting& r = sc.routing;
  const config::RouterSettings& rs = gw_.cfg.router;
  noteAttempt(d, sc);
  const router::ErrorClass cls = router::classify(*sc.failure);
  const int numRetries = r.numRetries.value_or(rs.numRetries);
  const PlanStep* step = sc.plan.empty() ? nullptr : &sc.plan[rc.stepIdx];
  int allowed = 0;
  switch (step != nullptr ? step->retry : PlanStep::Retry::LiteLLM) {
    case PlanStep::Retry::LiteLLM:
      allowed = router::retriesFor(cls, g.retryPolicy, numRetries);
      break;
    case PlanStep::Retry::OpenRouter:
      // Provider routing moves down the list on failure: every provider gets its turn.
      allowed = router::retriesFor(cls, g.retryPolicy, numRetries);
      if (allowed > 0 || router::retriesFor(cls, g.retryPolicy, 1) > 0) {
        allowed = std::max(allowed, static_cast<int>(rc.deployments.size()) - 1);
      }
      break;
    case PlanStep::Retry::Portkey:
      // Portkey retries the listed statuses only, up to `attempts` times.
      allowed = std::find(step->retryCodes.begin(), step->retryCodes.end(), sc.failure->status) !=
                        step->retryCodes.end()
                    ? step->attempts
                    : 0;
      break;
    case PlanStep::Retry::None:
      break;
  }
  if (rc.retries >= allowed) return -1;
  router::PickInput& in = rc.pick;
  in.tried = sc.tried;
  in.nowMs = steadyMs();
  if (!selector_.anyEligible(in, true)) return -1;  // all cooling down: waiting cannot help
  ++rc.retries;
  gw_.groupState[static_cast<size_t>(&g - gw_.groups.data())].retries.fetch_add(
      1, std::memory_order_relaxed);
  return router::retryDelayMs(rc.retries, sc.failureRetryAfterMs, selector_.anyEligible(in, false),
                              rs.retryAfter.count(), selector_.rng());
}

bool Engine::nextStep(Scratch& sc) {
  RouteCursor& rc = sc.route;
  const RequestRouting& r = sc.routing;
  const config::RouterSettings& rs = gw_.cfg.router;
  // The first step's error is the answer if nothing else works (LiteLLM raises the original
  // error), with every attempt listed.
  if (!rc.primaryError) rc.primaryError = *sc.failure;
  const GatewayError& last = *sc.failure;
  auto moveOn = [&] {
    if (!rc.fallback && rc.primary != nullptr) {
      gw_.groupState[static_cast<size_t>(rc.primary - gw_.groups.data())].fallbacks.fetch_add(
          1, std::memory_order_relaxed);
    }
    rc.fallback = true;
  };
  if (!sc.plan.empty()) {
    const PlanStep& step = sc.plan[rc.stepIdx];
    int next = -1;
    if (sc.portkey != nullptr) {
      // The deepest fallback node that has a next child and accepts this failure.
      for (auto it = step.exits.rbegin(); it != step.exits.rend(); ++it) {
        const bool accepts = it->codes->empty() || std::find(it->codes->begin(), it->codes->end(),
                                                             last.status) != it->codes->end();
        if (it->next >= 0 && accepts) {
          next = it->next;
          break;
        }
      }
    } else if (rc.stepIdx + 1 < sc.plan.size()) {
      next = static_cast<int>(rc.stepIdx + 1);  // OpenRouter: the next of `models`
    }
    if (next < 0) return false;
    rc.stepIdx = static_cast<size_t>(next);
    moveOn();
    return true;
  }
  const ModelGroup* primary = rc.primary;
  if (rc.chain == nullptr) {
    if (r.disableFallbacks || primary == nullptr) return false;
    // LiteLLM: the chain is chosen by the error that ends the first group's attempts; a
    // context-window or content-policy failure without its own list takes the generic one.
    const auto* generic = r.hasFallbacks ? &r.fallbacks : &primary->fallbacks;
    switch (router::fallbackKindFor(router::classify(last), last)) {
      case router::FallbackKind::ContextWindow:
        rc.chain = !r.contextFallbacks.empty()          ? &r.contextFallbacks
                   : !primary->contextFallbacks.empty() ? &primary->contextFallbacks
                                                        : generic;
        break;
      case router::FallbackKind::ContentPolicy:
        rc.chain = !r.contentFallbacks.empty()          ? &r.contentFallbacks
                   : !primary->contentFallbacks.empty() ? &primary->contentFallbacks
                                                        : generic;
        break;
      case router::FallbackKind::Generic:
        rc.chain = generic;
        break;
      case router::FallbackKind::None:
        return false;
    }
  }
  if (rc.chainPos >= rc.chain->size() || rc.fallbacksUsed >= rs.maxFallbacks) return false;
  rc.groupName = (*rc.chain)[rc.chainPos++];
  ++rc.fallbacksUsed;
  moveOn();
  rc.match = gw_.matchGroup(rc.groupName);
  return true;
}

net::awaitable<void> Engine::routeChat(http::Request& req, http::ResponseWriter& out,
                                       RequestOutcome& outcome, Scratch& sc) {
  for (;;) {
    const ModelGroup* g = beginStep(req, sc, outcome);
    while (g != nullptr) {
      const DeploymentRt* d = pickNext(sc, outcome);
      if (d == nullptr) break;
      const auto t0 = Clock::now();
      co_await attemptChat(req, *d, out, outcome, sc);
      recordResult(*d, *g, sc, outcome, usSince(t0));
      if (!sc.failure) {  // answered (or the client left)
        noteSuccess(*d, sc, outcome);
        co_return;
      }
      if (out.clientGone()) {
        outcome.status = 499;
        outcome.errorType = "client_closed_request";
        co_return;
      }
      const int64_t delay = afterFailure(*d, sc);
      if (delay < 0) break;
      if (delay > 0) {
        auto& timer = *sc.backoff;
        AbortTimer abort(timer);
        WatchGuard watch(out, &abort);
        timer.expires_after(std::chrono::milliseconds(delay));
        co_await timer.async_wait(kTok);
        if (out.clientGone()) {
          outcome.status = 499;
          outcome.errorType = "client_closed_request";
          co_return;
        }
      }
    }
    if (!nextStep(sc)) break;
  }
  // Portkey answers with the last target's error; LiteLLM with the original one.
  if (sc.route.primaryError && sc.portkey == nullptr) sc.failure = std::move(sc.route.primaryError);
  co_await sendFinalError(out, outcome, sc,
                          sc.route.primary != nullptr ? std::string_view(sc.route.primary->name)
                                                      : std::string_view(sc.chat.model));
}

}  // namespace llmux::engine
