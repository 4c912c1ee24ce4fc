// Routing settings (issue 4): router_settings, the router keys of litellm_settings and
// general_settings, the routing fields of model_list entries, and routing_configs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config_test_util.hpp"

namespace llmux::config {
namespace {

using namespace std::chrono_literals;
using testing::expectContains;
using testing::load;
using testing::loadOk;
using testing::loadWithModels;
using testing::onlyProblem;
using testing::problemWithModels;
using testing::ScopedEnv;
using testing::warningsAt;

TEST(ConfigRouter, DefaultsFollowLiteLLM) {
  Config c = loadOk(testing::kThreeGroups);
  const RouterSettings& r = c.router;
  EXPECT_EQ(r.strategy, RoutingStrategy::SimpleShuffle);
  EXPECT_EQ(r.numRetries, 2);  // openai.DEFAULT_MAX_RETRIES, LiteLLM's Router default
  EXPECT_EQ(r.maxFallbacks, 5);
  EXPECT_FALSE(r.allowedFails);
  EXPECT_EQ(RouterSettings::kDefaultAllowedFails, 3);
  EXPECT_EQ(r.cooldownTime, 5s);
  EXPECT_EQ(r.retryAfter, 0ms);
  EXPECT_EQ(r.lowestLatencyBuffer, 0.0);
  EXPECT_FALSE(r.retryPolicy.any());
  EXPECT_FALSE(r.allowedFailsPolicy.any());
  EXPECT_TRUE(r.groupRetryPolicy.empty());
  EXPECT_TRUE(r.fallbacks.empty());
  EXPECT_TRUE(r.contextWindowFallbacks.empty());
  EXPECT_TRUE(r.contentPolicyFallbacks.empty());
  EXPECT_TRUE(r.defaultFallbacks.empty());
  EXPECT_FALSE(r.disableCooldowns);
  EXPECT_FALSE(r.timeoutSeconds);
  EXPECT_FALSE(r.streamTimeoutSeconds);
  EXPECT_TRUE(r.modelGroupAlias.empty());
  EXPECT_FALSE(r.enablePreCallChecks);
  EXPECT_FALSE(r.backgroundHealthChecks);
  EXPECT_EQ(r.healthCheckInterval, 300s);
  EXPECT_TRUE(c.routingConfigs.empty());
  const Deployment& d = c.deployments.at(0);
  EXPECT_FALSE(d.maxParallelRequests);
  EXPECT_FALSE(d.inputCostPerToken);
  EXPECT_FALSE(d.outputCostPerToken);
  EXPECT_TRUE(d.baseModel.empty());
  EXPECT_FALSE(d.maxInputTokens);
  EXPECT_TRUE(d.tags.empty());
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigRouter, RoutingStrategies) {
  const std::vector<std::pair<std::string, RoutingStrategy>> cases = {
      {"simple-shuffle", RoutingStrategy::SimpleShuffle},
      {"least-busy", RoutingStrategy::LeastBusy},
      {"latency-based-routing", RoutingStrategy::LatencyBased},
      {"usage-based-routing-v2", RoutingStrategy::UsageBased},
      {"cost-based-routing", RoutingStrategy::CostBased},
  };
  for (const auto& [name, strategy] : cases) {
    Config c = loadOk("router_settings:\n  routing_strategy: " + name + "\n");
    EXPECT_EQ(c.router.strategy, strategy) << name;
    EXPECT_TRUE(warningsAt(c, "router_settings.routing_strategy").empty()) << name;
  }
  Config v1 = loadOk("router_settings:\n  routing_strategy: usage-based-routing\n");
  EXPECT_EQ(v1.router.strategy, RoutingStrategy::UsageBased);
  ASSERT_EQ(warningsAt(v1, "router_settings.routing_strategy").size(), 1u);
  expectContains(warningsAt(v1, "router_settings.routing_strategy")[0]->message,
                 "usage-based-routing-v2");

  Problem p = onlyProblem("router_settings:\n  routing_strategy: fastest\n");
  EXPECT_EQ(p.path, "router_settings.routing_strategy");
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.message,
            "must be one of simple-shuffle, least-busy, latency-based-routing, "
            "usage-based-routing-v2, usage-based-routing, cost-based-routing; got 'fastest'");
  // LiteLLM compares exactly.
  EXPECT_FALSE(load("router_settings:\n  routing_strategy: Least-Busy\n").config);
  expectContains(onlyProblem("router_settings:\n  routing_strategy: [least-busy]\n").message,
                 "must be a string");
}

TEST(ConfigRouter, RoutingStrategyArgs) {
  Config c = loadOk(R"(router_settings:
  routing_strategy: latency-based-routing
  routing_strategy_args: {lowest_latency_buffer: 0.5, ttl: 60, max_latency_list_size: 10}
)");
  EXPECT_EQ(c.router.lowestLatencyBuffer, 0.5);
  EXPECT_EQ(warningsAt(c, "router_settings.routing_strategy_args.ttl").size(), 1u);
  EXPECT_EQ(warningsAt(c, "router_settings.routing_strategy_args.max_latency_list_size").size(),
            1u);
  EXPECT_EQ(c.warnings.size(), 3u);  // the two args and the empty model_list

  Problem neg = onlyProblem(
      "router_settings:\n  routing_strategy_args:\n"
      "    lowest_latency_buffer: -0.1\n");
  EXPECT_EQ(neg.path, "router_settings.routing_strategy_args.lowest_latency_buffer");
  EXPECT_EQ(neg.line, 3);
  expectContains(neg.message, ">= 0");
  Problem shape = onlyProblem("router_settings:\n  routing_strategy_args: [1]\n");
  EXPECT_EQ(shape.path, "router_settings.routing_strategy_args");
  expectContains(shape.message, "must be a mapping");
}

TEST(ConfigRouter, ScalarRouterKeys) {
  Config c = loadOk(R"(router_settings:
  num_retries: 4
  retry_after: 0.5
  max_fallbacks: 2
  allowed_fails: 0
  cooldown_time: 2.5
  disable_cooldowns: yes
  timeout: 30
  stream_timeout: 4.5
  enable_pre_call_checks: true
)");
  const RouterSettings& r = c.router;
  EXPECT_EQ(r.numRetries, 4);
  EXPECT_EQ(r.retryAfter, 500ms);
  EXPECT_EQ(r.maxFallbacks, 2);
  EXPECT_EQ(r.allowedFails, 0);  // 0 is a value ("is not None" in LiteLLM)
  EXPECT_EQ(r.cooldownTime, 2500ms);
  EXPECT_TRUE(r.disableCooldowns);
  EXPECT_EQ(r.timeoutSeconds, 30.0);
  EXPECT_EQ(r.streamTimeoutSeconds, 4.5);
  EXPECT_TRUE(r.enablePreCallChecks);
  EXPECT_EQ(c.warnings.size(), 1u);  // only the empty model_list

  Config zero =
      loadOk("router_settings:\n  num_retries: 0\n  retry_after: 0\n  max_fallbacks: 0\n");
  EXPECT_EQ(zero.router.numRetries, 0);
  EXPECT_EQ(zero.router.retryAfter, 0ms);
  EXPECT_EQ(zero.router.maxFallbacks, 0);

  // Null reads as "not set".
  Config unset = loadOk("router_settings:\n  num_retries:\n  timeout: ~\n  disable_cooldowns:\n");
  EXPECT_EQ(unset.router.numRetries, 2);
  EXPECT_FALSE(unset.router.timeoutSeconds);
}

TEST(ConfigRouter, CooldownTimeZeroMeansTheDefaultAsInLiteLLM) {
  Config c = loadOk("router_settings:\n  cooldown_time: 0\n");
  EXPECT_EQ(c.router.cooldownTime, 5s);
  ASSERT_EQ(warningsAt(c, "router_settings.cooldown_time").size(), 1u);
  expectContains(warningsAt(c, "router_settings.cooldown_time")[0]->message, "disable_cooldowns");
}

TEST(ConfigRouter, ScalarRouterKeyProblems) {
  struct Case {
    std::string yaml;
    std::string path;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"num_retries: -1", "num_retries", "must be an integer between 0 and 100, got '-1'"},
      {"num_retries: 1.5", "num_retries", "must be an integer, got '1.5'"},
      {"num_retries: 101", "num_retries", "between 0 and 100"},
      {"max_fallbacks: -2", "max_fallbacks", "between 0 and 100"},
      {"allowed_fails: -1", "allowed_fails", "between 0 and"},
      {"allowed_fails: many", "allowed_fails", "must be an integer"},
      {"cooldown_time: -5", "cooldown_time", "must be a number >= 0"},
      {"cooldown_time: soon", "cooldown_time", "must be a number"},
      {"retry_after: -1", "retry_after", "must be a number >= 0"},
      {"timeout: 0", "timeout", "must be a number > 0"},
      {"timeout: [1]", "timeout", "must be a number, got a sequence"},
      {"stream_timeout: -1", "stream_timeout", "must be a number > 0"},
      {"disable_cooldowns: maybe", "disable_cooldowns", "must be true or false, got 'maybe'"},
      {"enable_pre_call_checks: \"true\"", "enable_pre_call_checks", "must be true or false"},
  };
  for (const Case& c : cases) {
    Problem p = onlyProblem("router_settings:\n  " + c.yaml + "\n");
    EXPECT_EQ(p.path, "router_settings." + c.path) << c.yaml;
    EXPECT_EQ(p.line, 2) << c.yaml;
    expectContains(p.message, c.message);
  }
}

