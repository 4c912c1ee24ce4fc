// OpenAI chat.completion → Anthropic Message. Golden cases in
// tests/data/golden/messages_api/response/ (see messages_golden.hpp for the layout).
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
using testing::infoFor;

class ResponseGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ResponseGolden, Matches) {
  const auto dir = goldenDir("response");
  const std::string body = llmux::testing::readFile(dir / (GetParam() + ".json"));
  const RequestInfo info = infoFor(dir, GetParam());
  simdjson::dom::parser parser;
  std::string out = "stale";
  std::string rendered;
  if (auto err = fromOpenAIResponse(body, info, parser, out)) {
    EXPECT_TRUE(out.empty());
    rendered =
        "ERROR " + std::to_string(anthropicStatus(*err)) + "\n" + toAnthropicError(*err) + "\n";
  } else {
    simdjson::dom::parser check;
    simdjson::dom::element doc;
    EXPECT_EQ(check.parse(out).get(doc), simdjson::SUCCESS) << out;
    rendered = out + "\n";
  }
  compareOrUpdate(dir / (GetParam() + ".expected.txt"), rendered);
}

INSTANTIATE_TEST_SUITE_P(MessagesApi, ResponseGolden,
                         ::testing::ValuesIn(caseStems("response", ".json")),
                         llmux::testing::goldenParamName);

TEST(MessagesResponse, StopReasons) {
  EXPECT_EQ(stopReasonFor("stop", false), "end_turn");
  EXPECT_EQ(stopReasonFor("stop", true), "tool_use");
  EXPECT_EQ(stopReasonFor("", false), "end_turn");
  EXPECT_EQ(stopReasonFor("length", true), "max_tokens");
  EXPECT_EQ(stopReasonFor("tool_calls", false), "tool_use");
  EXPECT_EQ(stopReasonFor("function_call", false), "tool_use");
  EXPECT_EQ(stopReasonFor("content_filter", false), "refusal");
  EXPECT_EQ(stopReasonFor("something_new", false), "end_turn");
}

TEST(MessagesResponse, ParserIsReusable) {
  simdjson::dom::parser parser;
  RequestInfo info;
  info.model = "m";
  std::string out;
  const std::string_view body =
      R"({"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}]})";
  ASSERT_FALSE(fromOpenAIResponse(body, info, parser, out));
  const std::string first = out;
  ASSERT_FALSE(fromOpenAIResponse(body, info, parser, out));
  EXPECT_EQ(out, first);
}

}  // namespace
}  // namespace llmux::messages_api
