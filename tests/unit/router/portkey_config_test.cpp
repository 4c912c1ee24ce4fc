#include "router/portkey_config.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace llmux::router::portkey {
namespace {

Node parseOk(std::string_view json) {
  Node n;
  const auto err = parse(json, n);
  EXPECT_FALSE(err.has_value()) << *err << "\nconfig: " << json;
  return n;
}

std::string parseErr(std::string_view json) {
  Node n;
  const auto err = parse(json, n);
  EXPECT_TRUE(err.has_value()) << "accepted: " << json;
  return err.value_or("");
}

// --- single targets -------------------------------------------------------------------------

TEST(PortkeyParse, SingleTargetAtTheTop) {
  const Node n = parseOk(
      R"({"provider":"@openai-prod","virtual_key":"vk-1",
          "override_params":{"model":"gpt-4o","temperature":0.2,"stop":["a", "b"]}})");
  EXPECT_TRUE(n.isLeaf());
  EXPECT_EQ(n.path, "");
  EXPECT_EQ(n.provider, "@openai-prod");
  EXPECT_EQ(n.virtualKey, "vk-1");
  EXPECT_EQ(n.model, "gpt-4o");
  EXPECT_EQ(n.overrideParams, R"({"model":"gpt-4o","temperature":0.2,"stop":["a","b"]})");
  ASSERT_EQ(n.overrides.size(), 3u);
  EXPECT_EQ(n.overrides[2].key, "stop");
  EXPECT_EQ(n.overrides[2].json, R"(["a","b"])");
  EXPECT_FALSE(n.retry.has_value());
  EXPECT_FALSE(n.requestTimeoutMs.has_value());
}

TEST(PortkeyParse, ModelShorthandAndEmptyTarget) {
  Node n = parseOk(R"({"model":"claude-sonnet"})");
  EXPECT_EQ(n.model, "claude-sonnet");
  EXPECT_EQ(n.overrideParams, R"({"model":"claude-sonnet"})");
  // Only a retry: the request's own model, retried.
  n = parseOk(R"({"retry":{"attempts":2}})");
  EXPECT_TRUE(n.isLeaf());
  EXPECT_EQ(n.model, "");
  EXPECT_EQ(n.overrideParams, "");
  ASSERT_TRUE(n.retry.has_value());
  EXPECT_EQ(n.retry->attempts, 2);
  EXPECT_EQ(parseErr(R"({"model":"a","override_params":{"model":"b"}})"),
            "model: conflicts with override_params.model");
  EXPECT_EQ(parseErr(R"({"model":""})"), "model: must be a non-empty string of at most 256 bytes");
  EXPECT_EQ(parseErr(R"({"override_params":{"model":7}})"),
            "override_params.model: must be a non-empty string of at most 256 bytes");
}

TEST(PortkeyParse, CamelCaseKeysAreAccepted) {
  const Node n = parseOk(
      R"({"strategy":{"mode":"fallback","onStatusCodes":[429]},
          "requestTimeout":500,
          "targets":[{"virtualKey":"a","overrideParams":{"model":"m"}},{"provider":"p"}]})");
  EXPECT_EQ(n.onStatusCodes, std::vector<int>{429});
  EXPECT_EQ(n.requestTimeoutMs, 500);
  EXPECT_EQ(n.targets[0].virtualKey, "a");
  EXPECT_EQ(n.targets[0].model, "m");
  EXPECT_EQ(parseErr(R"({"virtual_key":"a","virtualKey":"b"})"), "virtual_key: duplicate key");
}

// --- strategies -----------------------------------------------------------------------------