TEST(ConfigRouter, RetryPolicyAndAllowedFailsPolicy) {
  Config c = loadOk(R"(router_settings:
  retry_policy:
    BadRequestErrorRetries: 0
    AuthenticationErrorRetries: 1
    TimeoutErrorRetries: 2
    RateLimitErrorRetries: 3
    ContentPolicyViolationErrorRetries: 4
    InternalServerErrorRetries: 5
  allowed_fails_policy:
    BadRequestErrorAllowedFails: 1000
    AuthenticationErrorAllowedFails: 10
    TimeoutErrorAllowedFails: 12
    RateLimitErrorAllowedFails: 10000
    ContentPolicyViolationErrorAllowedFails: 15
    InternalServerErrorAllowedFails: 20
)");
  const ErrorClassCounts& rp = c.router.retryPolicy;
  EXPECT_EQ(rp.badRequest, 0);
  EXPECT_EQ(rp.authentication, 1);
  EXPECT_EQ(rp.timeout, 2);
  EXPECT_EQ(rp.rateLimit, 3);
  EXPECT_EQ(rp.contentPolicy, 4);
  EXPECT_EQ(rp.internalServer, 5);
  const ErrorClassCounts& af = c.router.allowedFailsPolicy;
  EXPECT_EQ(af.badRequest, 1000);
  EXPECT_EQ(af.authentication, 10);
  EXPECT_EQ(af.timeout, 12);
  EXPECT_EQ(af.rateLimit, 10000);
  EXPECT_EQ(af.contentPolicy, 15);
  EXPECT_EQ(af.internalServer, 20);

  Config partial = loadOk("router_settings:\n  retry_policy: {RateLimitErrorRetries: 7}\n");
  EXPECT_TRUE(partial.router.retryPolicy.any());
  EXPECT_EQ(partial.router.retryPolicy.rateLimit, 7);
  EXPECT_FALSE(partial.router.retryPolicy.timeout);

  Problem unknown = onlyProblem("router_settings:\n  retry_policy:\n    NotFoundErrorRetries: 1\n");
  EXPECT_EQ(unknown.path, "router_settings.retry_policy.NotFoundErrorRetries");
  EXPECT_EQ(unknown.line, 3);
  EXPECT_EQ(unknown.message,
            "unknown error class; valid keys: BadRequestErrorRetries, AuthenticationErrorRetries, "
            "TimeoutErrorRetries, RateLimitErrorRetries, ContentPolicyViolationErrorRetries, "
            "InternalServerErrorRetries");
  // The other policy's names are not accepted.
  Problem crossed =
      onlyProblem("router_settings:\n  allowed_fails_policy: {TimeoutErrorRetries: 1}\n");
  EXPECT_EQ(crossed.path, "router_settings.allowed_fails_policy.TimeoutErrorRetries");
  expectContains(crossed.message, "TimeoutErrorAllowedFails");
  Problem negative = onlyProblem("router_settings:\n  retry_policy: {TimeoutErrorRetries: -1}\n");
  EXPECT_EQ(negative.path, "router_settings.retry_policy.TimeoutErrorRetries");
  expectContains(negative.message, "between 0 and 100");
  Problem shape = onlyProblem("router_settings:\n  allowed_fails_policy: 3\n");
  EXPECT_EQ(shape.path, "router_settings.allowed_fails_policy");
  EXPECT_EQ(shape.message, "must be a mapping of error class to count, got '3'");
}

