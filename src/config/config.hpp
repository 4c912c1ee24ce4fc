#pragma once
// Typed, validated configuration loaded from a LiteLLM-style config.yaml (see docs/config.md).
// Loading happens once at startup (exceptions are allowed there); the result is immutable and
// shared read-only by every I/O thread.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace llmux::config {

// One model_list[] entry: a deployment serving the model group `modelName`.
struct Deployment {
  std::string modelName;  // model_name: the group clients ask for
  std::string id;         // model_info.id if given, else "<model_name>/<index>"
  // Text before the first '/' of litellm_params.model ("openai", "mock", ...); "openai" if none.
  std::string provider;
  std::string upstreamModel;  // text after the first '/' (sent upstream as "model")
  std::string apiBase;        // api_base; empty = provider default
  std::string apiKey;         // api_key (os.environ/ resolved); empty = provider default env var
  std::string apiVersion;     // api_version
  std::optional<double> timeoutSeconds;        // timeout: whole non-streaming call
  std::optional<double> streamTimeoutSeconds;  // stream_timeout: time to first chunk of a stream
  int maxRetries = 0;                          // max_retries
  std::optional<int64_t> rpm;
  std::optional<int64_t> tpm;
  double weight = 1.0;
  int order = 0;                                                  // 0 = unset
  std::vector<std::pair<std::string, std::string>> extraHeaders;  // extra_headers, in file order
  std::optional<std::string> mockResponse;                        // mock_response
  // Built-in mock provider tuning (llmux extensions inside litellm_params):
  int64_t mockLatencyMs = 0;     // mock_latency_ms: delay before the response (or first chunk)
  int64_t mockChunkDelayMs = 0;  // mock_chunk_delay_ms: delay between stream chunks
  // llmux extension: idle time allowed between stream chunks (overrides llmux_settings).
  std::optional<int64_t> streamIdleTimeoutMs;  // stream_idle_timeout_ms
  bool sslVerify = true;  // ssl_verify: false disables certificate verification (LiteLLM)
  std::string sslCaFile;  // ssl_verify: "<path>": trust this CA bundle instead of the system store
  // Provider credentials and placement (LiteLLM litellm_params names; os.environ/ resolved).
  std::optional<bool> dropParams;  // drop_params: overrides litellm_settings.drop_params
  std::string vertexProject;       // vertex_project
  std::string vertexLocation;      // vertex_location
  std::string vertexCredentials;  // vertex_credentials: service-account JSON file path or JSON text
  std::string awsAccessKeyId;     // aws_access_key_id
  std::string awsSecretAccessKey;         // aws_secret_access_key
  std::string awsSessionToken;            // aws_session_token
  std::string awsRegionName;              // aws_region_name
  std::string awsProfileName;             // aws_profile_name
  std::string awsBedrockRuntimeEndpoint;  // aws_bedrock_runtime_endpoint: base URL override
  std::string azureAdToken;  // azure_ad_token: Entra ID bearer token instead of api-key
  // model_info kept as flat string pairs for /v1/models and later issues.
  std::map<std::string, std::string> modelInfo;
  // Routing (issue 4): per-deployment concurrency cap, LiteLLM's max_parallel_requests; enforced
  // together with rpm/tpm (a deployment at its limit is skipped, never overrun).
  std::optional<int64_t> maxParallelRequests;
  // Prices per token in USD (litellm_params or model_info input_cost_per_token /
  // output_cost_per_token); override the price table. model_info.base_model names the table entry.
  std::optional<double> inputCostPerToken;
  std::optional<double> outputCostPerToken;
  std::string baseModel;                  // model_info.base_model
  std::optional<int64_t> maxInputTokens;  // model_info.max_input_tokens (context window)
  std::vector<std::string> tags;          // litellm_params.tags (tag-based routing later)
  std::vector<std::string> accessGroups;  // model_info.access_groups (keys' `models` may name them)
};

// One error class of LiteLLM's retry_policy / allowed_fails_policy (…ErrorRetries,
// …ErrorAllowedFails). Unset members fall back to num_retries / allowed_fails.
struct ErrorClassCounts {
  std::optional<int> badRequest;      // BadRequestError…
  std::optional<int> authentication;  // AuthenticationError…
  std::optional<int> timeout;         // TimeoutError…
  std::optional<int> rateLimit;       // RateLimitError…
  std::optional<int> contentPolicy;   // ContentPolicyViolationError…
  std::optional<int> internalServer;  // InternalServerError…
  [[nodiscard]] bool any() const {
    return badRequest || authentication || timeout || rateLimit || contentPolicy || internalServer;
  }
};