TEST(PortkeyParse, Fallback) {
  const Node n = parseOk(
      R"({"strategy":{"mode":"fallback","on_status_codes":[429,500]},
          "targets":[{"model":"a"},{"model":"b","name":"second"}]})");
  EXPECT_EQ(n.mode, Mode::Fallback);
  EXPECT_FALSE(n.isLeaf());
  EXPECT_EQ(n.onStatusCodes, (std::vector<int>{429, 500}));
  ASSERT_EQ(n.targets.size(), 2u);
  EXPECT_EQ(n.targets[0].path, "targets[0]");
  EXPECT_EQ(n.targets[1].path, "targets[1]");
  EXPECT_EQ(n.targets[1].name, "second");
  EXPECT_EQ(n.targets[1].model, "b");
  // No list: any failure moves on.
  EXPECT_TRUE(parseOk(R"({"strategy":{"mode":"fallback"},"targets":[{"model":"a"}]})")
                  .onStatusCodes.empty());
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback","on_status_codes":[429,99]},
                         "targets":[{"model":"a"}]})"),
            "strategy.on_status_codes[1]: must be an HTTP status code (100-599)");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback","on_status_codes":429},
                         "targets":[{"model":"a"}]})"),
            "strategy.on_status_codes: must be an array of HTTP status codes");
}

TEST(PortkeyParse, SingleMode) {
  const Node n =
      parseOk(R"({"strategy":{"mode":"single"},"targets":[{"model":"a"},{"model":"b"}]})");
  EXPECT_EQ(n.mode, Mode::Single);
  EXPECT_EQ(modeName(n.mode), "single");
  EXPECT_EQ(n.targets.size(), 2u);
}

TEST(PortkeyParse, ModeErrors) {
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"x"},"targets":[{"model":"a"}]})"),
            "strategy.mode: unknown mode 'x' (single, fallback, loadbalance, conditional)");
  EXPECT_EQ(parseErr(R"({"strategy":{},"targets":[{"model":"a"}]})"), "strategy.mode: required");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":1},"targets":[{"model":"a"}]})"),
            "strategy.mode: must be a string");
  EXPECT_EQ(parseErr(R"({"strategy":"fallback","targets":[{"model":"a"}]})"),
            "strategy: must be an object");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback","retries":2},"targets":[{"model":"a"}]})"),
            "strategy.retries: unknown key (mode, on_status_codes, conditions, default)");
  EXPECT_EQ(parseErr(R"({"targets":[{"model":"a"}]})"),
            "targets: needs a strategy (strategy.mode)");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback"}})"), "targets: required with a strategy");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback"},"targets":[]})"),
            "targets: must not be empty");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback"},"targets":{}})"),
            "targets: must be an array");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback"},"targets":[{"model":"a"},3]})"),
            "targets[1]: must be an object");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback"},"provider":"openai",
                         "targets":[{"model":"a"}]})"),
            "provider: belongs on a target, not on a node with targets");
}

TEST(PortkeyParse, LoadBalanceWeights) {
  const Node n = parseOk(
      R"({"strategy":{"mode":"loadbalance"},
          "targets":[{"model":"a","weight":0.75},{"model":"b","weight":0},{"model":"c"}]})");
  EXPECT_EQ(n.mode, Mode::LoadBalance);
  EXPECT_DOUBLE_EQ(n.targets[0].weight, 0.75);
  EXPECT_DOUBLE_EQ(n.targets[1].weight, 0);
  EXPECT_DOUBLE_EQ(n.targets[2].weight, 1);  // default
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"loadbalance"},
                         "targets":[{"model":"a","weight":0},{"model":"b","weight":0}]})"),
            "targets: weights sum to zero");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"loadbalance"},
                         "targets":[{"model":"a"},{"model":"b","weight":-1}]})"),
            "targets[1].weight: must be a number from 0 to 1000000");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"loadbalance"},
                         "targets":[{"model":"a","weight":"1"}]})"),
            "targets[0].weight: must be a number from 0 to 1000000");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"loadbalance"},
                         "targets":[{"model":"a","weight":1e300}]})"),
            "targets[0].weight: must be a number from 0 to 1000000");
  // Zero weights are fine outside loadbalance (weight only matters there).
  parseOk(R"({"strategy":{"mode":"fallback"},"targets":[{"model":"a","weight":0}]})");
}

constexpr std::string_view kConditional = R"({
  "strategy": {
    "mode": "conditional",
    "conditions": [
      {"query": {"metadata.user_plan": {"$eq": "paid"}}, "then": "finetuned"},
      {"query": {"params.model": "fastest"}, "then": "mini"}
    ],
    "default": "base"
  },
  "targets": [
    {"name": "base", "model": "gpt-4o"},
    {"name": "finetuned", "model": "ft:gpt-4o"},
    {"name": "mini", "model": "gpt-4o-mini"}
  ]
})";

