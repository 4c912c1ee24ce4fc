// Real LiteLLM configs load unchanged: every key llmux does not implement yet is accepted with
// exactly one warning naming its YAML path.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <set>

#include "config/config.hpp"
#include "config_test_util.hpp"

namespace llmux::config {
namespace {

using namespace std::chrono_literals;
using testing::dataPath;
using testing::loadOk;
using testing::ScopedEnv;
using testing::warningsAt;

constexpr const char* kNotImplemented = "accepted but not implemented yet";

TEST(ConfigLitellm, RealisticConfigLoadsWithTheExpectedWarnings) {
  ScopedEnv azureKey("LLMUX_REALISTIC_AZURE_KEY", std::nullopt);
  ScopedEnv openaiKey("LLMUX_REALISTIC_OPENAI_KEY", std::nullopt);
  ScopedEnv azureAd("LLMUX_REALISTIC_AZURE_AD_TOKEN", std::nullopt);
  ScopedEnv awsKey("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  ScopedEnv awsSecret("AWS_SECRET_ACCESS_KEY", "secret");
  ScopedEnv redisHost("REDIS_HOST", "redis.internal");
  ScopedEnv redisPassword("REDIS_PASSWORD", "pw");
  ScopedEnv databaseUrl("DATABASE_URL", "postgresql://llmux@db/llmux");
  LoadResult r = loadConfigFile(dataPath("litellm_realistic.yaml"), {.exportEnvironment = false});
  for (const Problem& p : r.problems) ADD_FAILURE() << p.format("litellm_realistic.yaml");
  ASSERT_TRUE(r.config);
  const Config& c = *r.config;

  const std::string p0 = "model_list[0].litellm_params.";
  const std::string p1 = "model_list[1].litellm_params.";
  const std::string p2 = "model_list[2].litellm_params.";
  const std::string p3 = "model_list[3].litellm_params.";
  const std::string p4 = "model_list[4].litellm_params.";
  const std::vector<std::pair<std::string, int>> expected = {
      {p0 + "organization", 8},
      {p1 + "api_key", 29},         // LLMUX_REALISTIC_AZURE_KEY is not set
      {p1 + "azure_ad_token", 32},  // LLMUX_REALISTIC_AZURE_AD_TOKEN is not set
      {p4 + "temperature", 53},
      {p4 + "max_tokens", 54},
      {"litellm_settings.set_verbose", 63},
      {"litellm_settings.success_callback", 65},
      {"litellm_settings.failure_callback", 66},
      {"litellm_settings.callbacks", 67},
      {"litellm_settings.cache", 72},
      {"general_settings.store_model_in_db", 93},
      {"general_settings.alerting", 94},
      {"general_settings.alerting_threshold", 95},
      {"general_settings.allowed_routes", 96},
      {"guardrails", 100},
      {"callback_settings", 106},
      {"credential_list", 110},
  };
  std::vector<std::pair<std::string, int>> actual;
  for (const Warning& w : c.warnings) actual.emplace_back(w.path, w.line);
  EXPECT_EQ(actual, expected);
  for (const Warning& w : c.warnings) {
    if (w.path == p1 + "api_key") {
      EXPECT_NE(w.message.find("LLMUX_REALISTIC_AZURE_KEY is not set"), std::string::npos);
    } else if (w.path == p1 + "azure_ad_token") {
      EXPECT_NE(w.message.find("LLMUX_REALISTIC_AZURE_AD_TOKEN is not set"), std::string::npos);
    } else {
      EXPECT_EQ(w.message, kNotImplemented) << w.path;
    }
  }

  // Governance (issue 5): the database and the Redis for shared counters.
  EXPECT_EQ(c.governance.databaseUrl, "postgresql://llmux@db/llmux");
  EXPECT_EQ(c.governance.redisHost, "redis.internal");
  EXPECT_EQ(c.governance.redisPassword, "pw");
  EXPECT_EQ(c.governance.redisPort, 6379);

  ASSERT_EQ(c.deployments.size(), 6u);
  EXPECT_EQ(c.deployments[0].id, "gpt-4o-primary");
  // environment_variables is at the end of the file and still feeds os.environ/ above it.
  EXPECT_EQ(c.deployments[0].apiKey, "sk-from-environment-variables");
  EXPECT_EQ(c.deployments[0].rpm, 480);
  EXPECT_EQ(c.deployments[0].timeoutSeconds, 300.0);
  EXPECT_EQ(c.deployments[0].modelInfo.at("input_cost_per_token"), "0.0000025");
  EXPECT_EQ(c.deployments[0].modelInfo.count("metadata"), 0u);
  EXPECT_EQ(c.deployments[1].id, "gpt-4o/1");
  EXPECT_EQ(c.deployments[1].provider, "azure");
  EXPECT_EQ(c.deployments[1].apiBase, "https://example-eu.openai.azure.com");
  EXPECT_EQ(c.deployments[1].apiVersion, "2024-08-01-preview");
  EXPECT_EQ(c.deployments[1].weight, 2.0);
  EXPECT_EQ(c.deployments[2].provider, "bedrock");
  EXPECT_EQ(c.deployments[2].upstreamModel, "anthropic.claude-3-5-sonnet-20240620-v1:0");
  EXPECT_EQ(c.deployments[2].order, 1);
  EXPECT_EQ(c.deployments[3].provider, "vertex_ai");
  EXPECT_EQ(c.deployments[4].provider, "hosted_vllm");
  EXPECT_EQ(c.deployments[4].upstreamModel, "meta-llama/Meta-Llama-3-8B-Instruct");
  EXPECT_EQ(c.deployments[5].modelName, "*");
  EXPECT_EQ(c.deployments[5].upstreamModel, "*");
  EXPECT_EQ(c.modelGroups(), (std::vector<std::string>{"gpt-4o", "claude-3-5-sonnet", "gemini-pro",
                                                       "llama-3", "*"}));

  EXPECT_EQ(c.deployments[2].awsRegionName, "us-east-1");
  EXPECT_EQ(c.deployments[2].awsAccessKeyId, "AKIDEXAMPLE");
  EXPECT_EQ(c.deployments[3].vertexProject, "my-project");
  EXPECT_EQ(c.deployments[3].vertexCredentials, "/secrets/vertex.json");
  EXPECT_EQ(c.deployments[3].dropParams, std::optional<bool>(true));
  EXPECT_TRUE(c.dropParams);
  EXPECT_EQ(c.masterKey, "sk-realistic-master");
  EXPECT_EQ(c.server.maxBodyBytes, 8u << 20);
  EXPECT_EQ(c.server.defaultTimeout, 120s);

  // Routing keys of both sections: router_settings wins where both give one.
  const RouterSettings& router = c.router;
  EXPECT_EQ(router.strategy, RoutingStrategy::UsageBased);
  EXPECT_EQ(router.numRetries, 2);  // litellm_settings says 3
  EXPECT_EQ(router.timeoutSeconds, 30.0);
  EXPECT_EQ(router.allowedFails, 3);
  EXPECT_EQ(router.cooldownTime, 60s);
  EXPECT_TRUE(router.enablePreCallChecks);
  EXPECT_EQ(router.fallbacks, (FallbackMap{{"gpt-4o", {"claude-3-5-sonnet"}}}));
  EXPECT_EQ(router.contextWindowFallbacks, (FallbackMap{{"gpt-4o", {"gemini-pro"}}}));
  EXPECT_EQ(c.deployments[0].inputCostPerToken, 0.0000025);
  EXPECT_EQ(c.deployments[0].outputCostPerToken, 0.00001);
  EXPECT_EQ(c.deployments[0].baseModel, "gpt-4o");
  EXPECT_FALSE(c.deployments[0].maxInputTokens);  // only max_tokens is given
}

TEST(ConfigLitellm, EachUnimplementedPathIsWarnedExactlyOnce) {
  ScopedEnv azureKey("LLMUX_REALISTIC_AZURE_KEY", "set");
  ScopedEnv azureAd("LLMUX_REALISTIC_AZURE_AD_TOKEN", "set");
  ScopedEnv awsKey("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  ScopedEnv awsSecret("AWS_SECRET_ACCESS_KEY", "secret");
  ScopedEnv redisHost("REDIS_HOST", "redis.internal");
  ScopedEnv redisPassword("REDIS_PASSWORD", "pw");
  ScopedEnv databaseUrl("DATABASE_URL", "postgresql://llmux@db/llmux");
  LoadResult r = loadConfigFile(dataPath("litellm_realistic.yaml"), {.exportEnvironment = false});
  ASSERT_TRUE(r.config);
  std::set<std::string> seen;
  for (const Warning& w : r.config->warnings) {
    EXPECT_TRUE(seen.insert(w.path).second) << "warned twice: " << w.path;
    EXPECT_EQ(w.message, kNotImplemented);
  }
}

TEST(ConfigLitellm, UnknownTopLevelKeysWarnOnceEach) {
  Config c = loadOk(R"(include:
  - models.yaml
guardrails: []
callback_settings: {otel: {message_logging: false}}
credential_list: []
some_future_block:
  nested: {deep: [1, 2, 3]}
)");
  ASSERT_EQ(c.warnings.size(), 6u);  // five keys plus the empty model_list
  EXPECT_EQ(warningsAt(c, "include").size(), 1u);
  EXPECT_EQ(warningsAt(c, "include")[0]->line, 1);
  EXPECT_EQ(warningsAt(c, "guardrails").size(), 1u);
  EXPECT_EQ(warningsAt(c, "callback_settings").size(), 1u);
  EXPECT_EQ(warningsAt(c, "credential_list").size(), 1u);
  EXPECT_EQ(warningsAt(c, "some_future_block").size(), 1u);
  EXPECT_EQ(warningsAt(c, "some_future_block")[0]->line, 6);
}

TEST(ConfigLitellm, RouterSettingsUnknownKeysWarnImplementedKeysDoNot) {
  Config c = loadOk(R"(router_settings:
  routing_strategy: latency-based-routing
  routing_strategy_args: {ttl: 60}
  redis_host: localhost
  cache_responses: true
  enable_tag_filtering: true
)");
  EXPECT_TRUE(warningsAt(c, "router_settings.routing_strategy").empty());
  EXPECT_EQ(c.router.strategy, RoutingStrategy::LatencyBased);
  ASSERT_EQ(warningsAt(c, "router_settings.routing_strategy_args.ttl").size(), 1u);
  EXPECT_EQ(warningsAt(c, "router_settings.routing_strategy_args.ttl")[0]->line, 3);
  EXPECT_TRUE(warningsAt(c, "router_settings.redis_host").empty());  // read since issue 5
  EXPECT_EQ(c.governance.redisHost, "localhost");
  EXPECT_EQ(warningsAt(c, "router_settings.cache_responses").size(), 1u);
  EXPECT_EQ(warningsAt(c, "router_settings.enable_tag_filtering").size(), 1u);
  for (const Warning& w : c.warnings) {
    if (w.path != "model_list") EXPECT_EQ(w.message, kNotImplemented) << w.path;
  }

  // Now that the block is read, its shape and duplicates are checked like the other sections'.
  EXPECT_FALSE(testing::load("router_settings: simple-shuffle\n").config);
  EXPECT_FALSE(testing::load("router_settings:\n  timeout: 1\n  timeout: 2\n").config);
}

TEST(ConfigLitellm, UnknownDeploymentKeysWarn) {
  Config c = loadOk(R"(model_list:
- model_name: m
  litellm_params:
    model: openai/x
    temperature: 0.1
    input_cost_per_token: 0.001
    tags: [a]
  model_info:
    mode: chat
  some_entry_key: 1
)");
  EXPECT_EQ(warningsAt(c, "model_list[0].litellm_params.temperature").size(), 1u);
  EXPECT_EQ(warningsAt(c, "model_list[0].some_entry_key").size(), 1u);
  // input_cost_per_token and tags are read now; nothing for model_info.
  EXPECT_EQ(c.warnings.size(), 2u);
}

TEST(ConfigLitellm, GeneralAndLitellmSettingsUnknownKeysWarn) {
  Config c = loadOk(R"(general_settings:
  master_key: sk-1234
  database_url: postgresql://u:p@db/litellm
  key_management_settings: {default_key_duration: 30d}
litellm_settings:
  request_timeout: 600
  success_callback: [langfuse]
  cache: true
)");
  EXPECT_EQ(c.masterKey, "sk-1234");
  EXPECT_TRUE(warningsAt(c, "general_settings.database_url").empty());  // read since issue 5
  EXPECT_EQ(c.governance.databaseUrl, "postgresql://u:p@db/litellm");
  EXPECT_EQ(warningsAt(c, "general_settings.key_management_settings").size(), 1u);
  EXPECT_EQ(warningsAt(c, "litellm_settings.success_callback").size(), 1u);
  EXPECT_EQ(warningsAt(c, "litellm_settings.cache").size(), 1u);
  EXPECT_TRUE(warningsAt(c, "general_settings.master_key").empty());
  EXPECT_TRUE(warningsAt(c, "litellm_settings.request_timeout").empty());
}

TEST(ConfigLitellm, AnchorsAliasesAndMergeKeysWork) {
  // PyYAML (so LiteLLM) supports "<<" merge keys; configs use them to share litellm_params.
  Config c = loadOk(R"(x-common: &common
  api_base: http://vllm:8000/v1
  timeout: 20
  rpm: 5
model_list:
- model_name: a
  litellm_params:
    <<: *common
    model: hosted_vllm/a
    rpm: 7
- model_name: b
  litellm_params: {model: openai/b, api_key: &key sk-shared}
- model_name: c
  litellm_params: {model: openai/c, api_key: *key}
)");
  ASSERT_EQ(c.deployments.size(), 3u);
  EXPECT_EQ(c.deployments[0].apiBase, "http://vllm:8000/v1");
  EXPECT_EQ(c.deployments[0].timeoutSeconds, 20.0);
  EXPECT_EQ(c.deployments[0].rpm, 7);  // the mapping's own key wins over the merged one
  EXPECT_EQ(c.deployments[2].apiKey, "sk-shared");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].path, "x-common");
}

TEST(ConfigLitellm, MergedValuesReportTheirOwnLine) {
  LoadResult r = testing::load(R"(x-defaults: &defaults
  timeout: never
model_list:
- model_name: a
  litellm_params:
    <<: [*defaults, {rpm: 1}]
    model: openai/a
)");
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, "model_list[0].litellm_params.timeout");
  EXPECT_EQ(r.problems[0].line, 2);
}

TEST(ConfigLitellm, ExponentialMergeIsBounded) {
  // Each level merges both anchors of the level below: 2^depth mappings without a budget.
  std::string yaml = "x0: &a0 {k0: 1}\nx0b: &b0 {k1: 1}\n";
  for (int i = 1; i < 15; ++i) {
    for (const char* name : {"a", "b"}) {
      yaml += fmt::format("x{1}{0}: &{0}{1} {{<<: [*a{2}, *b{2}], k{1}{0}: 1}}\n", name, i, i - 1);
    }
  }
  yaml += "model_list:\n- model_name: m\n  litellm_params: {model: x, <<: [*a14, *b14]}\n";
  LoadResult r = testing::load(yaml);
  EXPECT_FALSE(r.config);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_NE(r.problems[0].message.find("too large"), std::string::npos) << r.problems[0].message;
}

TEST(ConfigLitellm, CyclicMergeIsAProblemNotAHang) {
  LoadResult r =
      testing::load("model_list:\n- &a {model_name: m, litellm_params: {model: x}, <<: *a}\n");
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, "model_list[0].<<");
  LoadResult bad = testing::load("model_list:\n- model_name: m\n  litellm_params:\n    <<: 5\n");
  ASSERT_EQ(bad.problems.size(), 2u);  // the missing model and the bad merge
  EXPECT_EQ(bad.problems[1].path, "model_list[0].litellm_params.<<");
  EXPECT_EQ(bad.problems[1].line, 4);
}

}  // namespace
}  // namespace llmux::config