enum class RoutingStrategy { SimpleShuffle, LeastBusy, LatencyBased, UsageBased, CostBased };

// model group -> the groups to try after it, in order ("*" = any group).
using FallbackMap = std::vector<std::pair<std::string, std::vector<std::string>>>;

// router_settings (and the LiteLLM keys of litellm_settings that configure the router; where both
// give a key, router_settings wins).
struct RouterSettings {
  RoutingStrategy strategy = RoutingStrategy::SimpleShuffle;  // routing_strategy
  // routing_strategy_args.lowest_latency_buffer: latency-based routing picks at random among the
  // deployments within (1 + buffer) × the lowest latency.
  double lowestLatencyBuffer = 0.0;
  // num_retries: attempts after the first, across the group's deployments. Default 2: LiteLLM's
  // Router falls back to openai.DEFAULT_MAX_RETRIES when neither section sets it.
  int numRetries = 2;
  ErrorClassCounts retryPolicy;  // retry_policy
  // model_group_retry_policy: per model group.
  std::vector<std::pair<std::string, ErrorClassCounts>> groupRetryPolicy;
  std::chrono::milliseconds retryAfter{0};    // retry_after: least wait before a retry (s)
  FallbackMap fallbacks;                      // fallbacks
  FallbackMap contextWindowFallbacks;         // context_window_fallbacks
  FallbackMap contentPolicyFallbacks;         // content_policy_fallbacks
  std::vector<std::string> defaultFallbacks;  // default_fallbacks
  int maxFallbacks = 5;                       // max_fallbacks
  // allowed_fails (per deployment per minute). Unset: LiteLLM uses litellm.allowed_fails, 3
  // (kDefaultAllowedFails); kept optional so the router can tell a configured value apart.
  std::optional<int> allowedFails;
  static constexpr int kDefaultAllowedFails = 3;
  ErrorClassCounts allowedFailsPolicy;  // allowed_fails_policy
  // cooldown_time (s); LiteLLM's DEFAULT_COOLDOWN_TIME_SECONDS is 5, and 0 also means 5.
  std::chrono::milliseconds cooldownTime{5000};
  bool disableCooldowns = false;               // disable_cooldowns
  std::optional<double> timeoutSeconds;        // timeout: whole call (router default)
  std::optional<double> streamTimeoutSeconds;  // stream_timeout: first chunk (router default)
  // model_group_alias: alias -> group (LiteLLM's {"model": ..., "hidden": true} form included).
  struct Alias {
    std::string alias;
    std::string group;
    bool hidden = false;
  };
  std::vector<Alias> modelGroupAlias;
  bool enablePreCallChecks = false;     // enable_pre_call_checks: skip deployments whose context
                                        // window the prompt exceeds
  bool backgroundHealthChecks = false;  // general_settings.background_health_checks
  std::chrono::milliseconds healthCheckInterval{300000};  // general_settings.health_check_interval
};

// llmux_settings: (llmux's own block; LiteLLM ignores unknown top-level keys) plus the LiteLLM
// general_settings keys that map onto server limits.
struct ServerSettings {
  std::string host = "0.0.0.0";
  uint16_t port = 4000;
  int workers = 0;  // 0 = one per core
  // general_settings.max_request_size_mb or llmux_settings.max_body_bytes (which wins).
  uint64_t maxBodyBytes = 32ull << 20;
  uint32_t maxHeaderBytes = 16u << 10;             // llmux_settings.max_header_bytes
  std::chrono::milliseconds headerTimeout{10000};  // llmux_settings.header_timeout_ms
  std::chrono::milliseconds bodyTimeout{30000};    // llmux_settings.body_timeout_ms
  std::chrono::milliseconds idleTimeout{60000};    // llmux_settings.idle_timeout_ms (keep-alive)
  std::chrono::milliseconds shutdownGrace{30000};  // llmux_settings.shutdown_grace_ms
  std::chrono::milliseconds connectTimeout{5000};  // llmux_settings.connect_timeout_ms
  // litellm_settings.request_timeout (s) or llmux_settings.request_timeout_ms (which wins).
  std::chrono::milliseconds defaultTimeout{600000};
  std::chrono::milliseconds streamIdleTimeout{120000};  // llmux_settings.stream_idle_timeout_ms
  // Remote images for providers that take no URLs (Bedrock, Ollama, Vertex AI, Gemini) are fetched
  // by the gateway: at most this many bytes each, within this time, and never from private,
  // loopback or link-local addresses unless allowed.
  int64_t imageFetchMaxBytes = 20ll << 20;             // llmux_settings.image_fetch_max_bytes
  std::chrono::milliseconds imageFetchTimeout{10000};  // llmux_settings.image_fetch_timeout_ms
  bool imageFetchAllowPrivate = false;                 // llmux_settings.image_fetch_allow_private
  std::string accessLog = "-";    // llmux_settings.access_log: "-" stdout, "" off, else a file path
  std::string logLevel = "info";  // llmux_settings.log_level
};

