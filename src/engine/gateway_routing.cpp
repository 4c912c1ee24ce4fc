// Startup half of routing: each group's deployments in `order` tiers with their strategy weights,
// the shared per-deployment state, fallback lists, aliases and wildcard model groups.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <limits>
#include <stdexcept>

#include "engine/gateway.hpp"
#include "pricing/price_table.hpp"

namespace llmux::engine {

namespace {

int tierOf(const config::Deployment& d) {
  return d.order > 0 ? d.order : std::numeric_limits<int>::max();
}

}  // namespace

void Gateway::renderRoutingMetrics(std::string& out) const {
  auto app = std::back_inserter(out);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  auto family = [&](const char* name, const char* type, const char* help) {
    fmt::format_to(app, "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  family("llmux_retries_total", "counter",
         "Attempts after a model group's first for a request (to the same or another deployment).");
  for (size_t g = 0; g < groups.size(); ++g) {
    fmt::format_to(app, "llmux_retries_total{{model_group=\"{}\"}} {}\n",
                   observability::escapeLabel(groups[g].name),
                   groupState[g].retries.load(std::memory_order_relaxed));
  }
  family("llmux_fallbacks_total", "counter",
         "Requests that moved from this model group to a fallback group.");
  for (size_t g = 0; g < groups.size(); ++g) {
    fmt::format_to(app, "llmux_fallbacks_total{{model_group=\"{}\"}} {}\n",
                   observability::escapeLabel(groups[g].name),
                   groupState[g].fallbacks.load(std::memory_order_relaxed));
  }
  struct Gauge {
    const char* name;
    const char* type;
    const char* help;
    int64_t (*value)(const router::DeploymentState&, int64_t now);
  };
  static constexpr Gauge kGauges[] = {
      {"llmux_deployment_cooldowns_total", "counter", "Times the deployment was put in cooldown.",
       [](const router::DeploymentState& s, int64_t) {
         return static_cast<int64_t>(s.cooldownsTotal.load(std::memory_order_relaxed));
       }},
      {"llmux_deployment_failures_total", "counter",
       "Failed attempts (error answers, timeouts, connection failures).",
       [](const router::DeploymentState& s, int64_t) {
         return static_cast<int64_t>(s.failuresTotal.load(std::memory_order_relaxed));
       }},
      {"llmux_deployment_cooling_down", "gauge", "1 while the deployment is in cooldown.",
       [](const router::DeploymentState& s, int64_t now) -> int64_t {
         return s.coolingDown(now) ? 1 : 0;
       }},
      {"llmux_deployment_healthy", "gauge",
       "Health check result: 1 healthy, 0 unhealthy (out of rotation), -1 not checked.",
       [](const router::DeploymentState& s, int64_t) -> int64_t {
         switch (s.health.load(std::memory_order_relaxed)) {
           case router::Health::Healthy:
             return 1;
           case router::Health::Unhealthy:
             return 0;
           case router::Health::Unknown:
             break;
         }
         return -1;
       }},
      {"llmux_deployment_in_flight", "gauge",
       "Requests in flight (counted for least-busy routing and max_parallel_requests).",
       [](const router::DeploymentState& s, int64_t) {
         return s.inFlight.load(std::memory_order_relaxed);
       }},
  };
  for (const Gauge& gauge : kGauges) {
    family(gauge.name, gauge.type, gauge.help);
    for (const auto& d : deployments) {
      fmt::format_to(app, "{}{{model_group=\"{}\",deployment=\"{}\"}} {}\n", gauge.name,
                     observability::escapeLabel(d.cfg->modelName),
                     observability::escapeLabel(d.cfg->id), gauge.value(routeState[d.index], now));
    }
  }
}

GroupMatch Gateway::matchGroup(std::string_view name) const {
  if (const ModelGroup* g = findGroup(name)) return {g, {}};
  for (const auto& w : wildcards) {
    if (name.size() >= w.prefix.size() + w.suffix.size() && name.starts_with(w.prefix) &&
        name.ends_with(w.suffix)) {
      return {&groups[w.group],
              name.substr(w.prefix.size(), name.size() - w.prefix.size() - w.suffix.size())};
    }
  }
  return {};
}

void Gateway::setupRouting() {
  const config::RouterSettings& rs = cfg.router;
  routeInfo.assign(deployments.size(), {});
  routeStateCount = deployments.size();
  routeState = std::make_unique<router::DeploymentState[]>(std::max<size_t>(routeStateCount, 1));
  groupState = std::make_unique<router::GroupState[]>(std::max<size_t>(groups.size(), 1));
  health.assign(deployments.size(), {});
  metrics.extra = [this](std::string& out) { renderRoutingMetrics(out); };

  for (auto& g : groups) {
    std::stable_sort(g.deployments.begin(), g.deployments.end(), [&](size_t a, size_t b) {
      return tierOf(*deployments[a].cfg) < tierOf(*deployments[b].cfg);
    });
    g.tier.clear();
    for (size_t i : g.deployments) {
      if (tierOf(*deployments[i].cfg) == tierOf(*deployments[g.deployments[0]].cfg)) {
        g.tier.push_back(i);
      }
    }
    // LiteLLM's simple-shuffle weights: `weight` when any deployment of the group sets one, else
    // `rpm` when all set it, else `tpm`, else equal shares.
    bool anyWeight = false, allRpm = true, allTpm = true;
    for (size_t i : g.deployments) {
      const auto& c = *deployments[i].cfg;
      anyWeight = anyWeight || c.weight != 1.0;
      allRpm = allRpm && c.rpm && *c.rpm > 0;
      allTpm = allTpm && c.tpm && *c.tpm > 0;
    }
    for (size_t i : g.deployments) {
      const auto& c = *deployments[i].cfg;
      const double w = anyWeight ? c.weight
                       : allRpm  ? static_cast<double>(*c.rpm)
                       : allTpm  ? static_cast<double>(*c.tpm)
                                 : 1.0;
      deployments[i].weight = w > 0 ? w : 0.0;
    }
    g.wildcard = g.name.find('*') != std::string::npos;
    // A group's own policy replaces retry_policy (LiteLLM uses one or the other, not both).
    g.retryPolicy = rs.retryPolicy;
    for (const auto& [name, policy] : rs.groupRetryPolicy) {
      if (name == g.name) g.retryPolicy = policy;
    }
  }

  for (size_t i = 0; i < deployments.size(); ++i) {
    DeploymentRt& d = deployments[i];
    const config::Deployment& c = *d.cfg;
    router::DeploymentInfo& info = routeInfo[i];
    info.weight = d.weight;
    info.tier = tierOf(c);
    if (c.rpm) info.rpm = static_cast<uint64_t>(std::max<int64_t>(*c.rpm, 0));
    if (c.tpm) info.tpm = static_cast<uint64_t>(std::max<int64_t>(*c.tpm, 0));
    info.maxParallel = c.maxParallelRequests;
    // Prices and context window: the deployment's own values, else the price table's entry for
    // model_info.base_model or the provider model (looked up once here, not per request).
    const pricing::PriceTable& table = pricing::PriceTable::builtin();
    const pricing::ModelPrice* price = !c.baseModel.empty() ? table.findKey(c.baseModel) : nullptr;
    if (price == nullptr && !c.baseModel.empty()) price = table.find(c.provider, c.baseModel);
    if (price == nullptr) price = table.find(c.provider, d.upstreamModel);
    d.price = price;
    info.maxInputTokens = c.maxInputTokens;
    if (!info.maxInputTokens && price != nullptr) info.maxInputTokens = price->maxInputTokens;
    const std::optional<double> in =
        c.inputCostPerToken ? c.inputCostPerToken
                            : (price ? std::optional<double>(price->inputPerToken) : std::nullopt);
    const std::optional<double> out =
        c.outputCostPerToken
            ? c.outputCostPerToken
            : (price ? std::optional<double>(price->outputPerToken) : std::nullopt);
    d.inputCostPerToken = in;
    d.outputCostPerToken = out;
    // LiteLLM's cost-based routing prices an unknown model at 5 USD per token each way: last.
    info.costPerToken = in.value_or(5.0) + out.value_or(5.0);
    d.wildcard = d.upstreamModel.find('*') != std::string_view::npos;
    // Router-wide timeouts apply where the deployment sets none.
    if (!c.timeoutSeconds && rs.timeoutSeconds) {
      d.timeout = std::chrono::milliseconds(static_cast<int64_t>(*rs.timeoutSeconds * 1000.0));
      if (!c.streamTimeoutSeconds) d.streamTimeout = d.timeout;
    }
    if (!c.streamTimeoutSeconds && rs.streamTimeoutSeconds) {
      d.streamTimeout =
          std::chrono::milliseconds(static_cast<int64_t>(*rs.streamTimeoutSeconds * 1000.0));
    }
  }

  // Aliases resolve to their group's index (hidden ones too: hiding only keeps them out of
  // /v1/models). As in LiteLLM, an alias named like a group hides that group (the config warns).
  for (const auto& a : rs.modelGroupAlias) {
    auto it = groupByName.find(a.group);
    if (it == groupByName.end()) {
      warnings.push_back(
          fmt::format("model_group_alias {}: model group '{}' does not exist", a.alias, a.group));
      continue;
    }
    groupByName[a.alias] = it->second;  // LiteLLM looks aliases up first (the config warns)
  }

  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const std::string& n = groups[gi].name;
    const size_t star = n.find('*');
    if (star == std::string::npos) continue;
    wildcards.push_back({n.substr(0, star), n.substr(star + 1), gi});
  }
  std::stable_sort(wildcards.begin(), wildcards.end(), [](const auto& a, const auto& b) {
    return a.prefix.size() + a.suffix.size() > b.prefix.size() + b.suffix.size();
  });

  // Fallback lists by group name; "*" applies to every group without its own entry, then
  // default_fallbacks. A group never falls back to itself.
  auto resolve = [&](const config::FallbackMap& map, const std::string& group, bool useDefault,
                     std::vector<std::string>& out) {
    const std::vector<std::string>* names = nullptr;
    for (const auto& [k, v] : map) {
      if (k == group) names = &v;
    }
    if (names == nullptr) {
      for (const auto& [k, v] : map) {
        if (k == "*") names = &v;
      }
    }
    if (names == nullptr && useDefault && !rs.defaultFallbacks.empty()) {
      names = &rs.defaultFallbacks;
    }
    if (names == nullptr) return;
    for (const auto& name : *names) {
      GroupMatch m = matchGroup(name);
      if (m.group == nullptr) {
        warnings.push_back(
            fmt::format("fallbacks of {}: model group '{}' does not exist", group, name));
        continue;
      }
      if (name == group || std::find(out.begin(), out.end(), name) != out.end()) continue;
      out.push_back(name);
    }
  };
  // Named Portkey-style configs: a config that does not parse refuses the start, like any other
  // invalid setting (request-time configs get a 400 instead).
  for (const auto& [id, json] : cfg.routingConfigs) {
    router::portkey::Node root;
    if (auto err = router::portkey::parse(json, root)) {
      throw std::runtime_error(fmt::format("routing_configs.{}: {}", id, *err));
    }
    routingConfigs.emplace_back(id, std::move(root));
  }

  for (auto& g : groups) {
    resolve(rs.fallbacks, g.name, true, g.fallbacks);
    resolve(rs.contextWindowFallbacks, g.name, false, g.contextFallbacks);
    resolve(rs.contentPolicyFallbacks, g.name, false, g.contentFallbacks);
  }
}

}  // namespace llmux::engine
