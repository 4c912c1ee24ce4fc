// Embeddings adapters: the shared golden suites over tests/data/golden/embeddings_<provider>/
// (response goldens render floats: the driver runs with base64=false; the base64 path is checked in
// embeddings_test.cpp), plus shape checks over every golden case. LLMUX_UPDATE_GOLDEN=1 rewrites
// the expected files; review every diff.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "providers/embeddings/embeddings.hpp"
#include "unit/adapter_golden.hpp"

namespace llmux::providers::embeddings {

LLMUX_ADAPTER_GOLDEN_TESTS(EmbeddingsGemini, geminiAdapter(), "embeddings_gemini")

LLMUX_ADAPTER_GOLDEN_TESTS(EmbeddingsVertex, vertexAdapter(), "embeddings_vertex_ai")

LLMUX_ADAPTER_GOLDEN_TESTS(EmbeddingsBedrockTitan, bedrockTitanAdapter(),
                           "embeddings_bedrock_titan")

LLMUX_ADAPTER_GOLDEN_TESTS(EmbeddingsBedrockCohere, bedrockCohereAdapter(),
                           "embeddings_bedrock_cohere")

LLMUX_ADAPTER_GOLDEN_TESTS(EmbeddingsCohere, cohereAdapter(), "embeddings_cohere")

LLMUX_ADAPTER_GOLDEN_TESTS(EmbeddingsOllama, ollamaAdapter(), "embeddings_ollama")

namespace {

namespace gd = ::llmux::testing::golden_detail;

// Every request body the translators build is one JSON object, and every translated response is
// one JSON object of OpenAI's shape.
struct Dir {
  const providers::Adapter& adapter;
  std::string_view name;
};

TEST(EmbeddingsGolden, BodiesAreJson) {
  const Dir dirs[] = {{geminiAdapter(), "embeddings_gemini"},
                      {vertexAdapter(), "embeddings_vertex_ai"},
                      {bedrockTitanAdapter(), "embeddings_bedrock_titan"},
                      {bedrockCohereAdapter(), "embeddings_bedrock_cohere"},
                      {cohereAdapter(), "embeddings_cohere"},
                      {ollamaAdapter(), "embeddings_ollama"}};
  size_t checked = 0;
  for (const Dir& d : dirs) {
    const auto dir = gd::dirOf(d.name, "request");
    for (const std::string& stem : gd::inputStems(dir, {".json"})) {
      const std::string text = gd::runRequest(d.adapter, dir, stem);
      if (text.starts_with("ERROR")) continue;
      const size_t body = text.find("\n\n");
      ASSERT_NE(body, std::string::npos) << stem;
      simdjson::dom::parser p;
      simdjson::dom::element doc;
      EXPECT_EQ(p.parse(text.substr(body + 2)).get(doc), simdjson::SUCCESS) << d.name << stem;
      EXPECT_TRUE(doc.is_object()) << d.name << "/" << stem;
      ++checked;
    }
  }
  EXPECT_GT(checked, 20u);
}

TEST(EmbeddingsGolden, ResponsesAreOpenAIShaped) {
  const Dir dirs[] = {{geminiAdapter(), "embeddings_gemini"},
                      {vertexAdapter(), "embeddings_vertex_ai"},
                      {bedrockTitanAdapter(), "embeddings_bedrock_titan"},
                      {bedrockCohereAdapter(), "embeddings_bedrock_cohere"},
                      {cohereAdapter(), "embeddings_cohere"},
                      {ollamaAdapter(), "embeddings_ollama"}};
  size_t checked = 0;
  for (const Dir& d : dirs) {
    const auto dir = gd::dirOf(d.name, "response");
    for (const std::string& stem : gd::inputStems(dir, {".json"})) {
      const std::string text =
          gd::runResponse(d.adapter, ::llmux::testing::readFile(dir / (stem + ".json")));
      if (text.starts_with("ERROR")) continue;
      const std::string body = text.substr(0, text.find("\n#-- "));
      simdjson::dom::parser p;
      simdjson::dom::element doc;
      ASSERT_EQ(p.parse(body).get(doc), simdjson::SUCCESS) << d.name << "/" << stem;
      std::string_view object;
      EXPECT_EQ(doc["object"].get(object), simdjson::SUCCESS);
      EXPECT_EQ(object, "list");
      simdjson::dom::array data;
      ASSERT_EQ(doc["data"].get(data), simdjson::SUCCESS);
      int64_t expectIndex = 0;
      for (simdjson::dom::element item : data) {
        int64_t index = -1;
        EXPECT_EQ(item["index"].get(index), simdjson::SUCCESS);
        EXPECT_EQ(index, expectIndex++);
        EXPECT_TRUE(item["embedding"].is_array());
      }
      int64_t prompt = -1;
      int64_t total = -1;
      EXPECT_EQ(doc["usage"]["prompt_tokens"].get(prompt), simdjson::SUCCESS);
      EXPECT_EQ(doc["usage"]["total_tokens"].get(total), simdjson::SUCCESS);
      EXPECT_EQ(prompt, total);
      ++checked;
    }
  }
  EXPECT_GT(checked, 10u);
}

}  // namespace

}  // namespace llmux::providers::embeddings
