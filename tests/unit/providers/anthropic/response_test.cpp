// Anthropic message -> OpenAI chat.completion. Golden pairs live in
// tests/data/golden/anthropic/response/ as <name>.anthropic.json -> <name>.openai.json; set
// LLMUX_UPDATE_GOLDEN=1 to rewrite the expected files from the current output, then review the
// diff.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "providers/anthropic/anthropic.hpp"
#include "unit/golden_files.hpp"

namespace llmux::providers::anthropic {
namespace {

using llmux::testing::readFile;
using llmux::testing::updatingGolden;
using llmux::testing::writeFile;

namespace fs = std::filesystem;

constexpr std::string_view kClientModel = "claude-sonnet";
constexpr int64_t kCreated = 1767225600;
constexpr std::string_view kInputSuffix = ".anthropic.json";

fs::path goldenDir() {
  return fs::path(LLMUX_TEST_DATA) / "golden" / "anthropic" / "response";
}

std::vector<std::string> goldenNames() {
  return llmux::testing::goldenStems(goldenDir(), kInputSuffix);
}

bool isValidJson(const std::string& s) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return parser.parse(s).get(doc) == simdjson::SUCCESS;
}

std::string translate(std::string_view body, Usage* usage = nullptr) {
  auto r = toOpenAICompletion(body, kClientModel, kCreated, usage);
  if (const auto* err = std::get_if<GatewayError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << err->toJson();
    return {};
  }
  return std::get<std::string>(r);
}

GatewayError translateError(std::string_view body) {
  Usage usage;
  usage.present = true;  // must be reset on failure
  auto r = toOpenAICompletion(body, kClientModel, kCreated, &usage);
  EXPECT_FALSE(usage.present) << body;
  if (const auto* err = std::get_if<GatewayError>(&r)) return *err;
  ADD_FAILURE() << "expected an error for " << body << ", got " << std::get<std::string>(r);
  return {};
}

class AnthropicResponseGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(AnthropicResponseGolden, MatchesExpected) {
  const fs::path input = goldenDir() / (GetParam() + std::string(kInputSuffix));
  const fs::path expected = goldenDir() / (GetParam() + ".openai.json");
  const std::string actual = translate(readFile(input));
  ASSERT_FALSE(actual.empty());
  EXPECT_TRUE(isValidJson(actual)) << actual;
  // Files end with a newline so they diff and cat cleanly; the translator emits none.
  if (updatingGolden()) {
    writeFile(expected, actual + "\n");
    return;
  }
  ASSERT_TRUE(fs::exists(expected)) << expected << " missing; run with LLMUX_UPDATE_GOLDEN=1";
  EXPECT_EQ(actual + "\n", readFile(expected)) << expected;
}

INSTANTIATE_TEST_SUITE_P(Golden, AnthropicResponseGolden, ::testing::ValuesIn(goldenNames()),
                         llmux::testing::goldenParamName);

TEST(AnthropicResponseGoldenDir, CoversTheRequiredCases) {
  const auto names = goldenNames();
  for (const char* want : {"text", "tool_use_parallel", "thinking_text", "max_tokens", "refusal",
                           "cache_usage", "unknown_fields"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

TEST(AnthropicStopReason, MapsPerTable) {
  EXPECT_EQ(toOpenAIFinishReason("end_turn"), "stop");
  EXPECT_EQ(toOpenAIFinishReason("stop_sequence"), "stop");
  EXPECT_EQ(toOpenAIFinishReason("pause_turn"), "stop");
  EXPECT_EQ(toOpenAIFinishReason("max_tokens"), "length");
  EXPECT_EQ(toOpenAIFinishReason("model_context_window_exceeded"), "length");
  EXPECT_EQ(toOpenAIFinishReason("tool_use"), "tool_calls");
  EXPECT_EQ(toOpenAIFinishReason("refusal"), "content_filter");
  EXPECT_EQ(toOpenAIFinishReason("something_new"), "stop");
  EXPECT_EQ(toOpenAIFinishReason(""), "stop");
}

TEST(AnthropicResponse, UsageOutMatchesBody) {
  Usage u;
  translate(readFile(goldenDir() / "cache_usage.anthropic.json"), &u);
  EXPECT_TRUE(u.present);
  EXPECT_EQ(u.promptTokens, 412 + 2048 + 1024);
  EXPECT_EQ(u.completionTokens, 57);
  EXPECT_EQ(u.totalTokens, 412 + 2048 + 1024 + 57);
  EXPECT_EQ(u.cachedTokens, 1024);
  EXPECT_EQ(u.reasoningTokens, 0);

  translate(readFile(goldenDir() / "thinking_text.anthropic.json"), &u);
  EXPECT_EQ(u.reasoningTokens, 152);
  EXPECT_EQ(u.completionTokens, 180);
}

TEST(AnthropicResponse, NullUsageOutIsAllowed) {
  EXPECT_FALSE(translate(R"({"id":"msg_1","type":"message","content":[]})").empty());
}

TEST(AnthropicResponse, AbsentUsageIsOmitted) {
  Usage u;
  u.present = true;
  const std::string out =
      translate(R"({"id":"msg_1","type":"message","content":[],"stop_reason":null})", &u);
  EXPECT_FALSE(u.present);
  EXPECT_EQ(out.find("\"usage\""), std::string::npos) << out;
  EXPECT_NE(out.find(R"("content":null)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("finish_reason":"stop")"), std::string::npos) << out;
  EXPECT_TRUE(isValidJson(out));
}

TEST(AnthropicResponse, OddTokenCountsAreClampedNotFatal) {
  Usage u;
  translate(R"({"id":"m","content":[],"usage":{"input_tokens":-5,"output_tokens":"7",)"
            R"("cache_read_input_tokens":18446744073709551615,"cache_creation_input_tokens":2.9}})",
            &u);
  EXPECT_TRUE(u.present);
  EXPECT_EQ(u.cachedTokens, int64_t{1} << 53);
  EXPECT_EQ(u.completionTokens, 0);
  EXPECT_EQ(u.promptTokens, (int64_t{1} << 53) + 2);
}

TEST(AnthropicResponse, ToolUseStopWithoutToolBlocksIsStop) {
  const std::string out =
      translate(R"({"id":"m","type":"message","content":[],"stop_reason":"tool_use"})");
  EXPECT_NE(out.find(R"("finish_reason":"stop")"), std::string::npos) << out;
  EXPECT_EQ(out.find("tool_calls"), std::string::npos) << out;
}

TEST(AnthropicResponse, ToolUseWithoutInputGetsEmptyObject) {
  const std::string out =
      translate(R"({"id":"m","content":[{"type":"tool_use","id":"toolu_1","name":"now"}],)"
                R"("stop_reason":"tool_use"})");
  EXPECT_NE(out.find(R"("arguments":"{}")"), std::string::npos) << out;
  EXPECT_TRUE(isValidJson(out));
}

TEST(AnthropicResponse, EscapesClientModelAndText) {
  auto r = toOpenAICompletion(
      R"({"id":"msg_\"q\"","content":[{"type":"text","text":"a\u0000b\n\"c\""}]})", "m\"x", 1,
      nullptr);
  ASSERT_TRUE(std::holds_alternative<std::string>(r));
  const std::string& out = std::get<std::string>(r);
  EXPECT_TRUE(isValidJson(out)) << out;
  EXPECT_NE(out.find(R"("model":"m\"x")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("content":"a\u0000b\n\"c\"")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("id":"msg_\"q\"")"), std::string::npos) << out;
}

TEST(AnthropicResponse, MalformedBodiesAreProtocolErrors) {
  for (std::string_view body : {
           "",
           "not json",
           R"({"id":"m","content":[)",
           "[]",
           "null",
           R"({"content":[]})",                                         // no id
           R"({"id":7,"content":[]})",                                  // id not a string
           R"({"id":"m"})",                                             // no content
           R"({"id":"m","content":{}})",                                // content not an array
           R"({"id":"m","content":["hi"]})",                            // block not an object
           R"({"id":"m","content":[{"text":"hi"}]})",                   // block without type
           R"({"id":"m","content":[{"type":"text"}]})",                 // text without text
           R"({"id":"m","content":[{"type":"text","text":1}]})",        // text not a string
           R"({"id":"m","content":[{"type":"thinking"}]})",             // thinking without text
           R"({"id":"m","content":[{"type":"tool_use","id":"t"}]})",    // tool_use without name
           R"({"id":"m","content":[{"type":"tool_use","name":"n"}]})",  // tool_use without id
           R"({"type":"error","error":{"type":"api_error","message":"boom"}})",
           R"({"type":7,"id":"m","content":[]})",
       }) {
    const GatewayError err = translateError(body);
    EXPECT_EQ(err.status, 502) << body;
    EXPECT_EQ(err.code, "upstream_protocol_error") << body;
    EXPECT_TRUE(isValidJson(err.toJson())) << body;
  }
}

}  // namespace
}  // namespace llmux::providers::anthropic
