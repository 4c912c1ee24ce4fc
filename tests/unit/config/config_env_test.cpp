// os.environ/ references and the environment_variables block.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/config.hpp"
#include "config_test_util.hpp"

namespace llmux::config {
namespace {

using testing::load;
using testing::loadOk;
using testing::onlyProblem;
using testing::ScopedEnv;
using testing::warningsAt;

std::string envOrNull(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "<unset>";
}

TEST(ConfigEnv, ResolvesSetVariableInEveryStringField) {
  ScopedEnv key("LLMUX_T_KEY", "sk-from-env");
  ScopedEnv base("LLMUX_T_BASE", "http://upstream.test:9000/v1");
  ScopedEnv header("LLMUX_T_HEADER", "header-secret");
  ScopedEnv info("LLMUX_T_INFO", "info-value");
  ScopedEnv name("LLMUX_T_NAME", "group-from-env");
  ScopedEnv rpm("LLMUX_T_RPM", "77");
  ScopedEnv host("LLMUX_T_HOST", "10.0.0.1");
  ScopedEnv port("LLMUX_T_PORT", "9999");
  Config c = loadOk(R"(model_list:
- model_name: os.environ/LLMUX_T_NAME
  litellm_params:
    model: hosted_vllm/m
    api_base: os.environ/LLMUX_T_BASE
    api_key: os.environ/LLMUX_T_KEY
    rpm: os.environ/LLMUX_T_RPM
    extra_headers:
      X-Secret: os.environ/LLMUX_T_HEADER
  model_info:
    note: os.environ/LLMUX_T_INFO
llmux_settings:
  host: os.environ/LLMUX_T_HOST
  port: os.environ/LLMUX_T_PORT
)");
  ASSERT_EQ(c.deployments.size(), 1u);
  const Deployment& d = c.deployments[0];
  EXPECT_EQ(d.modelName, "group-from-env");
  EXPECT_EQ(d.apiBase, "http://upstream.test:9000/v1");
  EXPECT_EQ(d.apiKey, "sk-from-env");
  EXPECT_EQ(d.rpm, 77);
  ASSERT_EQ(d.extraHeaders.size(), 1u);
  EXPECT_EQ(d.extraHeaders[0].second, "header-secret");
  EXPECT_EQ(d.modelInfo.at("note"), "info-value");
  EXPECT_EQ(c.server.host, "10.0.0.1");
  EXPECT_EQ(c.server.port, 9999);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigEnv, UnsetVariableIsEmptyWithAWarningNamingPathAndLine) {
  ScopedEnv unset("LLMUX_T_UNSET", std::nullopt);
  Config c = loadOk(R"(model_list:
- model_name: m
  litellm_params:
    model: openai/x
    api_key: os.environ/LLMUX_T_UNSET
    extra_headers:
      X-A: os.environ/LLMUX_T_UNSET
)");
  ASSERT_EQ(c.deployments.size(), 1u);
  EXPECT_EQ(c.deployments[0].apiKey, "");
  ASSERT_EQ(c.deployments[0].extraHeaders.size(), 1u);
  EXPECT_EQ(c.deployments[0].extraHeaders[0].second, "");
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[0].path, "model_list[0].litellm_params.api_key");
  EXPECT_EQ(c.warnings[0].line, 5);
  EXPECT_NE(c.warnings[0].message.find("LLMUX_T_UNSET"), std::string::npos);
  EXPECT_EQ(c.warnings[1].path, "model_list[0].litellm_params.extra_headers.X-A");
  EXPECT_EQ(c.warnings[1].line, 7);
}

TEST(ConfigEnv, OnlyTheWholeValuePrefixIsAReference) {
  ScopedEnv v("LLMUX_T_X", "resolved");
  Config c = loadOk(R"(model_list:
- model_name: m
  litellm_params:
    model: x
    api_key: "prefix os.environ/LLMUX_T_X"
    api_version: os.environ/LLMUX_T_X
)");
  ASSERT_EQ(c.deployments.size(), 1u);
  EXPECT_EQ(c.deployments[0].apiKey, "prefix os.environ/LLMUX_T_X");
  EXPECT_EQ(c.deployments[0].apiVersion, "resolved");
}

TEST(ConfigEnv, UnimplementedKeysAreNotResolved) {
  ScopedEnv unset("LLMUX_T_UNSET2", std::nullopt);
  Config c = loadOk(R"(router_settings:
  cache_kwargs: os.environ/LLMUX_T_UNSET2
)");
  // "not implemented", and no "not set" on top of it.
  ASSERT_EQ(warningsAt(c, "router_settings.cache_kwargs").size(), 1u);
  EXPECT_EQ(warningsAt(c, "router_settings.cache_kwargs")[0]->message,
            "accepted but not implemented yet");
}

TEST(ConfigEnv, MasterKeyFromEnvironment) {
  ScopedEnv key("LLMUX_T_MASTER", "sk-master-env");
  Config c = loadOk("general_settings:\n  master_key: os.environ/LLMUX_T_MASTER\n");
  EXPECT_EQ(c.masterKey, "sk-master-env");
}

TEST(ConfigEnv, MasterKeyUnsetVariableIsAProblem) {
  ScopedEnv key("LLMUX_T_MASTER_UNSET", std::nullopt);
  Problem p = onlyProblem(
      "model_list: []\ngeneral_settings:\n  master_key: os.environ/LLMUX_T_MASTER_UNSET\n");
  EXPECT_EQ(p.path, "general_settings.master_key");
  EXPECT_EQ(p.line, 3);
  EXPECT_NE(p.message.find("LLMUX_T_MASTER_UNSET is not set"), std::string::npos) << p.message;
}

TEST(ConfigEnv, MasterKeyEmptyVariableIsAProblem) {
  ScopedEnv key("LLMUX_T_MASTER_EMPTY", "");
  Problem p = onlyProblem("general_settings:\n  master_key: os.environ/LLMUX_T_MASTER_EMPTY\n");
  EXPECT_EQ(p.path, "general_settings.master_key");
  EXPECT_EQ(p.line, 2);
}

TEST(ConfigEnv, NumberFromEnvironmentThatIsNotANumberDoesNotEchoTheValue) {
  ScopedEnv secret("LLMUX_T_SECRETISH", "sk-do-not-print");
  Problem p = onlyProblem(
      "model_list:\n- model_name: m\n  litellm_params:\n    model: x\n"
      "    rpm: os.environ/LLMUX_T_SECRETISH\n");
  EXPECT_EQ(p.path, "model_list[0].litellm_params.rpm");
  EXPECT_EQ(p.line, 5);
  EXPECT_EQ(p.message.find("sk-do-not-print"), std::string::npos) << p.message;
}

TEST(ConfigEnv, EnvironmentVariablesAreExportedBeforeReferencesAreResolved) {
  ScopedEnv a("LLMUX_T_EXPORTED", std::nullopt);
  ScopedEnv b("LLMUX_T_CHAINED", std::nullopt);
  ScopedEnv c0("LLMUX_T_NUMBER", std::nullopt);
  // The block comes last in the file: it must still apply to the references above it.
  LoadResult r = loadConfigText(R"(model_list:
- model_name: m
  litellm_params:
    model: openai/x
    api_key: os.environ/LLMUX_T_EXPORTED
    api_version: os.environ/LLMUX_T_CHAINED
environment_variables:
  LLMUX_T_EXPORTED: sk-exported
  LLMUX_T_CHAINED: os.environ/LLMUX_T_EXPORTED
  LLMUX_T_NUMBER: 6379
)");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->deployments[0].apiKey, "sk-exported");
  EXPECT_EQ(r.config->deployments[0].apiVersion, "sk-exported");
  EXPECT_TRUE(r.config->warnings.empty());
  EXPECT_EQ(envOrNull("LLMUX_T_EXPORTED"), "sk-exported");
  EXPECT_EQ(envOrNull("LLMUX_T_CHAINED"), "sk-exported");
  EXPECT_EQ(envOrNull("LLMUX_T_NUMBER"), "6379");
}

TEST(ConfigEnv, EnvironmentVariablesOverrideTheProcessEnvironment) {
  ScopedEnv a("LLMUX_T_OVERRIDE", "old");
  LoadResult r = loadConfigText(
      "environment_variables:\n  LLMUX_T_OVERRIDE: new\n"
      "general_settings:\n  master_key: os.environ/LLMUX_T_OVERRIDE\n");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->masterKey, "new");
  EXPECT_EQ(envOrNull("LLMUX_T_OVERRIDE"), "new");
}

