#include "pricing/price_table.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <string>

namespace llmux::pricing {

extern const char kModelPricesJson[];
extern const std::size_t kModelPricesJsonSize;

namespace {

const PriceTable& table() {
  return PriceTable::builtin();
}

// The key find() resolves to, or "" when unknown (readable failures).
std::string keyOf(std::string_view provider, std::string_view model) {
  const ModelPrice* p = table().find(provider, model);
  return p ? p->key : std::string();
}

PriceTable parseOk(std::string_view json) {
  std::string error;
  auto t = PriceTable::parse(json, error);
  EXPECT_TRUE(t.has_value()) << error;
  EXPECT_TRUE(error.empty());
  return t ? std::move(*t) : PriceTable();
}

std::string parseError(std::string_view json) {
  std::string error;
  auto t = PriceTable::parse(json, error);
  EXPECT_FALSE(t.has_value()) << json;
  EXPECT_FALSE(error.empty());
  return error;
}

// ---------- the built-in table ----------

TEST(PriceTableBuiltin, ParsesEveryModelTheGeneratorWrote) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(kModelPricesJson, kModelPricesJsonSize).get(root), simdjson::SUCCESS);
  int64_t written = 0;
  ASSERT_EQ(root["_attribution"]["models"].get_int64().get(written), simdjson::SUCCESS);
  EXPECT_GT(written, 2000);
  EXPECT_EQ(table().size(), static_cast<size_t>(written));
  EXPECT_EQ(table().findKey("_attribution"), nullptr);
  EXPECT_EQ(table().findKey("sample_spec"), nullptr);
  EXPECT_EQ(&PriceTable::builtin(), &table());  // parsed once
}

TEST(PriceTableBuiltin, EveryEntryIsSane) {
  for (const ModelPrice& m : table().models()) {
    SCOPED_TRACE(m.key);
    EXPECT_FALSE(m.provider.empty());
    EXPECT_GE(m.inputPerToken, 0);
    EXPECT_GE(m.outputPerToken, 0);
    EXPECT_TRUE(std::isfinite(m.inputPerToken) && std::isfinite(m.outputPerToken));
    if (m.maxInputTokens) EXPECT_GT(*m.maxInputTokens, 0);  // 0 (unknown) must not be a limit
    if (m.maxOutputTokens) EXPECT_GT(*m.maxOutputTokens, 0);
    for (size_t i = 1; i < m.tiers.size(); ++i) {
      EXPECT_LT(m.tiers[i - 1].abovePromptTokens, m.tiers[i].abovePromptTokens);
    }
  }
}

// ---------- lookups, per provider family ----------

TEST(PriceTableFind, OpenAi) {
  const ModelPrice* p = table().find("openai", "gpt-4o");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->key, "gpt-4o");
  EXPECT_EQ(p->provider, "openai");
  EXPECT_EQ(p->mode, "chat");
  EXPECT_DOUBLE_EQ(p->inputPerToken, 2.5e-06);
  EXPECT_DOUBLE_EQ(p->outputPerToken, 1e-05);
  EXPECT_EQ(p->cacheReadPerToken, 1.25e-06);
  EXPECT_EQ(p->maxInputTokens, 128000);
  EXPECT_EQ(p->maxOutputTokens, 16384);
  EXPECT_EQ(keyOf("openai", "GPT-4o"), "gpt-4o");         // LiteLLM ignores case
  EXPECT_EQ(keyOf("openai", "openai/gpt-4o"), "gpt-4o");  // provider prefix given twice
  // Fine-tuned ids price as their base fine-tune entry.
  EXPECT_EQ(keyOf("openai", "ft:gpt-4o-mini-2024-07-18:acme:support:AbC123"),
            "ft:gpt-4o-mini-2024-07-18");
  // Completion models are keyed under text-completion-openai: same API, same family.
  EXPECT_EQ(keyOf("openai", "gpt-3.5-turbo-instruct"), "gpt-3.5-turbo-instruct");
  EXPECT_EQ(keyOf("text-completion-openai", "gpt-3.5-turbo-instruct"), "gpt-3.5-turbo-instruct");
}