TEST(PortkeyParse, Conditional) {
  const Node n = parseOk(kConditional);
  EXPECT_EQ(n.mode, Mode::Conditional);
  ASSERT_EQ(n.conditions.size(), 2u);
  EXPECT_EQ(n.conditions[0].then, "finetuned");
  EXPECT_EQ(n.conditions[0].target, 1u);
  EXPECT_EQ(n.conditions[1].target, 2u);
  EXPECT_EQ(n.defaultTarget, "base");
  EXPECT_EQ(n.defaultIndex, 0);
  EXPECT_EQ(n.conditions[0].query.kind, Query::Kind::Field);
  EXPECT_EQ(n.conditions[0].query.source, Source::Metadata);
  EXPECT_EQ(n.conditions[0].query.path, std::vector<std::string>{"user_plan"});
  EXPECT_EQ(n.conditions[1].query.source, Source::Params);
}

TEST(PortkeyParse, ConditionalErrors) {
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"conditional",
      "conditions":[{"query":{"metadata.a":"x"},"then":"nope"}]},
      "targets":[{"name":"a","model":"m"}]})"),
            "strategy.conditions[0].then: no target named 'nope'");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"conditional","conditions":[],"default":"zz"},
      "targets":[{"name":"a","model":"m"}]})"),
            "strategy.default: no target named 'zz'");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"conditional","default":"a"},
      "targets":[{"name":"a","model":"m"}]})"),
            "strategy.conditions: required for mode conditional");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"conditional","conditions":[]},
      "targets":[{"name":"a","model":"m"}]})"),
            "strategy.conditions: empty, and there is no default");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"conditional","conditions":[{"then":"a"}]},
      "targets":[{"name":"a","model":"m"}]})"),
            "strategy.conditions[0].query: required");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"conditional","conditions":[{"query":{}}]},
      "targets":[{"name":"a","model":"m"}]})"),
            "strategy.conditions[0].then: required");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"conditional",
      "conditions":[{"query":{},"then":"a","else":"b"}]},"targets":[{"name":"a","model":"m"}]})"),
            "strategy.conditions[0].else: unknown key (query, then)");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"conditional","conditions":[],"default":"a"},
      "targets":[{"name":"a","model":"m"},{"name":"a","model":"n"}]})"),
            "targets[1].name: duplicate target name 'a'");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback","conditions":[]},
      "targets":[{"model":"m"}]})"),
            "strategy.conditions: only for mode conditional");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"loadbalance","default":"a"},
      "targets":[{"name":"a","model":"m"}]})"),
            "strategy.default: only for mode conditional");
  EXPECT_EQ(parseErr(R"({"name":"","model":"m"})"),
            "name: must be a non-empty string of at most 256 bytes");
  // Unique names apply in every mode; unnamed targets never clash.
  parseOk(R"({"strategy":{"mode":"fallback"},"targets":[{"model":"a"},{"model":"b"}]})");
}

// --- bounds ---------------------------------------------------------------------------------

std::string nested(int levels) {
  std::string s;
  for (int i = 0; i < levels; ++i) s += R"({"strategy":{"mode":"fallback"},"targets":[)";
  s += R"({"model":"leaf"})";
  for (int i = 0; i < levels; ++i) s += "]}";
  return s;
}

TEST(PortkeyParse, DepthLimit) {
  const Node n = parseOk(nested(8));
  const Node* cur = &n;
  int depth = 0;
  while (!cur->isLeaf()) {
    cur = &cur->targets[0];
    ++depth;
  }
  EXPECT_EQ(depth, 8);
  EXPECT_EQ(cur->model, "leaf");
  EXPECT_EQ(cur->path,
            "targets[0].targets[0].targets[0].targets[0].targets[0].targets[0].targets[0]."
            "targets[0]");
  const std::string err = parseErr(nested(9));
  EXPECT_NE(err.find("targets: targets nest deeper than 8 levels"), std::string::npos) << err;
}

