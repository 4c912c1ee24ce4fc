// Golden files under tests/data/golden/cohere/ (layout in tests/unit/adapter_golden.hpp), plus a
// few focused checks of behaviour the golden driver does not cover. LLMUX_UPDATE_GOLDEN=1 rewrites
// the expected files; review the diff.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "providers/cohere/cohere.hpp"
#include "unit/adapter_golden.hpp"

namespace llmux::providers::cohere {

LLMUX_ADAPTER_GOLDEN_TESTS(Cohere, adapter(), "cohere")

namespace {

ResponseOptions streamOptions(bool includeUsage) {
  return ResponseOptions{"client-model", "chatcmpl-unit", 1767225600, includeUsage};
}

constexpr std::string_view kShortStream =
    "event: message-start\n"
    "data: "
    "{\"id\":\"m1\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\"}}}"
    "\n\n"
    "event: content-delta\n"
    "data: "
    "{\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"Hi\"}}"
    "}}\n\n"
    "event: message-end\n"
    "data: "
    "{\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\",\"usage\":{\"tokens\":"
    "{\"input_tokens\":3,\"output_tokens\":1}}}}\n\n";

TEST(CohereAdapter, NameAndIdentity) {
  EXPECT_EQ(adapter().name, "cohere");
  EXPECT_EQ(&adapter(), &adapter());
}

TEST(CohereStream, NothingAfterDone) {
  auto dec = makeStreamDecoder(streamOptions(true));
  std::string out;
  ASSERT_EQ(dec->feed(kShortStream, out), StreamStatus::Done);
  const std::string done = out;
  EXPECT_TRUE(done.ends_with("data: [DONE]\n\n"));
  EXPECT_EQ(dec->feed(kShortStream, out), StreamStatus::Done);
  EXPECT_EQ(dec->finish(out), StreamStatus::Done);
  EXPECT_EQ(out, done);
  const Usage u = dec->usage();
  EXPECT_TRUE(u.present);
  EXPECT_EQ(u.promptTokens, 3);
  EXPECT_EQ(u.completionTokens, 1);
  EXPECT_EQ(u.totalTokens, 4);
}

TEST(CohereStream, EndWithoutMessageEndFailsSilently) {
  auto dec = makeStreamDecoder(streamOptions(false));
  std::string out;
  const std::string_view head = kShortStream.substr(0, kShortStream.find("event: message-end"));
  ASSERT_EQ(dec->feed(head, out), StreamStatus::Continue);
  const std::string before = out;
  EXPECT_EQ(dec->finish(out), StreamStatus::Failed);
  EXPECT_EQ(out, before);
  EXPECT_FALSE(dec->usage().present);
  EXPECT_EQ(dec->feed(kShortStream, out), StreamStatus::Failed);
  EXPECT_EQ(out, before);
}

TEST(CohereStream, OversizedEventFails) {
  auto dec = makeStreamDecoder(streamOptions(false));
  std::string out;
  std::string big = R"(data: {"type":"content-delta","x":")";
  big.append((size_t{8} << 20) + 16, 'a');
  EXPECT_EQ(dec->feed(big, out), StreamStatus::Failed);
  EXPECT_TRUE(out.starts_with("data: {\"error\":")) << out.substr(0, 200);
  EXPECT_TRUE(out.ends_with("\n\n"));
}

TEST(CohereErrors, RetryAfterIsCarried) {
  const GatewayError e =
      mapError(429, R"({"message":"You are past the per minute request limit"})", 7);
  EXPECT_EQ(e.status, 429);
  ASSERT_TRUE(e.retryAfterSeconds.has_value());
  EXPECT_EQ(*e.retryAfterSeconds, 7);
  EXPECT_TRUE(e.retryable);
}

TEST(CohereRequest, NotAnObject) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(std::string_view("[1,2]")).get(doc), simdjson::SUCCESS);
  UpstreamCall call;
  RequestOptions opts;
  const auto err = buildRequest(doc, opts, call);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->status, 400);
}

TEST(CohereUsage, BilledUnitsFallbackAndCachedClamp) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(
      parser
          .parse(std::string_view(
              R"({"billed_units":{"input_tokens":10,"output_tokens":-4},"cached_tokens":99})"))
          .get(doc),
      simdjson::SUCCESS);
  const Usage u = readUsage(doc);
  EXPECT_TRUE(u.present);
  EXPECT_EQ(u.promptTokens, 10);
  EXPECT_EQ(u.completionTokens, 0);
  EXPECT_EQ(u.cachedTokens, 10);
  EXPECT_EQ(u.totalTokens, 10);
}

TEST(CohereFinish, Classification) {
  EXPECT_EQ(classifyFinishReason("COMPLETE"), Finish::Stop);
  EXPECT_EQ(classifyFinishReason("STOP_SEQUENCE"), Finish::Stop);
  EXPECT_EQ(classifyFinishReason("MAX_TOKENS"), Finish::Length);
  EXPECT_EQ(classifyFinishReason("TOOL_CALL"), Finish::ToolCalls);
  EXPECT_EQ(classifyFinishReason("ERROR"), Finish::Error);
  EXPECT_EQ(classifyFinishReason("TIMEOUT"), Finish::Timeout);
  EXPECT_EQ(classifyFinishReason("SOMETHING_NEW"), Finish::Stop);
  EXPECT_EQ(openAIFinishReason(Finish::Length), "length");
}

}  // namespace
}  // namespace llmux::providers::cohere