TEST(PriceTableFind, AzureUsesOnlyAzureEntries) {
  const ModelPrice* p = table().find("azure", "gpt-4o");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->key, "azure/gpt-4o");
  EXPECT_EQ(p->provider, "azure");
  // o1-pro has an OpenAI entry but no Azure one: LiteLLM's provider check refuses it.
  ASSERT_NE(table().findKey("o1-pro"), nullptr);
  EXPECT_EQ(table().find("azure", "o1-pro"), nullptr);
  EXPECT_EQ(table().find("azure", "my-gpt4o-deployment"), nullptr);  // needs base_model
  EXPECT_EQ(keyOf("azure", "gpt-35-turbo-instruct"), "azure/gpt-35-turbo-instruct");  // azure_text
  // azure_ai may fall back to Azure and OpenAI prices.
  EXPECT_EQ(keyOf("azure_ai", "o1-pro"), "o1-pro");
}

TEST(PriceTableFind, FindKeyIgnoresProvider) {
  const ModelPrice* p = table().findKey("gpt-4o");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->provider, "openai");
  EXPECT_EQ(table().findKey("AZURE/GPT-4O"), table().find("azure", "gpt-4o"));
  EXPECT_EQ(table().findKey(""), nullptr);
  EXPECT_EQ(table().findKey("gpt-4o "), nullptr);
}

TEST(PriceTableFind, Anthropic) {
  const ModelPrice* p = table().find("anthropic", "claude-sonnet-4-5");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->provider, "anthropic");
  EXPECT_EQ(p->cacheWritePerToken, 3.75e-06);
  EXPECT_EQ(p->cacheWrite1hPerToken, 6e-06);
  EXPECT_EQ(p->cacheReadPerToken, 3e-07);
  ASSERT_EQ(p->tiers.size(), 1u);
  EXPECT_EQ(p->tiers[0].abovePromptTokens, 200000);
  EXPECT_DOUBLE_EQ(p->tiers[0].inputPerToken, 6e-06);
  EXPECT_EQ(keyOf("anthropic", "claude-3-haiku-20240307"), "claude-3-haiku-20240307");
  // A Bedrock or Vertex id never prices a direct Anthropic deployment.
  EXPECT_EQ(table().find("anthropic", "anthropic.claude-3-5-sonnet-20240620-v1:0"), nullptr);
  EXPECT_EQ(table().find("anthropic", "claude-3-5-sonnet@20240620"), nullptr);
}

TEST(PriceTableFind, BedrockRegionsRoutesAndSuffixes) {
  const std::string base = "anthropic.claude-3-5-sonnet-20240620-v1:0";
  EXPECT_EQ(keyOf("bedrock", base), base);
  // A cross-region profile with its own entry uses it...
  const ModelPrice* us = table().find("bedrock", "us." + base);
  ASSERT_NE(us, nullptr);
  EXPECT_EQ(us->key, "us." + base);
  EXPECT_EQ(us->maxInputTokens, 200000);
  EXPECT_EQ(keyOf("bedrock", "apac." + base), "apac." + base);
  // ...one without falls back to the foundation model.
  ASSERT_EQ(table().findKey("jp." + base), nullptr);
  EXPECT_EQ(keyOf("bedrock", "jp." + base), base);
  EXPECT_EQ(keyOf("bedrock", "us-gov." + base), base);
  EXPECT_EQ(keyOf("bedrock", "converse/" + base), base);
  EXPECT_EQ(keyOf("bedrock", "invoke/" + base), "bedrock/invoke/" + base);  // has its own entry
  EXPECT_EQ(keyOf("bedrock", "arn:aws:bedrock:us-east-1::foundation-model/" + base), base);
  EXPECT_EQ(keyOf("bedrock", base + ":51k"), base);  // provisioned throughput
  EXPECT_EQ(keyOf("bedrock", "us-east-1/" + base), base);
  // Converse-only entries (litellm_provider bedrock_converse) are in the family.
  EXPECT_EQ(keyOf("bedrock", "us.anthropic.claude-opus-4-6-v1"), "us.anthropic.claude-opus-4-6-v1");
  EXPECT_EQ(keyOf("bedrock", "xx.anthropic.claude-opus-4-6-v1[1m]"), "");  // unknown geo stays
  EXPECT_EQ(keyOf("bedrock", "jp.anthropic.claude-opus-4-6-v1[1m]"),
            "anthropic.claude-opus-4-6-v1");
  EXPECT_EQ(table().find("bedrock", "gpt-4o"), nullptr);
}