std::string manyTargets(size_t n) {
  std::string s = R"({"strategy":{"mode":"fallback"},"targets":[)";
  for (size_t i = 0; i < n; ++i) s += std::string(i ? "," : "") + R"({"model":"m"})";
  return s + "]}";
}

TEST(PortkeyParse, TargetCountLimits) {
  EXPECT_EQ(parseOk(manyTargets(64)).targets.size(), 64u);
  EXPECT_EQ(parseErr(manyTargets(65)), "targets: more than 64 targets");
  // 1 + 4 + 4 * 63 = 257 nodes.
  std::string s = R"({"strategy":{"mode":"fallback"},"targets":[)";
  for (int i = 0; i < 4; ++i) s += std::string(i ? "," : "") + manyTargets(63);
  s += "]}";
  EXPECT_EQ(parseErr(s), "config: more than 256 targets in total");
  std::string ok = R"({"strategy":{"mode":"fallback"},"targets":[)";
  for (int i = 0; i < 4; ++i) ok += std::string(i ? "," : "") + manyTargets(62);
  parseOk(ok + "]}");  // 1 + 4 + 248 = 253
}

TEST(PortkeyParse, InputErrors) {
  EXPECT_EQ(parseErr(""), "config: invalid JSON (Empty: no JSON found)");
  EXPECT_EQ(parseErr("[]"), "config: must be an object");
  EXPECT_EQ(parseErr(R"("x")"), "config: must be an object");
  EXPECT_TRUE(parseErr(R"({"model":"a"} x)").starts_with("config: invalid JSON"));
  EXPECT_TRUE(parseErr(R"({"model":"a")").starts_with("config: invalid JSON"));
  std::string big = R"({"model":"a","override_params":{"x":")";
  big += std::string(kMaxConfigBytes, 'a') + "\"}}";
  EXPECT_EQ(parseErr(big), "config: larger than 65536 bytes");
}

// --- keys -----------------------------------------------------------------------------------

TEST(PortkeyParse, UnknownIgnoredAndForbiddenKeys) {
  EXPECT_EQ(parseErr(R"({"model":"a","wieght":2})"), "wieght: unknown key");
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback"},"targets":[{"model":"a","foo":1}]})"),
            "targets[0].foo: unknown key");
  // Portkey features without effect here are ignored.
  const Node n = parseOk(
      R"({"model":"a","cache":{"mode":"simple","max_age":60},"before_request_hooks":[{"id":"x"}],
          "output_guardrails":["g"],"strictOpenAiCompliance":false})");
  EXPECT_EQ(n.model, "a");
  // Anything that would point llmux at another host or key is refused.
  constexpr std::string_view kMsg = "not supported by llmux: name an llmux model instead";
  EXPECT_EQ(parseErr(R"({"provider":"openai","api_key":"sk-1"})"), "api_key: " + std::string(kMsg));
  EXPECT_EQ(parseErr(R"({"provider":"openai","apiKey":"sk-1"})"), "apiKey: " + std::string(kMsg));
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"fallback"},
                         "targets":[{"provider":"openai","custom_host":"http://evil"}]})"),
            "targets[0].custom_host: " + std::string(kMsg));
  EXPECT_EQ(parseErr(R"({"forward_headers":["authorization"],"model":"a"})"),
            "forward_headers: " + std::string(kMsg));
  EXPECT_EQ(parseErr(R"({"provider":"azure-openai","azure_resource_name":"r"})"),
            "azure_resource_name: " + std::string(kMsg));
  EXPECT_EQ(parseErr(R"({"provider":"bedrock","awsSecretAccessKey":"s"})"),
            "awsSecretAccessKey: " + std::string(kMsg));
  EXPECT_EQ(parseErr(R"({"override_params":{"model":"a","api_base":"http://evil"}})"),
            "override_params.api_base: " + std::string(kMsg));
  EXPECT_EQ(parseErr(R"({"model":"a","weight":1,"weight":2})"), "weight: duplicate key");
  // A long client key is cut short in the message.
  const std::string longKey(1000, 'k');
  EXPECT_EQ(parseErr(R"({")" + longKey + R"(":1})"), std::string(64, 'k') + "...: unknown key");
}

