// Problems: every kind names its YAML path and 1-based line, and all of them are collected.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config_test_util.hpp"

namespace llmux::config {
namespace {

using testing::dataPath;
using testing::load;
using testing::onlyProblem;
using testing::problemAt;

// A one-deployment config whose litellm_params gets `extra` (indented by 4) on line 5 onwards.
std::string withParams(const std::string& extra) {
  return "model_list:\n- model_name: m\n  litellm_params:\n    model: openai/x\n" + extra;
}

void expectProblem(const std::string& yaml, const std::string& path, int line,
                   const std::string& messagePart = "") {
  SCOPED_TRACE(yaml);
  Problem p = onlyProblem(yaml);
  EXPECT_EQ(p.path, path);
  EXPECT_EQ(p.line, line);
  if (!messagePart.empty()) {
    EXPECT_NE(p.message.find(messagePart), std::string::npos) << p.message;
  }
}

TEST(ConfigErrors, MalformedYamlNamesTheLine) {
  expectProblem("model_list:\n  - model_name: a\n    litellm_params: [\n", "", 4, "invalid YAML");
  expectProblem("a: b\n c: d\n", "", 2, "invalid YAML");
  expectProblem("model_list:\n\t- x\n", "", 2, "invalid YAML");  // tabs are not indentation
}

TEST(ConfigErrors, DeeplyNestedYamlIsAProblemNotAStackOverflow) {
  expectProblem("a: " + std::string(5000, '[') + std::string(5000, ']'), "", 1,
                "nested too deeply");
  std::string blocks;
  for (int i = 0; i < 3000; ++i) blocks += std::string(i, ' ') + "k:\n";
  Problem p = onlyProblem(blocks);
  EXPECT_NE(p.message.find("nested too deeply"), std::string::npos) << p.message;
}

TEST(ConfigErrors, RootMustBeAMapping) {
  expectProblem("- a\n- b\n", "", 1, "mapping");
  expectProblem("just text\n", "", 1, "mapping");
}

TEST(ConfigErrors, MultipleDocumentsAreAProblem) {
  expectProblem("model_list: []\n---\nmodel_list: []\n", "", 2, "one YAML document");
  expectProblem("---\nmodel_list: []\n...\n---\n", "", 4, "one YAML document");
}

TEST(ConfigErrors, StrayFlowEntryIsAProblemNotAHang) {
  // yaml-cpp's LoadAll loops forever on these (found by fuzzing).
  expectProblem(",", "", 1, "invalid YAML");
  expectProblem(std::string(",\0", 2), "", 1, "invalid YAML");
  expectProblem("[a],", "", 1, "invalid YAML");
  expectProblem("model_list: []\n---\n,\n", "", 2, "one YAML document");
}

TEST(ConfigErrors, MissingModelName) {
  expectProblem("model_list:\n- litellm_params: {model: x}\n", "model_list[0].model_name", 2,
                "required");
  expectProblem("model_list:\n- model_name:\n  litellm_params: {model: x}\n",
                "model_list[0].model_name", 2, "required");
}

TEST(ConfigErrors, MissingLitellmParams) {
  expectProblem("model_list:\n- model_name: a\n", "model_list[0].litellm_params", 2, "required");
  expectProblem("model_list:\n- model_name: a\n  litellm_params:\n", "model_list[0].litellm_params",
                3, "required");
}

TEST(ConfigErrors, MissingModelUsesTheLineOfItsParent) {
  expectProblem("model_list:\n- model_name: a\n  litellm_params:\n    api_key: k\n",
                "model_list[0].litellm_params.model", 3, "required");
  expectProblem("model_list:\n- model_name: a\n  litellm_params:\n    model:\n",
                "model_list[0].litellm_params.model", 4);
}

TEST(ConfigErrors, BadModelStrings) {
  expectProblem("model_list:\n- model_name: m\n  litellm_params:\n    model: \"\"\n",
                "model_list[0].litellm_params.model", 4, "empty");
  expectProblem("model_list:\n- model_name: a\n  litellm_params: {model: /x}\n",
                "model_list[0].litellm_params.model", 3, "provider");
  expectProblem("model_list:\n- model_name: a\n  litellm_params: {model: openai/}\n",
                "model_list[0].litellm_params.model", 3, "model id");
  expectProblem("model_list:\n- model_name: a\n  litellm_params: {model: [a]}\n",
                "model_list[0].litellm_params.model", 3, "string");
}

TEST(ConfigErrors, WrongTypesInLitellmParams) {
  const std::string p = "model_list[0].litellm_params.";
  expectProblem(withParams("    timeout: abc\n"), p + "timeout", 5, "number");
  expectProblem(withParams("    timeout: -1\n"), p + "timeout", 5, "> 0");
  expectProblem(withParams("    timeout: 0\n"), p + "timeout", 5, "> 0");
  expectProblem(withParams("    timeout: .inf\n"), p + "timeout", 5);
  expectProblem(withParams("    timeout: nan\n"), p + "timeout", 5);
  expectProblem(withParams("    stream_timeout: {a: 1}\n"), p + "stream_timeout", 5, "mapping");
  expectProblem(withParams("    rpm: [1]\n"), p + "rpm", 5, "integer");
  expectProblem(withParams("    rpm: 1.5\n"), p + "rpm", 5, "integer");
  expectProblem(withParams("    rpm: -3\n"), p + "rpm", 5, ">= 0");
  expectProblem(withParams("    tpm: 99999999999999999999999\n"), p + "tpm", 5);
  expectProblem(withParams("    max_retries: many\n"), p + "max_retries", 5);
  expectProblem(withParams("    weight: -1\n"), p + "weight", 5);
  expectProblem(withParams("    order: -1\n"), p + "order", 5);
  expectProblem(withParams("    extra_headers: 5\n"), p + "extra_headers", 5, "mapping");
  expectProblem(withParams("    extra_headers: [a]\n"), p + "extra_headers", 5, "mapping");
  expectProblem(withParams("    extra_headers:\n      X-A: [1]\n"), p + "extra_headers.X-A", 6);
  expectProblem(withParams("    extra_headers:\n      \"Bad Header\": v\n"),
                p + "extra_headers.Bad Header", 6, "header name");
  expectProblem(withParams("    api_base: ftp://x\n"), p + "api_base", 5, "http");
  expectProblem(withParams("    api_key: {a: b}\n"), p + "api_key", 5, "string");
  expectProblem(withParams("    mock_response: [a]\n"), p + "mock_response", 5);
  expectProblem(withParams("    mock_latency_ms: -5\n"), p + "mock_latency_ms", 5);
  expectProblem(withParams("    mock_chunk_delay_ms: soon\n"), p + "mock_chunk_delay_ms", 5);
}

TEST(ConfigErrors, WrongSectionTypes) {
  expectProblem("model_list: {a: 1}\n", "model_list", 1, "sequence");
  expectProblem("model_list: gpt\n", "model_list", 1, "sequence");
  expectProblem("model_list:\n- just-a-string\n", "model_list[0]", 2, "mapping");
  expectProblem("model_list:\n- model_name: a\n  litellm_params: openai/x\n",
                "model_list[0].litellm_params", 3, "mapping");
  expectProblem("model_list:\n- model_name: a\n  litellm_params: {model: x}\n  model_info: [1]\n",
                "model_list[0].model_info", 4, "mapping");
  expectProblem("model_list:\n- model_name: [a]\n  litellm_params: {model: x}\n",
                "model_list[0].model_name", 2, "string");
  expectProblem("general_settings: [a]\n", "general_settings", 1, "mapping");
  expectProblem("litellm_settings: 3\n", "litellm_settings", 1, "mapping");
  expectProblem("llmux_settings: on\n", "llmux_settings", 1, "mapping");
}

TEST(ConfigErrors, GeneralAndLitellmSettingsValues) {
  expectProblem("general_settings:\n  master_key: [a]\n", "general_settings.master_key", 2);
  expectProblem("general_settings:\n  max_request_size_mb: big\n",
                "general_settings.max_request_size_mb", 2, "number");
  expectProblem("general_settings:\n  max_request_size_mb: 0\n",
                "general_settings.max_request_size_mb", 2);
  expectProblem("litellm_settings:\n  request_timeout: soon\n", "litellm_settings.request_timeout",
                2, "number");
  expectProblem("litellm_settings:\n  request_timeout: -2\n", "litellm_settings.request_timeout",
                2);
}

TEST(ConfigErrors, LlmuxSettingsValues) {
  const std::string s = "llmux_settings.";
  expectProblem("llmux_settings:\n  port: 70000\n", s + "port", 2, "between 1 and 65535");
  expectProblem("llmux_settings:\n  port: 0\n", s + "port", 2);
  expectProblem("llmux_settings:\n  port: http\n", s + "port", 2, "integer");
  expectProblem("llmux_settings:\n  host: \"\"\n", s + "host", 2);
  expectProblem("llmux_settings:\n  workers: -1\n", s + "workers", 2);
  expectProblem("llmux_settings:\n  max_body_bytes: 0\n", s + "max_body_bytes", 2);
  expectProblem("llmux_settings:\n  max_header_bytes: 5000000000\n", s + "max_header_bytes", 2);
  for (const char* key : {"header_timeout_ms", "body_timeout_ms", "idle_timeout_ms",
                          "connect_timeout_ms", "request_timeout_ms", "stream_idle_timeout_ms"}) {
    expectProblem(std::string("llmux_settings:\n  ") + key + ": 0\n", s + key, 2);
    expectProblem(std::string("llmux_settings:\n  ") + key + ": 1.5\n", s + key, 2);
  }
  expectProblem("llmux_settings:\n  shutdown_grace_ms: -1\n", s + "shutdown_grace_ms", 2);
  expectProblem("llmux_settings:\n  access_log: [a]\n", s + "access_log", 2);
  expectProblem("llmux_settings:\n  log_level: loud\n", s + "log_level", 2, "one of");
  expectProblem("llmux_settings:\n  prot: 8080\n", s + "prot", 2, "unknown");
}

TEST(ConfigErrors, DuplicateDeploymentIds) {
  const std::string yaml = R"(model_list:
- model_name: a
  litellm_params: {model: x}
  model_info: {id: same}
- model_name: b
  litellm_params: {model: y}
  model_info:
    id: same
)";
  expectProblem(yaml, "model_list[1].model_info.id", 8, "duplicate deployment id 'same'");
  Problem p = onlyProblem(yaml);
  EXPECT_NE(p.message.find("model_list[0].model_info.id"), std::string::npos) << p.message;
}

TEST(ConfigErrors, ExplicitIdCollidingWithAGeneratedOne) {
  expectProblem(R"(model_list:
- model_name: a
  litellm_params: {model: x}
- model_name: b
  litellm_params: {model: y}
  model_info: {id: a/0}
)",
                "model_list[1].model_info.id", 6, "duplicate");
}

