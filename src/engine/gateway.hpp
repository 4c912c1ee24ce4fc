#pragma once
// Everything built once from the config at startup and then shared read-only by all I/O threads:
// model groups, deployments with their parsed upstream origins and pre-rendered request headers,
// metrics and the access log.
#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "engine/provider_table.hpp"
#include "observability/access_log.hpp"
#include "observability/metrics.hpp"
#include "router/portkey_config.hpp"
#include "router/select.hpp"
#include "router/state.hpp"
#include "upstream/target.hpp"

namespace llmux::pricing {
struct ModelPrice;
}

namespace llmux::engine {

class GoogleServiceAccount;

struct DeploymentRt {
  const config::Deployment* cfg = nullptr;
  size_t index = 0;  // in model_list order
  size_t group = 0;
  ProviderKind kind = ProviderKind::Unsupported;
  const ProviderSpec* spec = nullptr;
  const providers::Adapter* adapter = nullptr;  // ProviderKind::Native
  upstream::Target target;                      // upstream providers only
  std::string_view upstreamModel;  // the provider's model id (litellm_params.model sans prefix)
  std::string requestLinePrefix;   // OpenAI: "POST /v1/chat/completions HTTP/1.1\r\nhost: ...\r\n"
  std::string completionsLine;     // OpenAI: the same for /completions (legacy text)
  std::string embeddingsLine;      // OpenAI: the same for /embeddings
  std::string hostLine;            // "host: ...\r\n"
  // Static auth header lines (bearer, x-api-key, api-key, ...), empty for per-request auth.
  std::string authHeaders;
  std::string fixedHeaders;  // extra_headers, user-agent, accept, each ending CRLF
  bool dropParams = false;   // drop_params of the deployment, else litellm_settings
  // OpenAI streams: force stream_options.include_usage (false for Azure api-versions before
  // 2024-09-01, which reject the field).
  bool forceStreamUsage = true;
  // AWS SigV4 (Bedrock)
  std::string awsAccessKeyId, awsSecretAccessKey, awsSessionToken, awsRegion;
  // Google OAuth (Vertex AI)
  std::shared_ptr<const GoogleServiceAccount> google;
  std::string project, location;
  std::chrono::milliseconds timeout{600000};
  std::chrono::milliseconds streamTimeout{600000};
  std::chrono::milliseconds streamIdleTimeout{120000};
  double weight = 1.0;  // share of the group's traffic (weight, else rpm, else tpm)
  // The provider model contains '*' (litellm_params.model "openai/*"): each request's model fills
  // it in (wildcard model groups).
  bool wildcard = false;
  // Price table entry (may be null) and the prices in force (the deployment's own, else the
  // table's), USD per token.
  const pricing::ModelPrice* price = nullptr;
  std::optional<double> inputCostPerToken, outputCostPerToken;
};

struct ModelGroup {
  std::string name;
  // Indexes into Gateway::deployments, sorted by `order` (unset after every set value), stable.
  std::vector<size_t> deployments;
  // The first-choice deployments: those with the lowest `order`.
  std::vector<size_t> tier;
  // Fallback model names (resolved per request, so wildcard groups keep their match) by the error
  // that ends this group's attempts: a failure worth another provider, a context-window error, a
  // content-policy refusal.
  std::vector<std::string> fallbacks, contextFallbacks, contentFallbacks;
  config::ErrorClassCounts
      retryPolicy;        // router retry_policy with model_group_retry_policy over it
  bool wildcard = false;  // model_name contains '*'
};

// A model_name with '*' ("openai/*", "claude-*", "*"): matches request models by pattern.
struct WildcardGroup {
  std::string prefix, suffix;  // the pattern around its '*'
  size_t group = 0;
};

// What a request's model name resolves to.
struct GroupMatch {
  const ModelGroup* group = nullptr;
  std::string_view capture;  // the text a wildcard's '*' matched (empty for exact names)
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Gateway {
 public:
  // Throws std::runtime_error for a config the engine cannot serve (e.g. a malformed api_base).
  Gateway(const config::Config& cfg, size_t workers);

  const config::Config& cfg;
  std::vector<DeploymentRt> deployments;
  std::vector<ModelGroup> groups;
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> groupByName;
  std::string availableModels;  // "a, b, c" for the unknown-model error
  std::string modelsJson;       // GET /v1/models body
  observability::Metrics metrics;
  std::unique_ptr<observability::AccessLog> accessLog;
  boost::asio::ssl::context tls{boost::asio::ssl::context::tls_client};
  std::atomic<bool> draining{false};
  int64_t startedUnix = 0;
  std::vector<std::string> warnings;  // startup notes for the log / check-config

  // Routing: static facts and live shared state per deployment (same indexes as `deployments`).
  std::vector<router::DeploymentInfo> routeInfo;
  std::unique_ptr<router::DeploymentState[]> routeState;
  size_t routeStateCount = 0;
  std::vector<WildcardGroup> wildcards;              // most specific (longest fixed text) first
  std::unique_ptr<router::GroupState[]> groupState;  // same indexes as `groups`
  // Health checks (background_health_checks, GET /health): the last result per deployment.
  struct HealthResult {
    bool checked = false;
    bool healthy = false;
    std::string error;
    int64_t checkedUnixMs = 0;
    uint64_t latencyUs = 0;
  };
  mutable std::mutex healthMu;
  std::vector<HealthResult> health;  // guarded by healthMu; same indexes as `deployments`
  // Appends the router's Prometheus families (retries, fallbacks, cooldowns, health).
  void renderRoutingMetrics(std::string& out) const;
  // routing_configs, parsed (Portkey-style configs selected by id in x-llmux-config).
  std::vector<std::pair<std::string, router::portkey::Node>> routingConfigs;
  [[nodiscard]] const router::portkey::Node* findRoutingConfig(std::string_view id) const {
    for (const auto& [k, v] : routingConfigs) {
      if (k == id) return &v;
    }
    return nullptr;
  }

  [[nodiscard]] const ModelGroup* findGroup(std::string_view name) const {
    auto it = groupByName.find(name);
    return it == groupByName.end() ? nullptr : &groups[it->second];
  }
  // Exact names and aliases first, then wildcard patterns.
  [[nodiscard]] GroupMatch matchGroup(std::string_view name) const;
  // Strategy state, fallbacks, aliases and wildcards from router_settings (gateway_routing.cpp).
  void setupRouting();
  [[nodiscard]] std::span<router::DeploymentState> states() const {
    return {routeState.get(), routeStateCount};
  }
};

}  // namespace llmux::engine