TEST(PortkeyParse, OverrideParamsShape) {
  EXPECT_EQ(parseErr(R"({"override_params":[1]})"), "override_params: must be an object");
  EXPECT_EQ(parseErr(R"({"override_params":{"a":1,"a":2}})"), "override_params.a: duplicate key");
  std::string many = R"({"override_params":{)";
  for (int i = 0; i < 65; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  EXPECT_EQ(parseErr(many + "}}"), "override_params: more than 64 keys");
  const Node n = parseOk(R"({"override_params":{"response_format":{ "type" : "json_object" },
                             "max_tokens":100,"x":null,"s":"q\"uote"}})");
  EXPECT_EQ(
      n.overrideParams,
      R"({"response_format":{"type":"json_object"},"max_tokens":100,"x":null,"s":"q\"uote"})");
  EXPECT_EQ(n.model, "");
}

// --- retry and timeouts ---------------------------------------------------------------------

TEST(PortkeyParse, Retry) {
  Node n = parseOk(R"({"model":"a","retry":{"attempts":5}})");
  ASSERT_TRUE(n.retry.has_value());
  EXPECT_EQ(n.retry->attempts, 5);
  EXPECT_EQ(n.retry->onStatusCodes, (std::vector<int>{429, 500, 502, 503, 504}));
  EXPECT_FALSE(n.retry->useRetryAfterHeaders);
  n = parseOk(
      R"({"model":"a","retry":{"attempts":3.0,"on_status_codes":[408,429,401],
                                "use_retry_after_headers":true}})");
  EXPECT_EQ(n.retry->attempts, 3);
  EXPECT_EQ(n.retry->onStatusCodes, (std::vector<int>{408, 429, 401}));
  EXPECT_TRUE(n.retry->useRetryAfterHeaders);
  EXPECT_EQ(parseOk(R"({"model":"a","retry":{"attempts":0}})").retry->attempts, 0);

  EXPECT_EQ(parseErr(R"({"model":"a","retry":{"attempts":6}})"),
            "retry.attempts: must be a whole number from 0 to 5");
  EXPECT_EQ(parseErr(R"({"model":"a","retry":{"attempts":-1}})"),
            "retry.attempts: must be a whole number from 0 to 5");
  EXPECT_EQ(parseErr(R"({"model":"a","retry":{"attempts":1.5}})"),
            "retry.attempts: must be a whole number from 0 to 5");
  EXPECT_EQ(parseErr(R"({"model":"a","retry":{"attempts":"2"}})"),
            "retry.attempts: must be a whole number from 0 to 5");
  EXPECT_EQ(parseErr(R"({"model":"a","retry":{"on_status_codes":[429]}})"),
            "retry.attempts: required");
  EXPECT_EQ(parseErr(R"({"model":"a","retry":{"attempts":1,"on_status_codes":[]}})"),
            "retry.on_status_codes: must not be empty (leave it out for the default list)");
  EXPECT_EQ(parseErr(R"({"model":"a","retry":{"attempts":1,"on_status_codes":[429,600]}})"),
            "retry.on_status_codes[1]: must be an HTTP status code (100-599)");
  EXPECT_EQ(parseErr(R"({"model":"a","retry":{"attempts":1,"on_status_codes":["429"]}})"),
            "retry.on_status_codes[0]: must be an HTTP status code (100-599)");
  EXPECT_EQ(parseErr(R"({"model":"a","retry":{"attempts":1,"backoff":2}})"),
            "retry.backoff: unknown key (attempts, on_status_codes, use_retry_after_headers)");
  EXPECT_EQ(parseErr(R"({"model":"a","retry":{"attempts":1,"use_retry_after_headers":1}})"),
            "retry.use_retry_after_headers: must be a boolean");
  EXPECT_EQ(parseErr(R"({"model":"a","retry":3})"), "retry: must be an object");
}