TEST(ConfigRouter, ModelGroupRetryPolicy) {
  Config c = loadWithModels(R"(router_settings:
  model_group_retry_policy:
    gpt-4o: {RateLimitErrorRetries: 6, TimeoutErrorRetries: 1}
    claude: {}
    nowhere: {BadRequestErrorRetries: 0}
)");
  const auto& g = c.router.groupRetryPolicy;
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].first, "gpt-4o");
  EXPECT_EQ(g[0].second.rateLimit, 6);
  EXPECT_EQ(g[0].second.timeout, 1);
  EXPECT_EQ(g[1].first, "claude");
  EXPECT_FALSE(g[1].second.any());
  EXPECT_EQ(g[2].first, "nowhere");
  ASSERT_EQ(warningsAt(c, "router_settings.model_group_retry_policy.nowhere").size(), 1u);
  EXPECT_EQ(c.warnings.size(), 1u);

  Problem p = problemWithModels("router_settings:\n  model_group_retry_policy:\n    gpt-4o: 3\n");
  EXPECT_EQ(p.path, "router_settings.model_group_retry_policy.gpt-4o");
  EXPECT_EQ(p.line, 7);
  expectContains(p.message, "must be a retry policy mapping");
  Problem inner = problemWithModels(
      "router_settings:\n  model_group_retry_policy:\n    gpt-4o: {Retries: 1}\n");
  EXPECT_EQ(inner.path, "router_settings.model_group_retry_policy.gpt-4o.Retries");
  expectContains(inner.message, "unknown error class");
}