TEST(ConfigEnv, WithoutExportTheProcessEnvironmentIsUntouched) {
  ScopedEnv a("LLMUX_T_NOT_EXPORTED", std::nullopt);
  Config c = loadOk(
      "environment_variables:\n  LLMUX_T_NOT_EXPORTED: local\n"
      "general_settings:\n  master_key: os.environ/LLMUX_T_NOT_EXPORTED\n");
  EXPECT_EQ(c.masterKey, "local");  // still visible to the references of this load
  EXPECT_EQ(envOrNull("LLMUX_T_NOT_EXPORTED"), "<unset>");
}

TEST(ConfigEnv, EnvironmentVariablesNullValueIsEmpty) {
  Config c = loadOk(
      "environment_variables:\n  LLMUX_T_NULL:\n"
      "model_list:\n- model_name: m\n  litellm_params: {model: x, api_key: "
      "os.environ/LLMUX_T_NULL}\n");
  ASSERT_EQ(c.deployments.size(), 1u);
  EXPECT_EQ(c.deployments[0].apiKey, "");
  EXPECT_TRUE(warningsAt(c, "model_list[0].litellm_params.api_key").empty());
}

TEST(ConfigEnv, EnvironmentVariablesErrors) {
  LoadResult r = load("environment_variables:\n  \"A=B\": x\n  OK: [1]\n");
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_EQ(r.problems[0].path, "environment_variables.A=B");
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_EQ(r.problems[1].path, "environment_variables.OK");
  EXPECT_EQ(r.problems[1].line, 3);

  Problem p = onlyProblem("environment_variables: [A, B]\n");
  EXPECT_EQ(p.path, "environment_variables");
  EXPECT_EQ(p.line, 1);
}