TEST(PortkeyParse, RequestTimeoutValues) {
  EXPECT_EQ(parseOk(R"({"model":"a","request_timeout":10000})").requestTimeoutMs, 10000);
  EXPECT_EQ(parseOk(R"({"model":"a","request_timeout":2000.0})").requestTimeoutMs, 2000);
  for (std::string_view bad : {"0", "-5", "1.5", "\"1000\"", "3600001", "null"}) {
    EXPECT_EQ(parseErr(fmt::format(R"({{"model":"a","request_timeout":{}}})", bad)),
              "request_timeout: must be a whole number of milliseconds from 1 to 3600000")
        << bad;
  }
}

// --- inheritance ----------------------------------------------------------------------------

TEST(PortkeyParse, TimeoutInheritanceAsPortkeyDocuments) {
  // A 2 s global timeout; a nested fallback with its own 5 s, whose second target sets 10 s.
  const Node n = parseOk(R"({
    "strategy": {"mode": "loadbalance"},
    "request_timeout": 2000,
    "targets": [
      {"strategy": {"mode": "fallback"}, "request_timeout": 5000,
       "targets": [{"virtual_key": "open-ai-1-1"},
                   {"virtual_key": "open-ai-1-2", "request_timeout": 10000}]},
      {"virtual_key": "azure-open-ai-1"}
    ]})");
  EXPECT_EQ(n.requestTimeoutMs, 2000);
  EXPECT_EQ(n.targets[0].requestTimeoutMs, 5000);
  EXPECT_EQ(n.targets[0].targets[0].requestTimeoutMs, 5000);
  EXPECT_EQ(n.targets[0].targets[1].requestTimeoutMs, 10000);
  EXPECT_EQ(n.targets[1].requestTimeoutMs, 2000);
}

TEST(PortkeyParse, RetryInheritanceReplacesWholeSpec) {
  const Node n = parseOk(R"({
    "strategy": {"mode": "fallback"},
    "retry": {"attempts": 3, "on_status_codes": [429]},
    "targets": [
      {"model": "a"},
      {"model": "b", "retry": {"attempts": 1}},
      {"strategy": {"mode": "single"}, "targets": [{"model": "c"}]}
    ]})");
  ASSERT_TRUE(n.targets[0].retry.has_value());
  EXPECT_EQ(n.targets[0].retry->attempts, 3);
  EXPECT_EQ(n.targets[0].retry->onStatusCodes, std::vector<int>{429});
  EXPECT_EQ(n.targets[1].retry->attempts, 1);
  EXPECT_EQ(n.targets[1].retry->onStatusCodes, (std::vector<int>{429, 500, 502, 503, 504}));
  EXPECT_EQ(n.targets[2].targets[0].retry->attempts, 3);
  EXPECT_FALSE(n.targets[2].targets[0].requestTimeoutMs.has_value());
}

TEST(PortkeyParse, OverrideParamsMergeChildWins) {
  const Node n = parseOk(R"({
    "strategy": {"mode": "fallback"},
    "override_params": {"model": "base", "temperature": 0.5, "max_tokens": 10},
    "targets": [
      {"override_params": {"temperature": 1, "top_p": 0.9}},
      {"model": "other"},
      {"strategy": {"mode": "loadbalance"}, "override_params": {"max_tokens": 20},
       "targets": [{"provider": "openai"}, {"override_params": {"model": "deep"}}]}
    ]})");
  EXPECT_EQ(n.model, "base");
  EXPECT_EQ(n.overrideParams, R"({"model":"base","temperature":0.5,"max_tokens":10})");
  EXPECT_EQ(n.targets[0].model, "base");
  EXPECT_EQ(n.targets[0].overrideParams,
            R"({"model":"base","temperature":1,"max_tokens":10,"top_p":0.9})");
  EXPECT_EQ(n.targets[1].model, "other");
  EXPECT_EQ(n.targets[1].overrideParams, R"({"model":"other","temperature":0.5,"max_tokens":10})");
  EXPECT_EQ(n.targets[2].targets[0].overrideParams,
            R"({"model":"base","temperature":0.5,"max_tokens":20})");
  EXPECT_EQ(n.targets[2].targets[0].provider, "openai");
  EXPECT_EQ(n.targets[2].targets[1].model, "deep");
  // The parent is untouched by its children's overrides.
  EXPECT_EQ(n.overrides.size(), 3u);
}