TEST(ConfigRouter, LitellmSettingsRouterKeys) {
  Config c = loadWithModels(R"(litellm_settings:
  num_retries: 5
  max_fallbacks: 3
  allowed_fails: 4
  cooldown_time: 12
  fallbacks: [{gpt-4o: [claude]}]
  context_window_fallbacks: [{gpt-4o: [gemini]}]
  content_policy_fallbacks: [{claude: [gpt-4o]}]
  default_fallbacks: [gemini]
  retry_policy: {RateLimitErrorRetries: 1}
)");
  const RouterSettings& r = c.router;
  EXPECT_EQ(r.numRetries, 5);
  EXPECT_EQ(r.maxFallbacks, 3);
  EXPECT_EQ(r.allowedFails, 4);
  EXPECT_EQ(r.cooldownTime, 12s);
  EXPECT_EQ(r.fallbacks, (FallbackMap{{"gpt-4o", {"claude"}}}));
  EXPECT_EQ(r.contextWindowFallbacks, (FallbackMap{{"gpt-4o", {"gemini"}}}));
  EXPECT_EQ(r.contentPolicyFallbacks, (FallbackMap{{"claude", {"gpt-4o"}}}));
  EXPECT_EQ(r.defaultFallbacks, (std::vector<std::string>{"gemini"}));
  // LiteLLM's router reads retry_policy only from router_settings.
  EXPECT_FALSE(r.retryPolicy.any());
  ASSERT_EQ(warningsAt(c, "litellm_settings.retry_policy").size(), 1u);
  EXPECT_EQ(warningsAt(c, "litellm_settings.retry_policy")[0]->message,
            "accepted but not implemented yet");
  EXPECT_EQ(c.warnings.size(), 1u);

  Problem p = problemWithModels("litellm_settings:\n  fallbacks: [claude]\n");
  EXPECT_EQ(p.path, "litellm_settings.fallbacks[0]");
  EXPECT_EQ(p.line, 6);
}