TEST(ConfigEnv, HeaderValueWithLineBreakFromEnvironmentIsAProblem) {
  ScopedEnv v("LLMUX_T_NEWLINE", "abc\r\nX-Injected: 1");
  Problem p = onlyProblem(R"(model_list:
- model_name: m
  litellm_params:
    model: x
    extra_headers: {X-A: os.environ/LLMUX_T_NEWLINE}
)");
  EXPECT_EQ(p.path, "model_list[0].litellm_params.extra_headers.X-A");
  EXPECT_EQ(p.line, 5);
}

TEST(ConfigEnv, ApiKeyWithLineBreakIsAProblem) {
  ScopedEnv v("LLMUX_T_KEY_NEWLINE", "sk-abc\n");
  Problem p = onlyProblem(R"(model_list:
- model_name: m
  litellm_params:
    model: x
    api_key: os.environ/LLMUX_T_KEY_NEWLINE
)");
  EXPECT_EQ(p.path, "model_list[0].litellm_params.api_key");
  EXPECT_EQ(p.line, 5);
}

TEST(ConfigEnv, HostedVllmWithApiBaseFromUnsetVariableIsAProblem) {
  ScopedEnv v("LLMUX_T_VLLM_BASE", std::nullopt);
  LoadResult r = load(R"(model_list:
- model_name: m
  litellm_params:
    model: hosted_vllm/llama
    api_base: os.environ/LLMUX_T_VLLM_BASE
)");
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, "model_list[0].litellm_params.api_base");
  EXPECT_EQ(r.problems[0].line, 3);
}

}  // namespace
}  // namespace llmux::config