// Virtual keys, budgets, rate limits and spend tracking (issue 5): where their state lives.
struct GovernanceSettings {
  // general_settings.database_url (else the DATABASE_URL environment variable): postgresql://...
  // for several instances; empty = the embedded SQLite file `databasePath`.
  std::string databaseUrl;
  std::string databasePath = "llmux.db";  // llmux_settings.database_path
  // Redis for counters shared by every instance: router_settings.redis_host/redis_port/
  // redis_password (or redis_url), or litellm_settings.cache_params {type: redis, host, ...}.
  std::string redisHost;  // empty = no Redis: limits are per instance
  uint16_t redisPort = 6379;
  std::string redisPassword;
  int redisDb = 0;
  // llmux_settings.redis_failure_mode: when Redis is unreachable, fail_open keeps serving with
  // per-instance limits (limit / instances), fail_closed refuses (503).
  bool redisFailOpen = true;
  int instances = 1;  // llmux_settings.instances: the divisor for fail_open
  // llmux_settings.budget_reservation: reserve each request's worst-case cost at admission (so
  // concurrent requests cannot overshoot max_budget); false = LiteLLM's check-then-spend.
  bool reserveBudget = true;
  std::chrono::milliseconds keyCacheTtl{5000};        // llmux_settings.key_cache_ttl_ms
  bool spendLogs = true;                              // !general_settings.disable_spend_logs
  std::chrono::milliseconds spendFlushInterval{250};  // general_settings.proxy_batch_write_at (s)
  std::string spoolDir;                               // llmux_settings.spool_dir ("" = <db>.spool)
  int64_t spoolMaxBytes = 256ll << 20;                // llmux_settings.spool_max_bytes
  std::chrono::milliseconds budgetResetInterval{10000};  // llmux_settings.budget_reset_interval_ms
  // general_settings.allow_requests_on_db_unavailable: a key not in the cache is admitted (as
  // an unknown caller with no limits) when the database cannot be reached.
  bool allowRequestsOnDbUnavailable = false;
};

struct Warning {
  std::string path;  // YAML path, e.g. "router_settings.routing_strategy"
  int line = 0;      // 1-based; 0 if unknown
  std::string message;
  [[nodiscard]] std::string format(const std::string& file) const;  // same shape as Problem::format
};

struct Config {
  std::vector<Deployment> deployments;  // in file order
  std::string masterKey;                // general_settings.master_key (empty = no auth)
  bool dropParams = false;  // litellm_settings.drop_params: drop what a provider cannot honour
  ServerSettings server;
  RouterSettings router;
  GovernanceSettings governance;
  // Named Portkey-style routing configs (top-level routing_configs: id -> config), kept as JSON
  // text; requests select one with `x-llmux-config: <id>` (or x-portkey-config).
  std::vector<std::pair<std::string, std::string>> routingConfigs;
  // One per accepted-but-unimplemented key, per unset os.environ/ variable, and for an empty
  // model_list; sorted by line.
  std::vector<Warning> warnings;
  // Distinct model_name values in file order (the model groups of /v1/models).
  [[nodiscard]] std::vector<std::string> modelGroups() const;
};

struct Problem {
  std::string path;  // YAML path, e.g. "model_list[2].litellm_params.timeout"
  int line = 0;      // 1-based line in the file; 0 if unknown
  std::string message;
  [[nodiscard]] std::string format(const std::string& file) const;  // "file:line: path: message"
};

struct LoadResult {
  std::optional<Config> config;   // set when there are no problems
  std::vector<Problem> problems;  // every problem found (not only the first)
};

struct LoadOptions {
  // false: environment_variables are only visible to os.environ/ references of this load and the
  // process environment is left untouched (fuzzing, tests).
  bool exportEnvironment = true;
};

// Parses YAML text. `environment_variables` entries are exported with setenv() before
// `os.environ/VAR` references are resolved (LiteLLM's order). Never throws.
LoadResult loadConfigText(const std::string& yamlText);
LoadResult loadConfigText(const std::string& yamlText, const LoadOptions& options);
LoadResult loadConfigFile(const std::string& path);
LoadResult loadConfigFile(const std::string& path, const LoadOptions& options);

}  // namespace llmux::config