TEST(PriceTableFind, VertexAi) {
  const ModelPrice* p = table().find("vertex_ai", "gemini-2.5-pro");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->key, "gemini-2.5-pro");
  EXPECT_EQ(p->provider, "vertex_ai-language-models");
  EXPECT_EQ(keyOf("vertex_ai", "gemini-2.0-flash-001"), "gemini-2.0-flash-001");
  ASSERT_EQ(table().findKey("gemini-2.5-flash-002"), nullptr);
  EXPECT_EQ(keyOf("vertex_ai", "gemini-2.5-flash-002"), "gemini-2.5-flash");  // stable version
  EXPECT_EQ(keyOf("vertex_ai", "claude-3-5-sonnet@20240620"),
            "vertex_ai/claude-3-5-sonnet@20240620");
  EXPECT_EQ(keyOf("vertex_ai", "claude-opus-4-6@20990101"), "vertex_ai/claude-opus-4-6");
  EXPECT_EQ(keyOf("vertex_ai", "mistral-large"), "vertex_ai/mistral-large@latest");
  EXPECT_EQ(keyOf("vertex_ai", "llama3-70b-instruct-maas"),
            "vertex_ai/meta/llama3-70b-instruct-maas");
  EXPECT_EQ(keyOf("vertex_ai", "text-embedding-005"), "text-embedding-005");
  EXPECT_EQ(table().find("vertex_ai", "gpt-4o"), nullptr);
}

TEST(PriceTableFind, GeminiApiIsNotVertex) {
  const ModelPrice* p = table().find("gemini", "gemini-2.5-pro");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->key, "gemini/gemini-2.5-pro");
  EXPECT_EQ(p->provider, "gemini");
  EXPECT_EQ(keyOf("gemini", "gemini-2.5-flash"), "gemini/gemini-2.5-flash");
  EXPECT_EQ(table().find("gemini", "medlm-large"), nullptr);  // a Vertex-only model
}

TEST(PriceTableFind, OpenAiCompatibleAndNativeProviders) {
  EXPECT_EQ(keyOf("mistral", "mistral-large-latest"), "mistral/mistral-large-latest");
  EXPECT_EQ(keyOf("groq", "llama-3.3-70b-versatile"), "groq/llama-3.3-70b-versatile");
  EXPECT_EQ(keyOf("groq", "openai/gpt-oss-120b"), "groq/openai/gpt-oss-120b");
  EXPECT_EQ(keyOf("deepseek", "deepseek-chat"), "deepseek/deepseek-chat");
  EXPECT_EQ(keyOf("xai", "grok-4.3"), "xai/grok-4.3");
  EXPECT_EQ(keyOf("together_ai", "BAAI/bge-base-en-v1.5"), "together_ai/BAAI/bge-base-en-v1.5");
  EXPECT_EQ(keyOf("together_ai", "baai/bge-base-en-v1.5"), "together_ai/baai/bge-base-en-v1.5");
  EXPECT_NE(keyOf("together_ai", "Baai/BGE-base-en-v1.5"), "");  // case-insensitive fallback
  EXPECT_EQ(keyOf("cohere", "command-r"), "command-r");          // keyed as cohere_chat
  EXPECT_EQ(keyOf("cohere_chat", "command-r"), "command-r");
  EXPECT_EQ(keyOf("cohere_chat", "embed-v4.0"), "cohere/embed-v4.0");
  EXPECT_EQ(keyOf("ollama", "llama3"), "ollama/llama3");
  EXPECT_EQ(keyOf("ollama_chat", "llama3"), "ollama/llama3");
  EXPECT_EQ(keyOf("openrouter", "openai/gpt-4o"), "openrouter/openai/gpt-4o");
}

TEST(PriceTableFind, Embeddings) {
  const ModelPrice* p = table().find("openai", "text-embedding-3-small");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->mode, "embedding");
  EXPECT_DOUBLE_EQ(p->inputPerToken, 2e-08);
  EXPECT_DOUBLE_EQ(p->outputPerToken, 0);
  EXPECT_DOUBLE_EQ(costOf(*p, 1'000'000, 0), 0.02);
  EXPECT_EQ(keyOf("azure", "text-embedding-3-small"), "azure/text-embedding-3-small");
  const ModelPrice* m = table().find("mistral", "mistral-embed");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->mode, "embedding");
  EXPECT_DOUBLE_EQ(m->outputPerToken, 0);  // absent in the source: 0
}

