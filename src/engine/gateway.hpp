#pragma once
// Everything built once from the config at startup and then shared read-only by all I/O threads:
// model groups, deployments with their parsed upstream origins and pre-rendered request headers,
// metrics and the access log.
#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "engine/provider_table.hpp"
#include "observability/access_log.hpp"
#include "observability/metrics.hpp"
#include "upstream/target.hpp"

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
};

struct ModelGroup {
  std::string name;
  std::vector<size_t> deployments;  // indexes into Gateway::deployments
  // The deployments requests go to: those with the lowest `order` (unset = after every set order;
  // the other tiers are for the failover of a later issue).
  std::vector<size_t> tier;
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

  [[nodiscard]] const ModelGroup* findGroup(std::string_view name) const {
    auto it = groupByName.find(name);
    return it == groupByName.end() ? nullptr : &groups[it->second];
  }
};

}  // namespace llmux::engine