TEST(ConfigRouter, RouterSettingsWinWhateverTheOrder) {
  const std::string litellm = R"(litellm_settings:
  num_retries: 5
  allowed_fails: 9
  max_fallbacks: 4
  cooldown_time: 30
  fallbacks: [{gpt-4o: [claude]}]
  default_fallbacks: [claude]
  content_policy_fallbacks: [{gpt-4o: [claude]}]
)";
  const std::string router = R"(router_settings:
  num_retries: 0
  allowed_fails: 1
  cooldown_time: 7
  fallbacks: [{gpt-4o: [gemini]}]
  default_fallbacks: [gemini]
  content_policy_fallbacks: []
)";
  for (const std::string& yaml : {litellm + router, router + litellm}) {
    Config c = loadWithModels(yaml);
    const RouterSettings& r = c.router;
    EXPECT_EQ(r.numRetries, 0);  // 0 overrides ("is not None")
    EXPECT_EQ(r.allowedFails, 1);
    EXPECT_EQ(r.maxFallbacks, 4);  // only litellm_settings gives it
    EXPECT_EQ(r.cooldownTime, 7s);
    EXPECT_EQ(r.fallbacks, (FallbackMap{{"gpt-4o", {"gemini"}}}));
    EXPECT_EQ(r.defaultFallbacks, (std::vector<std::string>{"gemini"}));
    // LiteLLM uses `router value or litellm value`: an empty list does not override.
    EXPECT_EQ(r.contentPolicyFallbacks, (FallbackMap{{"gpt-4o", {"claude"}}}));
  }
}

TEST(ConfigRouter, GeneralSettingsHealthChecks) {
  Config c = loadOk(
      "general_settings:\n  background_health_checks: true\n"
      "  health_check_interval: 60\n");
  EXPECT_TRUE(c.router.backgroundHealthChecks);
  EXPECT_EQ(c.router.healthCheckInterval, 60s);
  EXPECT_TRUE(warningsAt(c, "general_settings.background_health_checks").empty());
  Config frac = loadOk("general_settings:\n  health_check_interval: 0.25\n");
  EXPECT_EQ(frac.router.healthCheckInterval, 250ms);

  Problem b = onlyProblem("general_settings:\n  background_health_checks: 1\n");
  EXPECT_EQ(b.path, "general_settings.background_health_checks");
  EXPECT_EQ(b.message, "must be true or false, got '1'");
  Problem i = onlyProblem("general_settings:\n  health_check_interval: 0\n");
  EXPECT_EQ(i.path, "general_settings.health_check_interval");
  expectContains(i.message, "must be a number > 0");
}

