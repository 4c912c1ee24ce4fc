// Health checks: one minimal chat call per deployment, on demand (GET /health) or in the
// background (HealthChecker), and the report in LiteLLM's /health shape with llmux's routing
// state of each deployment.
#include "engine/health.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <ctime>

#include <spdlog/spdlog.h>

#include "common/text.hpp"
#include "engine/engine.hpp"
#include "engine/engine_detail.hpp"

namespace llmux::engine {

using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

constexpr auto kMaxProbeTime = std::chrono::seconds(60);  // LiteLLM's health check timeout

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

net::awaitable<void> Engine::checkDeployment(const DeploymentRt& d, Gateway::HealthResult& res) {
  const auto t0 = Clock::now();
  res = {};
  res.checked = true;
  res.checkedUnixMs = nowUnixMs();
  auto it = d.cfg->modelInfo.find("mode");
  if (it != d.cfg->modelInfo.end() && it->second != "chat" && it->second != "completion") {
    // Embedding, image and audio models need other probes; they are not called.
    res.healthy = true;
    res.error = fmt::format("not checked (model_info.mode {})", it->second);
    co_return;
  }
  http::RequestHead head;
  head.body = R"({"model":)";
  appendJsonString(head.body, d.cfg->modelName);
  head.body += R"(,"messages":[{"role":"user","content":"ping"}],"max_tokens":16})";
  const std::string id = fmt::format("health-{}", d.index);
  http::Request req{head, id, Clock::now(), worker_, 0};
  auto sc = scratch_.get();
  if (auto e = types::parseChatRequest(head.body, sc->chat)) {
    res.error = e->message;
    co_return;
  }
  sc->body = head.body;
  sc->routing.clear();
  sc->portkey = nullptr;
  sc->chatIsOverride = false;
  prepareAttempt(d, {}, *sc, 1, false);
  sc->timeout = std::min<std::chrono::milliseconds>(sc->timeout, kMaxProbeTime);
  SinkWriter sink;
  RequestOutcome outcome;
  co_await attemptChat(req, d, sink, outcome, *sc);
  res.latencyUs = usSince(t0);
  if (sc->failure) {
    res.error = fmt::format("{} {}", sc->failure->status, utf8Prefix(sc->failure->message, 300));
  } else if (sink.status < 200 || sink.status >= 300) {
    res.error = fmt::format("{} {}", sink.status, utf8Prefix(sink.body, 300));
  } else {
    res.healthy = true;
  }
}

net::awaitable<void> Engine::checkAll(bool route) {
  // Every probe runs at once; the last one to finish wakes this coroutine.
  struct Shared {
    std::vector<Gateway::HealthResult> results;
    size_t pending = 0;
    std::optional<net::steady_timer> done;
  };
  auto shared = std::make_shared<Shared>();
  shared->results.resize(gw_.deployments.size());
  shared->pending = gw_.deployments.size();
  shared->done.emplace(ex_);
  shared->done->expires_at(Clock::time_point::max());
  for (const DeploymentRt& d : gw_.deployments) {
    net::co_spawn(
        ex_,
        [this, &d, shared]() -> net::awaitable<void> {
          co_await checkDeployment(d, shared->results[d.index]);
          if (--shared->pending == 0) shared->done->cancel();
        },
        net::detached);
  }
  if (shared->pending > 0) co_await shared->done->async_wait(kTok);
  std::lock_guard lock(gw_.healthMu);
  for (size_t i = 0; i < shared->results.size(); ++i) {
    gw_.health[i] = std::move(shared->results[i]);
    if (route) {
      gw_.states()[i].health.store(
          gw_.health[i].healthy ? router::Health::Healthy : router::Health::Unhealthy,
          std::memory_order_relaxed);
    }
  }
}

net::awaitable<void> Engine::health(http::Request& /*req*/, http::ResponseWriter& out,
                                    RequestOutcome& outcome) {
  if (!gw_.cfg.router.backgroundHealthChecks) co_await checkAll(false);
  const int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count();
  std::string healthy, unhealthy;
  size_t nHealthy = 0, nUnhealthy = 0;
  {
    std::lock_guard lock(gw_.healthMu);
    for (const DeploymentRt& d : gw_.deployments) {
      const Gateway::HealthResult& h = gw_.health[d.index];
      const router::DeploymentState& st = gw_.states()[d.index];
      const int64_t cool = st.cooldownUntilMs.load(std::memory_order_relaxed) - now;
      std::string e = R"({"model":)";
      appendJsonString(e, d.cfg->provider + "/" + d.cfg->upstreamModel);
      e += R"(,"model_name":)";
      appendJsonString(e, d.cfg->modelName);
      e += R"(,"model_id":)";
      appendJsonString(e, d.cfg->id);
      e += R"(,"custom_llm_provider":)";
      appendJsonString(e, d.cfg->provider);
      if (!d.cfg->apiBase.empty()) {
        e += R"(,"api_base":)";
        appendJsonString(e, d.cfg->apiBase);
      }
      e += fmt::format(
          R"(,"checked":{},"latency_ms":{:.1f},"in_flight":{},"cooldown_remaining_s":{})",
          h.checked ? "true" : "false", static_cast<double>(h.latencyUs) / 1000.0,
          st.inFlight.load(std::memory_order_relaxed), cool > 0 ? (cool + 999) / 1000 : 0);
      const bool ok = h.checked ? h.healthy : true;
      const char* state = !h.checked   ? "unknown"
                          : !h.healthy ? "unhealthy"
                          : cool > 0   ? "cooling_down"
                                       : "healthy";
      e += R"(,"state":")";
      e += state;
      e += '"';
      if (!h.error.empty()) {
        e += R"(,"error":)";
        appendJsonString(e, h.error);
      }
      e += '}';
      std::string& list = ok ? healthy : unhealthy;
      if (!list.empty()) list += ',';
      list += e;
      ++(ok ? nHealthy : nUnhealthy);
    }
  }
  const std::string body = fmt::format(
      R"({{"healthy_endpoints":[{}],"unhealthy_endpoints":[{}],"healthy_count":{},"unhealthy_count":{}}})",
      healthy, unhealthy, nHealthy, nUnhealthy);
  outcome.status = 200;
  const http::Header h[] = {{"content-type", "application/json"}};
  co_await out.respond(200, h, body);
}

HealthChecker::HealthChecker(Gateway& gw) : gw_(gw) {
  sweep_ = std::make_unique<TimeoutSweep>(ioc_.get_executor());
  engine_ = std::make_unique<Engine>(gw_, ioc_.get_executor(), 0, *sweep_);
  net::co_spawn(
      ioc_,
      [this]() -> net::awaitable<void> {
        net::steady_timer wait(ioc_);
        for (;;) {
          co_await engine_->checkAll(true);
          size_t bad = 0;
          {
            std::lock_guard lock(gw_.healthMu);
            for (const auto& h : gw_.health) bad += h.healthy ? 0 : 1;
          }
          if (bad > 0) spdlog::warn("health checks: {} deployment(s) unhealthy", bad);
          wait.expires_after(gw_.cfg.router.healthCheckInterval);
          auto [ec] = co_await wait.async_wait(kTok);
          if (ec) co_return;
        }
      },
      net::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

void HealthChecker::stop() {
  ioc_.stop();
  if (thread_.joinable()) thread_.join();
}

HealthChecker::~HealthChecker() {
  stop();
  ioc_.shutdown();  // destroys the probes' coroutine frames while the engine they use exists
  engine_.reset();
  sweep_.reset();
}

}  // namespace llmux::engine