TEST(ConfigErrors, EmptyIdIsAProblem) {
  expectProblem(
      "model_list:\n- model_name: a\n  litellm_params: {model: x}\n  model_info: {id: ''}\n",
      "model_list[0].model_info.id", 4);
}

TEST(ConfigErrors, DuplicateKeys) {
  expectProblem("model_list: []\nmodel_list: []\n", "model_list", 2, "duplicate key");
  expectProblem(withParams("    rpm: 1\n    rpm: 2\n"), "model_list[0].litellm_params.rpm", 6,
                "first at line 5");
}

TEST(ConfigErrors, NonStringKey) {
  expectProblem("? [a, b]\n: c\n", "", 1, "keys must be strings");
}

TEST(ConfigErrors, HostedVllmNeedsApiBase) {
  expectProblem("model_list:\n- model_name: a\n  litellm_params:\n    model: hosted_vllm/llama\n",
                "model_list[0].litellm_params.api_base", 3, "hosted_vllm");
}

TEST(ConfigErrors, ManyProblemsAreAllReportedInFileOrder) {
  LoadResult r = loadConfigFile(dataPath("many_problems.yaml"), {.exportEnvironment = false});
  EXPECT_FALSE(r.config);
  const std::vector<std::pair<std::string, int>> expected = {
      {"model_list[0].litellm_params.timeout", 5},
      {"model_list[0].litellm_params.rpm", 6},
      {"model_list[1].litellm_params", 7},
      {"model_list[2].model_name", 8},
      {"model_list[3].litellm_params.model", 11},
      {"model_list[3].litellm_params.extra_headers", 13},
      {"model_list[4].litellm_params.api_base", 15},
      {"model_list[5].model_info.id", 23},
      {"general_settings.max_request_size_mb", 25},
      {"llmux_settings.port", 27},
      {"llmux_settings.workers", 28},
  };
  std::vector<std::pair<std::string, int>> actual;
  for (const Problem& p : r.problems) actual.emplace_back(p.path, p.line);
  EXPECT_EQ(actual, expected);
  for (const Problem& p : r.problems) std::cerr << "  " << p.format("many_problems.yaml") << "\n";
}

TEST(ConfigErrors, ProblemsInSeveralSectionsAtOnce) {
  LoadResult r = load(R"(llmux_settings:
  port: -1
model_list:
- model_name: a
  litellm_params: {model: x, timeout: abc}
general_settings:
  max_request_size_mb: x
)");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.problems.size(), 3u);
  EXPECT_TRUE(problemAt(r, "llmux_settings.port"));
  EXPECT_TRUE(problemAt(r, "model_list[0].litellm_params.timeout"));
  EXPECT_TRUE(problemAt(r, "general_settings.max_request_size_mb"));
  EXPECT_EQ(r.problems.front().line, 2);  // sorted by line
}

TEST(ConfigErrors, ValueDescriptionsAreTruncatedAndPrintable) {
  Problem p = onlyProblem(withParams("    timeout: \"" + std::string(200, 'a') + "\"\n"));
  EXPECT_LT(p.message.size(), 120u) << p.message;
  p = onlyProblem(withParams("    timeout: \"ab\\x01\\ncd\"\n"));
  EXPECT_EQ(p.message.find_first_of("\x01\n"), std::string::npos) << p.message;
}

}  // namespace
}  // namespace llmux::config
