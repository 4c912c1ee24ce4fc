#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "providers/mock/mock.hpp"
#include "providers/openai/openai.hpp"

namespace llmux::providers::mock {
namespace {

types::ChatRequest requestWith(std::optional<std::string> mockResponse, std::string lastUser) {
  types::ChatRequest req;
  req.mockResponse = std::move(mockResponse);
  req.lastUserText = std::move(lastUser);
  req.messageCount = 1;
  return req;
}

MockReply reply(std::string content, int64_t prompt = 3, int64_t completion = 2) {
  return MockReply{std::move(content), prompt, completion};
}

// The JSON of one SSE event "data: <json>\n\n".
simdjson::dom::element parseEvent(simdjson::dom::parser& parser, const std::string& event) {
  EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
  EXPECT_GE(event.size(), 8u);
  EXPECT_EQ(event.substr(event.size() - 2), "\n\n");
  const std::string json = event.substr(6, event.size() - 8);
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  return doc;
}

TEST(MockProvider, ReplyPrecedence) {
  const std::optional<std::string> deployment = "from config";
  EXPECT_EQ(makeReply(requestWith("from request", "hi"), deployment, 10).content, "from request");
  EXPECT_EQ(makeReply(requestWith(std::nullopt, "hi"), deployment, 10).content, "from config");
  EXPECT_EQ(makeReply(requestWith(std::nullopt, "hi there"), std::nullopt, 10).content, "hi there");
  EXPECT_EQ(makeReply(requestWith("", "hi"), deployment, 10).content, "");
}

TEST(MockProvider, TokenEstimate) {
  const MockReply r = makeReply(requestWith("12345", ""), std::nullopt, 9);
  EXPECT_EQ(r.promptTokens, 3);      // ceil(9 / 4)
  EXPECT_EQ(r.completionTokens, 2);  // ceil(5 / 4)
  const MockReply empty = makeReply(requestWith("", ""), std::nullopt, 0);
  EXPECT_EQ(empty.promptTokens, 1);
  EXPECT_EQ(empty.completionTokens, 1);
  EXPECT_EQ(makeReply(requestWith("1234", ""), std::nullopt, 8).completionTokens, 1);
}

TEST(MockProvider, InvalidUtf8InConfiguredReplyIsReplaced) {
  const MockReply r = makeReply(requestWith(std::nullopt, ""), "ok \xFF\xC3", 1);
  EXPECT_EQ(r.content, "ok \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(MockProvider, CompletionBodyExactShape) {
  EXPECT_EQ(completionBody(reply("Hello!", 9, 2), "gpt-4o-mini", "chatcmpl-mock1", 1767225600),
            R"({"id":"chatcmpl-mock1","object":"chat.completion","created":1767225600,)"
            R"("model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant",)"
            R"("content":"Hello!","refusal":null},"logprobs":null,"finish_reason":"stop"}],)"
            R"("usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,)"
            R"("prompt_tokens_details":{"cached_tokens":0},)"
            R"("completion_tokens_details":{"reasoning_tokens":0}},)"
            R"("system_fingerprint":"fp_llmux_mock"})");
}

TEST(MockProvider, CompletionBodyEscapesContent) {
  const std::string content =
      "say \"hi\"\n\ttab \\ ctrl\x01 caf\xC3\xA9 \xF0\x9F\x98\x80 </script>";
  const std::string body = completionBody(reply(content), "m\"odel", "id\n", 1);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS) << body;
  std::string_view got;
  ASSERT_EQ(doc["choices"].at(0)["message"]["content"].get_string().get(got), simdjson::SUCCESS);
  EXPECT_EQ(got, content);
  EXPECT_EQ(doc["model"].get_string().value(), "m\"odel");
  EXPECT_EQ(doc["id"].get_string().value(), "id\n");
  EXPECT_EQ(doc["usage"]["total_tokens"].get_int64().value(), 5);
  std::string usageBody = body;
  const auto usage = openai::parseResponseUsage(usageBody);
  EXPECT_TRUE(usage.present);
  EXPECT_EQ(usage.promptTokens, 3);
  EXPECT_EQ(usage.completionTokens, 2);
}

TEST(MockProvider, StreamEventsExactShape) {
  const auto events = streamEvents(reply("Hi there", 9, 3), "gpt-4o-mini", "chatcmpl-1", 7, true);
  const std::string head =
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"gpt-4o-mini",)"
      R"("system_fingerprint":"fp_llmux_mock","choices":)";
  const std::vector<std::string> want = {
      head +
          R"([{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,)"
          R"("finish_reason":null}],"usage":null})" +
          "\n\n",
      head +
          R"([{"index":0,"delta":{"content":"Hi "},"logprobs":null,"finish_reason":null}],)"
          R"("usage":null})" +
          "\n\n",
      head +
          R"([{"index":0,"delta":{"content":"there"},"logprobs":null,"finish_reason":null}],)"
          R"("usage":null})" +
          "\n\n",
      head + R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})" +
          "\n\n",
      head +
          R"([],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,)"
          R"("prompt_tokens_details":{"cached_tokens":0},)"
          R"("completion_tokens_details":{"reasoning_tokens":0}}})" +
          "\n\n",
      "data: [DONE]\n\n"};
  EXPECT_EQ(events, want);
}

