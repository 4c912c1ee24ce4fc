// The count_tokens fallback estimate (count_tokens.cpp documents the heuristic).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "messages_api/messages_api.hpp"

namespace llmux::messages_api {
namespace {

int64_t estimate(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element req;
  EXPECT_EQ(parser.parse(json).get(req), simdjson::SUCCESS) << json;
  return estimateInputTokens(req);
}

TEST(MessagesCountTokens, TextIsAboutFourCharactersPerToken) {
  // 3 per request + 4 per message + ceil(11 / 4) = 3
  EXPECT_EQ(estimate(R"({"model":"m","messages":[{"role":"user","content":"Hello world"}]})"), 10);
  // Code points, not bytes: "ééééééééé" is 9 characters (18 bytes) → 3 tokens.
  EXPECT_EQ(estimate(R"({"messages":[{"role":"user","content":"ééééééééé"}]})"), 10);
}

TEST(MessagesCountTokens, SystemBlocksToolsAndImages) {
  const int64_t base = estimate(R"({"messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_EQ(base, 3 + 4 + 1);
  const int64_t withSystem = estimate(
      R"({"system":[{"type":"text","text":"12345678"}],"messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_EQ(withSystem, 3 + 4 + 3);  // ceil((8 + 2) / 4)
  const int64_t withImage = estimate(
      R"({"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"u"}},{"type":"text","text":"Hi"}]}]})");
  EXPECT_EQ(withImage, base + 1600);
  const int64_t withTool = estimate(
      R"({"tools":[{"name":"abcd","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"Hi"}]})");
  // 346 for the tool prompt; "abcd" + {"type":"object"} = 4 + 17 characters; + "Hi" → 23 → 6
  EXPECT_EQ(withTool, 3 + 4 + 346 + 6);
}

TEST(MessagesCountTokens, ThinkingIsNotCountedToolTrafficIs) {
  const int64_t plain = estimate(R"({"messages":[{"role":"assistant","content":[]}]})");
  EXPECT_EQ(
      estimate(
          R"({"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"long long long","signature":"s"}]}]})"),
      plain);
  EXPECT_GT(
      estimate(
          R"({"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"result text here"}]}]}]})"),
      plain);
}

TEST(MessagesCountTokens, PdfPages) {
  // 64 KiB of decoded PDF per page: 87,384 base64 characters decode to 65,538 bytes → 2 pages.
  const std::string data(87384, 'A');
  const std::string json =
      R"({"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":")" +
      data + R"("}}]}]})";
  EXPECT_EQ(estimate(json), 3 + 4 + 4000);
}

TEST(MessagesCountTokens, MalformedPartsAreSkipped) {
  EXPECT_EQ(estimate("[]"), 3);
  EXPECT_EQ(estimate(R"({"messages":{"role":"user"},"tools":"x","system":5})"), 3);
  EXPECT_EQ(estimate(R"({"messages":[1,null,{"content":{"a":1}}]})"), 3 + 12);
}

TEST(MessagesCountTokens, Body) {
  EXPECT_EQ(countTokensBody(42), R"({"input_tokens":42})");
  EXPECT_EQ(countTokensBody(-5), R"({"input_tokens":0})");
}

}  // namespace
}  // namespace llmux::messages_api
