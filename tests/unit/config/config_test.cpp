// Config loading: every implemented field, defaults, precedence and formatting.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include "config_test_util.hpp"

namespace llmux::config {
namespace {

using namespace std::chrono_literals;
using testing::dataPath;
using testing::load;
using testing::loadOk;
using testing::warningsAt;

TEST(ConfigFields, AllFieldsFromFile) {
  LoadResult r = loadConfigFile(dataPath("all_fields.yaml"), {.exportEnvironment = false});
  ASSERT_TRUE(r.problems.empty()) << r.problems.front().format("all_fields.yaml");
  ASSERT_TRUE(r.config);
  const Config& c = *r.config;
  EXPECT_TRUE(c.warnings.empty());
  ASSERT_EQ(c.deployments.size(), 3u);

  const Deployment& d = c.deployments[0];
  EXPECT_EQ(d.modelName, "gpt-4o");
  EXPECT_EQ(d.id, "gpt4o-east");
  EXPECT_EQ(d.provider, "openai");
  EXPECT_EQ(d.upstreamModel, "gpt-4o-2024-08-06");
  EXPECT_EQ(d.apiBase, "https://api.example.com/v1");  // trailing '/' dropped
  EXPECT_EQ(d.apiKey, "sk-test-123");
  EXPECT_EQ(d.apiVersion, "2024-06-01");
  EXPECT_EQ(d.timeoutSeconds, 45.5);
  EXPECT_EQ(d.streamTimeoutSeconds, 7.0);
  EXPECT_EQ(d.maxRetries, 3);
  EXPECT_EQ(d.rpm, 600);
  EXPECT_EQ(d.tpm, 90000);
  EXPECT_DOUBLE_EQ(d.weight, 2.5);
  EXPECT_EQ(d.order, 2);
  using Header = std::pair<std::string, std::string>;
  EXPECT_EQ(d.extraHeaders, (std::vector<Header>{{"X-Org", "acme"}, {"x-trace", "on"}}));
  EXPECT_EQ(d.mockResponse, "canned answer");
  EXPECT_EQ(d.mockLatencyMs, 25);
  EXPECT_EQ(d.mockChunkDelayMs, 5);
  EXPECT_EQ(d.modelInfo, (std::map<std::string, std::string>{{"id", "gpt4o-east"},
                                                             {"mode", "chat"},
                                                             {"max_tokens", "128000"},
                                                             {"supports_vision", "true"}}));

  const Deployment& vllm = c.deployments[1];
  EXPECT_EQ(vllm.id, "local/1");
  EXPECT_EQ(vllm.provider, "hosted_vllm");
  EXPECT_EQ(vllm.upstreamModel, "meta-llama/Llama-3.1-8B");  // only the first '/' splits
  EXPECT_EQ(vllm.apiBase, "http://127.0.0.1:8000/v1");

  const Deployment& mock = c.deployments[2];
  EXPECT_EQ(mock.id, "fake/2");
  EXPECT_EQ(mock.provider, "mock");
  EXPECT_EQ(mock.upstreamModel, "echo");

  EXPECT_EQ(c.masterKey, "sk-master");
  const ServerSettings& s = c.server;
  EXPECT_EQ(s.host, "127.0.0.1");
  EXPECT_EQ(s.port, 8080);
  EXPECT_EQ(s.workers, 4);
  EXPECT_EQ(s.maxBodyBytes, 4u << 20);
  EXPECT_EQ(s.maxHeaderBytes, 8192u);
  EXPECT_EQ(s.headerTimeout, 1000ms);
  EXPECT_EQ(s.bodyTimeout, 2000ms);
  EXPECT_EQ(s.idleTimeout, 3000ms);
  EXPECT_EQ(s.shutdownGrace, 4000ms);
  EXPECT_EQ(s.connectTimeout, 500ms);
  EXPECT_EQ(s.defaultTimeout, 90s);
  EXPECT_EQ(s.streamIdleTimeout, 6000ms);
  EXPECT_EQ(s.accessLog, "/var/log/llmux/access.log");
  EXPECT_EQ(s.logLevel, "debug");
}

TEST(ConfigFields, MinimalDeploymentHasDefaults) {
  Config c = loadOk("model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/x\n");
  ASSERT_EQ(c.deployments.size(), 1u);
  const Deployment& d = c.deployments[0];
  EXPECT_EQ(d.id, "m/0");
  EXPECT_TRUE(d.apiBase.empty());
  EXPECT_TRUE(d.apiKey.empty());
  EXPECT_TRUE(d.apiVersion.empty());
  EXPECT_FALSE(d.timeoutSeconds);
  EXPECT_FALSE(d.streamTimeoutSeconds);
  EXPECT_EQ(d.maxRetries, 0);
  EXPECT_FALSE(d.rpm);
  EXPECT_FALSE(d.tpm);
  EXPECT_EQ(d.weight, 1.0);
  EXPECT_EQ(d.order, 0);
  EXPECT_TRUE(d.extraHeaders.empty());
  EXPECT_FALSE(d.mockResponse);
  EXPECT_EQ(d.mockLatencyMs, 0);
  EXPECT_EQ(d.mockChunkDelayMs, 0);
  EXPECT_TRUE(d.modelInfo.empty());
  EXPECT_TRUE(c.masterKey.empty());
  EXPECT_TRUE(c.warnings.empty());

  const ServerSettings defaults;
  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 4000);
  EXPECT_EQ(c.server.maxBodyBytes, defaults.maxBodyBytes);
  EXPECT_EQ(c.server.defaultTimeout, 600s);
  EXPECT_EQ(c.server.accessLog, "-");
  EXPECT_EQ(c.server.logLevel, "info");
}

TEST(ConfigFields, ModelWithoutSlashIsOpenai) {
  Config c = loadOk("model_list:\n- model_name: m\n  litellm_params: {model: gpt-4o-mini}\n");
  ASSERT_EQ(c.deployments.size(), 1u);
  EXPECT_EQ(c.deployments[0].provider, "openai");
  EXPECT_EQ(c.deployments[0].upstreamModel, "gpt-4o-mini");
}

TEST(ConfigFields, ProvidersAreNotValidatedHere) {
  Config c = loadOk("model_list:\n- model_name: m\n  litellm_params: {model: nosuch/thing}\n");
  ASSERT_EQ(c.deployments.size(), 1u);
  EXPECT_EQ(c.deployments[0].provider, "nosuch");
}

TEST(ConfigFields, NumbersGivenAsStringsAreAccepted) {
  Config c = loadOk(R"(model_list:
- model_name: m
  litellm_params:
    model: openai/x
    timeout: "30"
    stream_timeout: "2.5"
    max_retries: "4"
    rpm: "+100"
    tpm: '2000'
    weight: "0.5"
    order: "3"
    mock_latency_ms: "10"
llmux_settings:
  port: "8081"
  max_body_bytes: "1024"
)");
  ASSERT_EQ(c.deployments.size(), 1u);
  const Deployment& d = c.deployments[0];
  EXPECT_EQ(d.timeoutSeconds, 30.0);
  EXPECT_EQ(d.streamTimeoutSeconds, 2.5);
  EXPECT_EQ(d.maxRetries, 4);
  EXPECT_EQ(d.rpm, 100);
  EXPECT_EQ(d.tpm, 2000);
  EXPECT_EQ(d.weight, 0.5);
  EXPECT_EQ(d.order, 3);
  EXPECT_EQ(d.mockLatencyMs, 10);
  EXPECT_EQ(c.server.port, 8081);
  EXPECT_EQ(c.server.maxBodyBytes, 1024u);
}

TEST(ConfigFields, TimeoutAcceptsIntsAndFloats) {
  Config c = loadOk(R"(model_list:
- {model_name: a, litellm_params: {model: x, timeout: 30, stream_timeout: 0.25}}
- {model_name: b, litellm_params: {model: x, timeout: 1e2}}
)");
  ASSERT_EQ(c.deployments.size(), 2u);
  EXPECT_EQ(c.deployments[0].timeoutSeconds, 30.0);
  EXPECT_EQ(c.deployments[0].streamTimeoutSeconds, 0.25);
  EXPECT_EQ(c.deployments[1].timeoutSeconds, 100.0);
}

TEST(ConfigFields, NullValuesMeanUnset) {
  Config c = loadOk(R"(model_list:
- model_name: m
  litellm_params:
    model: openai/x
    api_base:
    api_key: ~
    timeout: null
    rpm:
    extra_headers:
  model_info:
general_settings:
litellm_settings: {}
router_settings: {}
llmux_settings:
)");
  ASSERT_EQ(c.deployments.size(), 1u);
  EXPECT_TRUE(c.deployments[0].apiBase.empty());
  EXPECT_FALSE(c.deployments[0].timeoutSeconds);
  EXPECT_FALSE(c.deployments[0].rpm);
  EXPECT_EQ(c.deployments[0].id, "m/0");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigFields, ModelInfoKeepsScalarsWithoutWarnings) {
  Config c = loadOk(R"(model_list:
- model_name: m
  litellm_params: {model: x}
  model_info:
    id: 42
    mode: chat
    input_cost_per_token: 0.000001
    supports_function_calling: true
    tags: [a, b]
    metadata: {team: x}
    description:
)");
  ASSERT_EQ(c.deployments.size(), 1u);
  EXPECT_EQ(c.deployments[0].id, "42");
  EXPECT_EQ(c.deployments[0].modelInfo,
            (std::map<std::string, std::string>{{"id", "42"},
                                                {"mode", "chat"},
                                                {"input_cost_per_token", "0.000001"},
                                                {"supports_function_calling", "true"}}));
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigFields, GeneratedIdUsesIndexInModelList) {
  Config c = loadOk(R"(model_list:
- {model_name: a, litellm_params: {model: x}}
- {model_name: a, litellm_params: {model: y}, model_info: {id: custom}}
- {model_name: a, litellm_params: {model: z}}
)");
  ASSERT_EQ(c.deployments.size(), 3u);
  EXPECT_EQ(c.deployments[0].id, "a/0");
  EXPECT_EQ(c.deployments[1].id, "custom");
  EXPECT_EQ(c.deployments[2].id, "a/2");
}

TEST(ConfigFields, ModelGroupsAreDistinctInFileOrder) {
  Config c = loadOk(R"(model_list:
- {model_name: b, litellm_params: {model: x}}
- {model_name: a, litellm_params: {model: x}}
- {model_name: b, litellm_params: {model: y}}
)");
  EXPECT_EQ(c.modelGroups(), (std::vector<std::string>{"b", "a"}));
}

TEST(ConfigFields, ExtraHeadersKeepFileOrder) {
  Config c = loadOk(R"(model_list:
- model_name: m
  litellm_params:
    model: x
    extra_headers: {Z-Last: "1", A-First: 2, M-Mid: "", Empty:}
)");
  ASSERT_EQ(c.deployments.size(), 1u);
  using Header = std::pair<std::string, std::string>;
  EXPECT_EQ(c.deployments[0].extraHeaders,
            (std::vector<Header>{{"Z-Last", "1"}, {"A-First", "2"}, {"M-Mid", ""}, {"Empty", ""}}));
}

TEST(ConfigFields, LlmuxSettingsOverrideLitellmKeysWhateverTheOrder) {
  Config c = loadOk(R"(llmux_settings:
  max_body_bytes: 1000
  request_timeout_ms: 1500
general_settings:
  max_request_size_mb: 2
litellm_settings:
  request_timeout: 30
model_list: []
)");
  EXPECT_EQ(c.server.maxBodyBytes, 1000u);
  EXPECT_EQ(c.server.defaultTimeout, 1500ms);
}

TEST(ConfigFields, LitellmKeysMapOntoServerLimits) {
  Config c = loadOk(R"(general_settings:
  max_request_size_mb: 0.5
litellm_settings:
  request_timeout: 2.5
)");
  EXPECT_EQ(c.server.maxBodyBytes, 512u * 1024u);
  EXPECT_EQ(c.server.defaultTimeout, 2500ms);
}

TEST(ConfigFields, AccessLogValues) {
  auto accessLog = [](const std::string& value) {
    return loadOk("llmux_settings:\n  access_log: " + value + "\n").server.accessLog;
  };
  EXPECT_EQ(accessLog("\"-\""), "-");
  EXPECT_EQ(accessLog("\"\""), "");
  EXPECT_EQ(accessLog("false"), "");
  EXPECT_EQ(accessLog("off"), "");  // a YAML 1.1 boolean, as in LiteLLM's PyYAML
  EXPECT_EQ(accessLog("true"), "-");
  EXPECT_EQ(accessLog("\"off\""), "off");  // quoted: a file name
  EXPECT_EQ(accessLog("/tmp/a.log"), "/tmp/a.log");
}

TEST(ConfigFields, LogLevelIsNormalized) {
  auto level = [](const std::string& value) {
    return loadOk("llmux_settings:\n  log_level: " + value + "\n").server.logLevel;
  };
  EXPECT_EQ(level("INFO"), "info");
  EXPECT_EQ(level("Warning"), "warn");
  EXPECT_EQ(level("err"), "error");
  EXPECT_EQ(level("trace"), "trace");
  EXPECT_EQ(level("off"), "off");  // a boolean in YAML 1.1, but only a level makes sense here
}

TEST(ConfigFields, ShutdownGraceMayBeZeroAndWorkersZeroMeansPerCore) {
  Config c = loadOk("llmux_settings:\n  shutdown_grace_ms: 0\n  workers: 0\n");
  EXPECT_EQ(c.server.shutdownGrace, 0ms);
  EXPECT_EQ(c.server.workers, 0);
}

TEST(ConfigFields, EmptyModelListIsAWarning) {
  Config c = loadOk("model_list: []\n");
  EXPECT_TRUE(c.deployments.empty());
  ASSERT_EQ(warningsAt(c, "model_list").size(), 1u);
  EXPECT_EQ(warningsAt(c, "model_list")[0]->line, 1);
}

TEST(ConfigFields, MissingModelListAndEmptyFileAreWarnings) {
  for (const char* text : {"", "# only a comment\n", "general_settings: {}\n", "model_list:\n"}) {
    Config c = loadOk(text);
    EXPECT_TRUE(c.deployments.empty()) << text;
    EXPECT_EQ(warningsAt(c, "model_list").size(), 1u) << text;
  }
}

TEST(ConfigFields, EmptySectionsFromRealLitellmFilesLoad) {
  // What some tools generate for an "empty" LiteLLM config.
  Config c = loadOk(
      "general_settings:\n  {}\nlitellm_settings:\n  {}\nmodel_list:\n  []\n"
      "router_settings:\n  {}\n");
  EXPECT_EQ(c.warnings.size(), 1u);  // only the empty model_list
}

TEST(ConfigFormat, ProblemFormat) {
  EXPECT_EQ(
      (Problem{"model_list[2].litellm_params.timeout", 12, "must be a number"}.format("c.yaml")),
      "c.yaml:12: model_list[2].litellm_params.timeout: must be a number");
  EXPECT_EQ((Problem{"general_settings", 0, "bad"}.format("c.yaml")),
            "c.yaml: general_settings: bad");
  EXPECT_EQ((Problem{"", 0, "cannot open"}.format("c.yaml")), "c.yaml: cannot open");
  EXPECT_EQ((Problem{"", 3, "invalid YAML"}.format("c.yaml")), "c.yaml:3: invalid YAML");
}

TEST(ConfigFormat, WarningFormat) {
  Warning w{"router_settings.routing_strategy", 7, "accepted but not implemented yet"};
  EXPECT_EQ(w.format("x.yaml"),
            "x.yaml:7: router_settings.routing_strategy: accepted but not implemented yet");
}

TEST(ConfigFile, LoadsFromDisk) {
  LoadResult r = loadConfigFile(dataPath("all_fields.yaml"), {.exportEnvironment = false});
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->deployments.size(), 3u);
}