TEST(MockProvider, StreamWithoutUsageHasNoUsageKey) {
  const auto events = streamEvents(reply("a b"), "m", "id", 1, false);
  ASSERT_EQ(events.size(), 5u);  // role, "a ", "b", finish, [DONE]
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(events[i].find("usage"), std::string::npos) << events[i];
  }
  EXPECT_EQ(events.back(), "data: [DONE]\n\n");
}

TEST(MockProvider, EmptyReplyStillHasRoleAndFinish) {
  const auto events = streamEvents(reply(""), "m", "id", 1, false);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_NE(events[0].find(R"("delta":{"role":"assistant","content":""})"), std::string::npos);
  EXPECT_NE(events[1].find(R"("finish_reason":"stop")"), std::string::npos);
  EXPECT_EQ(streamEvents(reply(""), "m", "id", 1, true).size(), 4u);
}

// Deltas concatenate back to the reply; every event is valid JSON and classifies as expected.
TEST(MockProvider, StreamRoundTrip) {
  const std::vector<std::string> contents = {"one",
                                             "  leading and trailing  ",
                                             "multi\nline\r\n\ttext",
                                             "quotes \"x\" \\ y",
                                             "ctrl \x01\x1f",
                                             "emoji \xF0\x9F\x98\x80 caf\xC3\xA9 模型 text",
                                             "a  b   c\n\n"};
  for (const auto& content : contents) {
    for (bool includeUsage : {false, true}) {
      const auto events =
          streamEvents(reply(content, 4, 5), "model", "chatcmpl-x", 42, includeUsage);
      simdjson::dom::parser parser;
      std::string joined;
      size_t deltas = 0;
      for (size_t i = 0; i + 1 < events.size(); ++i) {
        const auto doc = parseEvent(parser, events[i]);
        EXPECT_EQ(doc["object"].get_string().value(), "chat.completion.chunk");
        EXPECT_EQ(doc["id"].get_string().value(), "chatcmpl-x");
        simdjson::dom::element usage;
        EXPECT_EQ(doc["usage"].get(usage) == simdjson::SUCCESS, includeUsage) << events[i];
        const auto info =
            openai::inspectStreamChunk(std::string_view(events[i]).substr(6, events[i].size() - 8));
        simdjson::dom::array choices = doc["choices"].get_array().value();
        if (choices.size() == 0) {
          EXPECT_EQ(info.kind, openai::ChunkKind::UsageOnly);
          EXPECT_EQ(info.usage.totalTokens, 9);
          continue;
        }
        EXPECT_EQ(info.kind, openai::ChunkKind::Content);
        EXPECT_FALSE(info.usage.present);
        std::string_view piece;
        if (choices.at(0)["delta"]["content"].get_string().get(piece) == simdjson::SUCCESS &&
            !piece.empty()) {
          joined += piece;
          ++deltas;
        }
      }
      EXPECT_EQ(joined, content);
      EXPECT_GE(deltas, 1u);
      EXPECT_EQ(openai::inspectStreamChunk(
                    std::string_view(events.back()).substr(6, events.back().size() - 8))
                    .kind,
                openai::ChunkKind::Done);
    }
  }
}

TEST(MockProvider, WordSizedDeltas) {
  const auto events = streamEvents(reply("  The quick\tbrown  fox\n"), "m", "id", 1, false);
  std::vector<std::string> pieces;
  simdjson::dom::parser parser;
  for (size_t i = 1; i + 2 < events.size(); ++i) {
    const auto doc = parseEvent(parser, events[i]);
    pieces.emplace_back(doc["choices"].at(0)["delta"]["content"].get_string().value());
  }
  EXPECT_EQ(pieces, (std::vector<std::string>{"  ", "The ", "quick\t", "brown  ", "fox\n"}));
}

}  // namespace
}  // namespace llmux::providers::mock