TEST(PriceTableFind, UnknownModels) {
  EXPECT_EQ(table().find("openai", "no-such-model"), nullptr);
  EXPECT_EQ(table().find("openai", ""), nullptr);
  EXPECT_EQ(table().find("openai", "openai/"), nullptr);
  EXPECT_EQ(table().find("mock", "gpt-4o"), nullptr);  // gpt-4o belongs to openai
  EXPECT_EQ(table().find("hosted_vllm", "meta-llama/Llama-3-8B"), nullptr);
  EXPECT_EQ(table().find("bedrock", "arn:aws:bedrock:us-east-1:1:application-inference-profile/x"),
            nullptr);
  EXPECT_EQ(table().find("vertex_ai", "@"), nullptr);
  EXPECT_EQ(table().find("openai", "ft:"), nullptr);
  EXPECT_EQ(table().find("bedrock", "]"), nullptr);
  EXPECT_EQ(table().find("bedrock", ":1:2k"), nullptr);
  EXPECT_EQ(table().find("", "gpt-4o"), table().findKey("gpt-4o"));  // no provider: any family
}

TEST(ProviderMatches, LiteLlmFamiliesAndLlmuxSiblings) {
  EXPECT_TRUE(providerMatches("openai", "openai"));
  EXPECT_FALSE(providerMatches("openai", "azure"));
  EXPECT_TRUE(providerMatches("vertex_ai-anthropic_models", "vertex_ai"));
  EXPECT_FALSE(providerMatches("vertex_ai-anthropic_models", "anthropic"));
  EXPECT_TRUE(providerMatches("bedrock_converse", "bedrock"));
  EXPECT_TRUE(providerMatches("bedrock", "bedrock_converse"));
  EXPECT_TRUE(providerMatches("fireworks_ai-embedding-models", "fireworks_ai"));
  EXPECT_TRUE(providerMatches("openai", "azure_ai"));
  EXPECT_FALSE(providerMatches("gemini", "vertex_ai"));
  EXPECT_TRUE(providerMatches("text-completion-openai", "openai"));
  EXPECT_TRUE(providerMatches("cohere", "cohere_chat"));
  EXPECT_FALSE(providerMatches("cohere", "mistral"));
  EXPECT_TRUE(providerMatches("anything", ""));
  EXPECT_TRUE(providerMatches("", "openai"));
}

// ---------- cost arithmetic ----------

TEST(CostOf, PromptCompletionAndCachedTokens) {
  const ModelPrice& p = *table().find("openai", "gpt-4o");
  EXPECT_DOUBLE_EQ(costOf(p, 1000, 200), 1000 * 2.5e-06 + 200 * 1e-05);
  // 400 of the 1000 prompt tokens were cache reads, at half price.
  EXPECT_DOUBLE_EQ(costOf(p, 1000, 200, 400), 600 * 2.5e-06 + 400 * 1.25e-06 + 200 * 1e-05);
  EXPECT_DOUBLE_EQ(costOf(p, 0, 0), 0.0);
}

TEST(CostOf, AnthropicCacheWritesIncludingOneHour) {
  const ModelPrice& p = *table().find("anthropic", "claude-sonnet-4-5");
  Usage u;
  u.promptTokens = 10000;
  u.cacheReadTokens = 2000;
  u.cacheWriteTokens = 3000;
  u.cacheWrite1hTokens = 1000;
  u.completionTokens = 500;
  const double expected =
      5000 * 3e-06 + 2000 * 3e-07 + 2000 * 3.75e-06 + 1000 * 6e-06 + 500 * 1.5e-05;
  EXPECT_NEAR(costOf(p, u), expected, 1e-12);
  EXPECT_NEAR(costOf(p, 10000, 500, 2000, 3000),
              5000 * 3e-06 + 2000 * 3e-07 + 3000 * 3.75e-06 + 500 * 1.5e-05, 1e-12);
}