TEST(ConfigFile, MissingFileIsAProblemWithoutPathOrLine) {
  LoadResult r = loadConfigFile(dataPath("does_not_exist.yaml"));
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, "");
  EXPECT_EQ(r.problems[0].line, 0);
  EXPECT_NE(r.problems[0].message.find("No such file"), std::string::npos) << r.problems[0].message;
  EXPECT_EQ(r.problems[0].format("nope.yaml").rfind("nope.yaml: cannot open", 0), 0u);
}

TEST(ConfigFile, DirectoryIsAProblem) {
  LoadResult r = loadConfigFile(std::string(LLMUX_TEST_DATA) + "/config");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].line, 0);
}

TEST(ConfigFields, SslVerifyAndStreamIdle) {
  LoadResult r = loadConfigText(R"(
model_list:
  - model_name: a
    litellm_params: {model: openai/x, ssl_verify: false, stream_idle_timeout_ms: 250}
  - model_name: b
    litellm_params: {model: openai/y, ssl_verify: /etc/ssl/certs/custom-ca.pem}
  - model_name: c
    litellm_params: {model: openai/z}
)",
                                {.exportEnvironment = false});
  ASSERT_TRUE(r.config) << r.problems.front().format("inline");
  const auto& ds = r.config->deployments;
  EXPECT_FALSE(ds[0].sslVerify);
  EXPECT_EQ(ds[0].streamIdleTimeoutMs, 250);
  EXPECT_TRUE(ds[1].sslVerify);
  EXPECT_EQ(ds[1].sslCaFile, "/etc/ssl/certs/custom-ca.pem");
  EXPECT_TRUE(ds[2].sslVerify);
  EXPECT_TRUE(ds[2].sslCaFile.empty());
  EXPECT_FALSE(ds[2].streamIdleTimeoutMs);
  EXPECT_TRUE(r.config->warnings.empty());
}

}  // namespace
}  // namespace llmux::config
