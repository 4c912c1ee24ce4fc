// Anthropic Messages request → OpenAI chat request. Golden cases in
// tests/data/golden/messages_api/request/ (see messages_golden.hpp for the layout).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "messages_api/messages_api.hpp"
#include "unit/messages_api/messages_golden.hpp"

namespace llmux::messages_api {
namespace {

using testing::caseStems;
using testing::compareOrUpdate;
using testing::goldenDir;

std::string render(std::string_view input) {
  simdjson::dom::parser parser;
  simdjson::dom::element req;
  if (parser.parse(input).get(req) != simdjson::SUCCESS) return "input is not JSON\n";
  std::string out = "stale";
  RequestInfo info;
  if (auto err = toOpenAIRequest(req, out, info)) {
    EXPECT_TRUE(out.empty());
    return "ERROR " + std::to_string(anthropicStatus(*err)) +
           " param=" + err->param.value_or("null") + "\n" + toAnthropicError(*err) + "\n";
  }
  // The body must be JSON the engine's chat request parser accepts.
  simdjson::dom::parser check;
  simdjson::dom::element doc;
  EXPECT_EQ(check.parse(out).get(doc), simdjson::SUCCESS) << out;
  return "info model=" + info.model + " stream=" + (info.stream ? "true" : "false") +
         " thinking=" + (info.thinking ? "true" : "false") +
         " budget=" + std::to_string(info.thinkingBudget) +
         " suppressed=" + (info.thinkingSuppressed ? "true" : "false") +
         " max_tokens=" + std::to_string(info.maxTokens) +
         " dropped_thinking=" + std::to_string(info.droppedThinkingBlocks) + "\n" + out + "\n";
}

class RequestGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(RequestGolden, Matches) {
  const auto dir = goldenDir("request");
  const std::string input = llmux::testing::readFile(dir / (GetParam() + ".json"));
  compareOrUpdate(dir / (GetParam() + ".expected.txt"), render(input));
}

INSTANTIATE_TEST_SUITE_P(MessagesApi, RequestGolden,
                         ::testing::ValuesIn(caseStems("request", ".json")),
                         llmux::testing::goldenParamName);

TEST(MessagesRequest, KeepsIdFallbackSetBeforeTranslation) {
  simdjson::dom::parser parser;
  simdjson::dom::element req;
  ASSERT_EQ(parser
                .parse(std::string_view(
                    R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})"))
                .get(req),
            simdjson::SUCCESS);
  RequestInfo info;
  info.idFallback = "req_123";
  info.thinking = true;  // stale state from an earlier use is reset
  std::string out;
  ASSERT_FALSE(toOpenAIRequest(req, out, info));
  EXPECT_EQ(info.idFallback, "req_123");
  EXPECT_FALSE(info.thinking);
  EXPECT_EQ(out, R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5})");
}

TEST(MessagesRequest, EffortThresholds) {
  EXPECT_EQ(effortForBudget(1024), "low");
  EXPECT_EQ(effortForBudget(2047), "low");
  EXPECT_EQ(effortForBudget(2048), "medium");
  EXPECT_EQ(effortForBudget(4095), "medium");
  EXPECT_EQ(effortForBudget(4096), "high");
  EXPECT_EQ(effortForBudget(31999), "high");
}

// Every JSON value in every position gives either a body that is JSON or an error; never a crash.
TEST(MessagesRequest, OddValuesNeverCrash) {
  const std::string_view values[] = {"null",
                                     "0",
                                     "-1",
                                     "1.5",
                                     "true",
                                     "\"x\"",
                                     "[]",
                                     "{}",
                                     "[null]",
                                     "[{}]",
                                     "{\"type\":\"text\"}",
                                     "18446744073709551615"};
  const std::string_view templates[] = {
      R"({"model":"m","max_tokens":5,"messages":@})",
      R"({"model":"m","max_tokens":@,"messages":[{"role":"user","content":"a"}]})",
      R"({"model":@,"max_tokens":5,"messages":[{"role":"user","content":"a"}]})",
      R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":@}]})",
      R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[@]}]})",
      R"({"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[@]}]})",
      R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":@}]}]})",
      R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":@}]}]})",
      R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"content","content":@}}]}]})",
      R"({"model":"m","max_tokens":5,"system":@,"messages":[{"role":"user","content":"a"}]})",
      R"({"model":"m","max_tokens":5,"tools":@,"messages":[{"role":"user","content":"a"}]})",
      R"({"model":"m","max_tokens":5,"tools":[{"name":"t","input_schema":{}}],"tool_choice":@,"messages":[{"role":"user","content":"a"}]})",
      R"({"model":"m","max_tokens":5,"thinking":@,"messages":[{"role":"user","content":"a"}]})",
      R"({"model":"m","max_tokens":5,"output_config":@,"messages":[{"role":"user","content":"a"}]})",
      R"({"model":"m","max_tokens":5,"stop_sequences":@,"temperature":@,"metadata":@,"messages":[{"role":"user","content":"a"}]})",
  };
  simdjson::dom::parser parser, check;
  for (std::string_view tmpl : templates) {
    for (std::string_view v : values) {
      std::string body(tmpl);
      for (size_t p; (p = body.find('@')) != std::string::npos;) body.replace(p, 1, v);
      simdjson::dom::element req;
      ASSERT_EQ(parser.parse(body).get(req), simdjson::SUCCESS) << body;
      std::string out;
      RequestInfo info;
      if (auto err = toOpenAIRequest(req, out, info)) {
        EXPECT_EQ(err->status, 400) << body;
        EXPECT_TRUE(err->param.has_value()) << body;
        simdjson::dom::element e;
        EXPECT_EQ(check.parse(toAnthropicError(*err)).get(e), simdjson::SUCCESS);
      } else {
        simdjson::dom::element doc;
        EXPECT_EQ(check.parse(out).get(doc), simdjson::SUCCESS) << body << "\n" << out;
      }
    }
  }
}

}  // namespace
}  // namespace llmux::messages_api