TEST(CostOf, LongContextTierAppliesToTheWholeRequest) {
  const ModelPrice& p = *table().find("gemini", "gemini-2.5-pro");
  EXPECT_NEAR(costOf(p, 200000, 1000), 200000 * 1.25e-06 + 1000 * 1e-05, 1e-12);  // at threshold
  EXPECT_NEAR(costOf(p, 200001, 1000, 1), 200000 * 2.5e-06 + 1 * 2.5e-07 + 1000 * 1.5e-05, 1e-12);
  // xAI bills the higher rate from the threshold itself.
  const ModelPrice& x = *table().find("xai", "grok-4.3");
  ASSERT_FALSE(x.tiers.empty());
  EXPECT_TRUE(x.tiers[0].inclusive);
  EXPECT_NEAR(costOf(x, 199999, 0), 199999 * 1.25e-06, 1e-12);
  EXPECT_NEAR(costOf(x, 200000, 0), 200000 * 2.5e-06, 1e-12);
}

TEST(CostOf, TieredTablePicksTheTierByPromptSize) {
  const ModelPrice& p = *table().findKey("dashscope/qwen3-coder-plus");
  ASSERT_EQ(p.tiers.size(), 3u);
  EXPECT_NEAR(costOf(p, 32000, 10), 32000 * 1e-06 + 10 * 5e-06, 1e-12);
  EXPECT_NEAR(costOf(p, 100000, 10), 100000 * 1.8e-06 + 10 * 9e-06, 1e-12);
  EXPECT_NEAR(costOf(p, 900000, 10), 900000 * 6e-06 + 10 * 6e-05, 1e-12);
}

TEST(CostOf, ReasoningImagesRequestsAndFallbackRates) {
  PriceTable t = parseOk(R"({
    "r": {"litellm_provider": "x", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
          "output_cost_per_reasoning_token": 5e-6, "input_cost_per_request": 0.01,
          "input_cost_per_image": 0.002},
    "plain": {"litellm_provider": "x", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
    "img": {"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_image": 0.04},
    "img2": {"litellm_provider": "x", "mode": "image_generation", "output_cost_per_image": 0.06,
             "input_cost_per_image": 0.5}
  })");
  Usage u;
  u.promptTokens = 100;
  u.completionTokens = 50;
  u.reasoningTokens = 30;
  u.inputImages = 2;
  EXPECT_NEAR(costOf(*t.findKey("r"), u), 100e-6 + 20 * 2e-6 + 30 * 5e-6 + 2 * 0.002 + 0.01, 1e-12);
  // No reasoning rate: reasoning tokens are output tokens. No cache rates: the input rate.
  u.cacheReadTokens = 40;
  u.cacheWriteTokens = 10;
  EXPECT_NEAR(costOf(*t.findKey("plain"), u), 100e-6 + 50 * 2e-6, 1e-12);
  Usage gen;
  gen.generatedImages = 3;
  EXPECT_NEAR(costOf(*t.findKey("img"), gen), 0.12, 1e-12);  // OpenAI: per generated image
  EXPECT_NEAR(costOf(*t.findKey("img2"), gen), 0.18, 1e-12);
  EXPECT_EQ(t.findKey("img")->perGeneratedImage(), 0.04);
  EXPECT_EQ(t.findKey("plain")->perGeneratedImage(), std::nullopt);
}

TEST(CostOf, OutOfRangeCountsAreClamped) {
  PriceTable t = parseOk(R"({"m": {"input_cost_per_token": 1, "output_cost_per_token": 10,
                                    "cache_read_input_token_cost": 0.5}})");
  const ModelPrice& p = *t.findKey("m");
  EXPECT_DOUBLE_EQ(costOf(p, -5, -5), 0.0);
  EXPECT_DOUBLE_EQ(costOf(p, 10, 0, 50), 10 * 0.5);         // cached capped at the prompt
  EXPECT_DOUBLE_EQ(costOf(p, 10, 0, 4, 100), 4 * 0.5 + 6);  // writes capped at the rest
  Usage u;
  u.completionTokens = 3;
  u.reasoningTokens = 99;
  EXPECT_DOUBLE_EQ(costOf(p, u), 30.0);
}

// ---------- parsing ----------