TEST(ConfigRouter, DeploymentRoutingFields) {
  Config c = loadOk(R"(model_list:
- model_name: a
  litellm_params:
    model: openai/a
    max_parallel_requests: 10
    input_cost_per_token: 0.000001
    output_cost_per_token: 2e-6
    tags: [eu, "prod"]
  model_info:
    input_cost_per_token: 0.5
    output_cost_per_token: 0.5
    base_model: azure/gpt-4o
    max_input_tokens: 128000
- model_name: b
  litellm_params: {model: openai/b}
  model_info: {input_cost_per_token: "0.000003", output_cost_per_token: 0, max_tokens: 4096}
)");
  ASSERT_EQ(c.deployments.size(), 2u);
  const Deployment& a = c.deployments[0];
  EXPECT_EQ(a.maxParallelRequests, 10);
  EXPECT_EQ(a.inputCostPerToken, 0.000001);  // litellm_params wins over model_info
  EXPECT_EQ(a.outputCostPerToken, 0.000002);
  EXPECT_EQ(a.tags, (std::vector<std::string>{"eu", "prod"}));
  EXPECT_EQ(a.baseModel, "azure/gpt-4o");
  EXPECT_EQ(a.maxInputTokens, 128000);
  EXPECT_EQ(a.modelInfo.at("base_model"), "azure/gpt-4o");
  EXPECT_EQ(a.modelInfo.at("max_input_tokens"), "128000");
  const Deployment& b = c.deployments[1];
  EXPECT_EQ(b.inputCostPerToken, 0.000003);
  EXPECT_EQ(b.outputCostPerToken, 0.0);
  EXPECT_FALSE(b.maxInputTokens);  // max_tokens is LiteLLM's legacy (output) limit
  EXPECT_EQ(b.modelInfo.at("input_cost_per_token"), "0.000003");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigRouter, DeploymentRoutingFieldProblems) {
  const std::string head = "model_list:\n- model_name: a\n  litellm_params:\n    model: openai/a\n";
  struct Case {
    std::string yaml;
    std::string path;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"    max_parallel_requests: 0\n", "litellm_params.max_parallel_requests",
       "must be an integer between 1 and"},
      {"    max_parallel_requests: lots\n", "litellm_params.max_parallel_requests",
       "must be an integer"},
      {"    input_cost_per_token: -1\n", "litellm_params.input_cost_per_token",
       "must be a number >= 0"},
      {"    output_cost_per_token: free\n", "litellm_params.output_cost_per_token",
       "must be a number"},
      {"    tags: prod\n", "litellm_params.tags", "must be a list of strings, got 'prod'"},
      {"    tags: [a, {b: 1}]\n", "litellm_params.tags[1]", "must be a string, got a mapping"},
      {"    tags: [a, \"\"]\n", "litellm_params.tags[1]", "must not be empty"},
      {"  model_info: {input_cost_per_token: -0.1}\n", "model_info.input_cost_per_token",
       "must be a number >= 0"},
      {"  model_info: {output_cost_per_token: [1]}\n", "model_info.output_cost_per_token",
       "must be a number, got a sequence"},
      {"  model_info: {max_input_tokens: 0}\n", "model_info.max_input_tokens",
       "must be an integer >= 1"},
      {"  model_info: {max_input_tokens: 1.5k}\n", "model_info.max_input_tokens",
       "must be an integer"},
      {"  model_info: {base_model: [gpt-4o]}\n", "model_info.base_model", "must be a string"},
  };
  for (const Case& k : cases) {
    Problem p = onlyProblem(head + k.yaml);
    EXPECT_EQ(p.path, "model_list[0]." + k.path) << k.yaml;
    EXPECT_EQ(p.line, 5) << k.yaml;
    expectContains(p.message, k.message);
  }
}

TEST(ConfigRouter, ModelInfoPriceFromEnvironmentWarnsOnce) {
  ScopedEnv price("LLMUX_T_PRICE", "0.25");
  ScopedEnv unset("LLMUX_T_PRICE_UNSET", std::nullopt);
  Config c = loadOk(R"(model_list:
- model_name: a
  litellm_params: {model: openai/a}
  model_info:
    input_cost_per_token: os.environ/LLMUX_T_PRICE
    base_model: os.environ/LLMUX_T_PRICE_UNSET
)");
  EXPECT_EQ(c.deployments.at(0).inputCostPerToken, 0.25);
  EXPECT_EQ(c.deployments.at(0).modelInfo.at("input_cost_per_token"), "0.25");
  EXPECT_EQ(warningsAt(c, "model_list[0].model_info.base_model").size(), 1u);
  EXPECT_EQ(c.warnings.size(), 1u);
}

}  // namespace
}  // namespace llmux::config