TEST(PortkeyParse, CombinedStrategiesFromPortkeyGuide) {
  const Node n = parseOk(R"({
    "strategy": {"mode": "conditional",
      "conditions": [
        {"query": {"params.model": {"$eq": "claude-sonnet"}}, "then": "claude-sonnet-lb"},
        {"query": {"params.model": {"$eq": "gpt-4o"}}, "then": "gpt-4o-direct"}],
      "default": "gpt-4o-direct"},
    "targets": [
      {"name": "claude-sonnet-lb", "strategy": {"mode": "loadbalance"},
       "targets": [{"provider": "@anthropic", "override_params": {"model": "claude-sonnet-4"}},
                   {"provider": "@vertex", "override_params": {"model": "claude-sonnet-4"}}]},
      {"name": "gpt-4o-direct", "provider": "@openai", "override_params": {"model": "gpt-4o"}}
    ]})");
  EXPECT_EQ(n.conditions[0].target, 0u);
  EXPECT_EQ(n.conditions[1].target, 1u);
  EXPECT_EQ(n.defaultIndex, 1);
  EXPECT_EQ(n.targets[0].mode, Mode::LoadBalance);
  EXPECT_EQ(n.targets[0].targets[1].provider, "@vertex");
}

// --- weighted pick --------------------------------------------------------------------------

TEST(PortkeyWeighted, BoundariesAndZeroWeights) {
  const Node n = parseOk(R"({"strategy":{"mode":"loadbalance"},
      "targets":[{"model":"a","weight":3},{"model":"z","weight":0},{"model":"b","weight":1}]})");
  EXPECT_EQ(chooseWeighted(n, 0.0), 0u);
  EXPECT_EQ(chooseWeighted(n, 0.5), 0u);
  EXPECT_EQ(chooseWeighted(n, 0.7499), 0u);
  EXPECT_EQ(chooseWeighted(n, 0.75), 2u);
  EXPECT_EQ(chooseWeighted(n, 0.9999), 2u);
  EXPECT_EQ(chooseWeighted(n, 1.0), 2u);  // clamped; never the zero-weight target
  EXPECT_EQ(chooseWeighted(n, 7.0), 2u);
  EXPECT_EQ(chooseWeighted(n, -1.0), 0u);
  EXPECT_EQ(chooseWeighted(n, std::numeric_limits<double>::quiet_NaN()), 0u);
  // Zero-weight targets first are skipped as well.
  const Node z = parseOk(R"({"strategy":{"mode":"loadbalance"},
      "targets":[{"model":"z","weight":0},{"model":"a","weight":2}]})");
  EXPECT_EQ(chooseWeighted(z, 0.0), 1u);
  EXPECT_EQ(chooseWeighted(z, 0.999), 1u);
  // No weight at all (not loadbalance): 0.
  const Node none = parseOk(R"({"strategy":{"mode":"fallback"},"targets":[{"weight":0}]})");
  EXPECT_EQ(chooseWeighted(none, 0.5), 0u);
}

TEST(PortkeyWeighted, DistributionFollowsWeights) {
  const Node n = parseOk(R"({"strategy":{"mode":"loadbalance"},
      "targets":[{"model":"a","weight":5},{"model":"b","weight":3},{"model":"c","weight":1},
                 {"model":"d"}]})");
  std::vector<int> counts(4, 0);
  constexpr int kSteps = 10000;
  for (int i = 0; i < kSteps; ++i) ++counts[chooseWeighted(n, (i + 0.5) / kSteps)];
  // Shares 5/10, 3/10, 1/10, 1/10 on an even grid: exact.
  EXPECT_EQ(counts[0], 5000);
  EXPECT_EQ(counts[1], 3000);
  EXPECT_EQ(counts[2], 1000);
  EXPECT_EQ(counts[3], 1000);
}

}  // namespace
}  // namespace llmux::router::portkey