TEST(PriceTableParse, ReadsFieldsAndSkipsMetadata) {
  PriceTable t = parseOk(R"({
    "_attribution": {"source": "x"},
    "sample_spec": {"input_cost_per_token": "not a number"},
    "m": {"litellm_provider": "p", "mode": "chat", "input_cost_per_token": 2,
          "max_input_tokens": 2000000.0, "max_tokens": 77, "future_field": [1, 2],
          "tiers": [{"above": 500, "input_cost_per_token": 4},
                    {"above": 100, "output_cost_per_token": 3, "inclusive": true}]},
    "n": {"litellm_provider": "p", "max_output_tokens": 5, "max_tokens": 77}
  })");
  ASSERT_EQ(t.size(), 2u);
  const ModelPrice& m = *t.findKey("m");
  EXPECT_EQ(m.provider, "p");
  EXPECT_EQ(m.mode, "chat");
  EXPECT_EQ(m.maxInputTokens, 2000000);
  EXPECT_EQ(m.maxOutputTokens, 77);  // legacy max_tokens
  EXPECT_FALSE(m.cacheReadPerToken.has_value());
  ASSERT_EQ(m.tiers.size(), 2u);  // sorted, missing rates inherited from the base
  EXPECT_EQ(m.tiers[0].abovePromptTokens, 100);
  EXPECT_TRUE(m.tiers[0].inclusive);
  EXPECT_DOUBLE_EQ(m.tiers[0].inputPerToken, 2);
  EXPECT_DOUBLE_EQ(m.tiers[0].outputPerToken, 3);
  EXPECT_DOUBLE_EQ(m.tiers[1].inputPerToken, 4);
  EXPECT_DOUBLE_EQ(m.tiers[1].outputPerToken, 0);
  EXPECT_EQ(t.findKey("n")->maxOutputTokens, 5);  // max_output_tokens wins over max_tokens
  PriceTable zero = parseOk(R"({"z": {"max_input_tokens": 0, "max_output_tokens": 0,
                                      "max_tokens": 0}})");
  EXPECT_FALSE(zero.findKey("z")->maxInputTokens.has_value());  // 0 = unknown, not a limit
  EXPECT_FALSE(zero.findKey("z")->maxOutputTokens.has_value());
  EXPECT_EQ(t.find("p", "m"), t.findKey("m"));
  EXPECT_EQ(t.find("q", "m"), nullptr);
  EXPECT_EQ(parseOk("{}").size(), 0u);
}

TEST(PriceTableParse, RejectsBadInputNamingTheModel) {
  EXPECT_NE(parseError("").find("invalid JSON"), std::string::npos);
  EXPECT_NE(parseError("{\"m\": {").find("invalid JSON"), std::string::npos);
  EXPECT_NE(parseError("[]").find("root"), std::string::npos);
  EXPECT_NE(parseError(R"({"m": 1})").find("\"m\": must be an object"), std::string::npos);
  EXPECT_NE(parseError(R"({"m": {"input_cost_per_token": -1}})").find("input_cost_per_token"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"m": {"output_cost_per_token": "3e-7"}})").find("output_cost_per_token"),
            std::string::npos);
  parseError(R"({"m": {"cache_read_input_token_cost": true}})");
  parseError(R"({"m": {"max_input_tokens": 1.5}})");
  parseError(R"({"m": {"max_input_tokens": -3}})");
  parseError(R"({"m": {"max_output_tokens": 1e300}})");
  parseError(R"({"m": {"max_tokens": "big"}})");
  parseError(R"({"m": {"litellm_provider": 7}})");
  parseError(R"({"m": {"mode": null, "litellm_provider": ["x"]}})");
  parseError(R"({"m": {"tiers": {}}})");
  parseError(R"({"m": {"tiers": [1]}})");
  EXPECT_NE(parseError(R"({"m": {"tiers": [{"input_cost_per_token": 1}]}})").find("above"),
            std::string::npos);
  parseError(R"({"m": {"tiers": [{"above": 1, "inclusive": "yes"}]}})");
  parseError(R"({"m": {"tiers": [{"above": 1, "input_cost_per_token": -1}]}})");
  EXPECT_NE(parseError(R"({"m": {}, "m": {}})").find("twice"), std::string::npos);
  parseError(R"({"": {}})");
}

}  // namespace
}  // namespace llmux::pricing
