// Anthropic → OpenAI stream translation. Golden pairs live in tests/data/golden/anthropic/stream/:
// <name>.sse (upstream bytes) → <name>.openai.sse (client bytes); names ending in "_nousage" run
// without stream_options.include_usage. Set LLMUX_UPDATE_GOLDEN=1 to rewrite the expected files,
// then review the diff.
#include "providers/anthropic/stream.hpp"
#include "unit/golden_files.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "providers/common/sse_parser.hpp"

namespace llmux::providers::anthropic {
namespace {

using llmux::testing::readFile;
using llmux::testing::updatingGolden;
using llmux::testing::writeFile;

namespace fs = std::filesystem;

constexpr std::string_view kModel = "claude-client-alias";
constexpr std::string_view kId = "chatcmpl-test1";
constexpr int64_t kCreated = 1767225600;

fs::path goldenDir() {
  return fs::path(LLMUX_TEST_DATA) / "golden" / "anthropic" / "stream";
}

struct Result {
  std::string out;
  bool finished = false;
  bool failed = false;  // some onEvent returned false
};

// Feeds `input` through SseParser in pieces cut at `cuts` (ascending offsets), like a socket would.
Result translate(std::string_view input, const std::vector<size_t>& cuts, bool includeUsage) {
  StreamTranslator t(std::string(kModel), std::string(kId), kCreated, includeUsage);
  SseParser parser;
  Result r;
  auto onEvent = [&](const SseEvent& ev) {
    if (!t.onEvent(ev.event, ev.data, r.out)) r.failed = true;
  };
  size_t pos = 0;
  for (size_t cut : cuts) {
    EXPECT_TRUE(parser.feed(input.substr(pos, cut - pos), onEvent));
    pos = cut;
  }
  EXPECT_TRUE(parser.feed(input.substr(pos), onEvent));
  r.finished = t.finish(r.out);
  return r;
}

std::vector<std::string_view> splitEvents(std::string_view out) {
  std::vector<std::string_view> events;
  while (!out.empty()) {
    const size_t end = out.find("\n\n");
    EXPECT_NE(end, std::string_view::npos) << "unterminated event: " << out;
    if (end == std::string_view::npos) break;
    events.push_back(out.substr(0, end));
    out.remove_prefix(end + 2);
  }
  return events;
}

// Every event is one `data:` line holding a JSON object or the [DONE] sentinel.
void expectWellFormed(std::string_view out) {
  simdjson::dom::parser parser;
  for (std::string_view ev : splitEvents(out)) {
    ASSERT_TRUE(ev.starts_with("data: ")) << ev;
    const std::string_view payload = ev.substr(6);
    EXPECT_EQ(payload.find('\n'), std::string_view::npos) << ev;
    if (payload == "[DONE]") continue;
    simdjson::dom::element doc;
    EXPECT_EQ(parser.parse(payload).get(doc), simdjson::SUCCESS) << payload;
    EXPECT_TRUE(doc.is_object()) << payload;
  }
}

class GoldenStream : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenStream, MatchesExpected) {
  const std::string name = GetParam();
  const bool includeUsage = !std::string_view(name).ends_with("_nousage");
  const std::string input = readFile(goldenDir() / (name + ".sse"));
  ASSERT_FALSE(input.empty()) << "missing " << name << ".sse";
  const fs::path expectedPath = goldenDir() / (name + ".openai.sse");

  const Result whole = translate(input, {}, includeUsage);
  if (updatingGolden()) {
    writeFile(expectedPath, whole.out);
  }
  const std::string expected = readFile(expectedPath);
  EXPECT_EQ(whole.out, expected);
  expectWellFormed(whole.out);
  // finish() succeeds exactly when the stream completed; then [DONE] is the last event.
  EXPECT_EQ(whole.finished, whole.out.ends_with("data: [DONE]\n\n"));
  if (whole.failed) EXPECT_TRUE(whole.out.find(R"(data: {"error":)") != std::string::npos);

  for (size_t i = 1; i < input.size(); ++i) {
    const Result split = translate(input, {i}, includeUsage);
    ASSERT_EQ(split.out, whole.out) << "split at byte " << i;
    ASSERT_EQ(split.finished, whole.finished);
  }
  std::vector<size_t> everyByte;
  for (size_t i = 1; i < input.size(); ++i) everyByte.push_back(i);
  EXPECT_EQ(translate(input, everyByte, includeUsage).out, whole.out);
}

INSTANTIATE_TEST_SUITE_P(Anthropic, GoldenStream,
                         ::testing::Values("text", "text_nousage", "tools", "thinking",
                                           "max_tokens", "overloaded_error", "truncated"));

// Helpers for hand-written event sequences.
std::string messageStart(std::string_view usage) {
  return std::string(R"({"type":"message_start","message":{"id":"m","content":[],"usage":)") +
         std::string(usage) + "}}";
}

std::string messageDelta(std::string_view reason, std::string_view usage) {
  return std::string(R"({"type":"message_delta","delta":{"stop_reason":)") + std::string(reason) +
         R"(},"usage":)" + std::string(usage) + "}";
}

TEST(AnthropicStream, StopReasonMapping) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {R"("end_turn")", R"("finish_reason":"stop")"},
      {R"("stop_sequence")", R"("finish_reason":"stop")"},
      {R"("pause_turn")", R"("finish_reason":"stop")"},
      {R"("max_tokens")", R"("finish_reason":"length")"},
      {R"("model_context_window_exceeded")", R"("finish_reason":"length")"},
      {R"("tool_use")", R"("finish_reason":"tool_calls")"},
      {R"("refusal")", R"("finish_reason":"content_filter")"},
      {R"("something_new")", R"("finish_reason":"stop")"},
  };
  for (const auto& [reason, expected] : cases) {
    StreamTranslator t("m", "id", 1, false);
    std::string out;
    ASSERT_TRUE(t.onEvent("message_start", messageStart(R"({"input_tokens":1})"), out));
    out.clear();
    ASSERT_TRUE(t.onEvent("message_delta", messageDelta(reason, R"({"output_tokens":2})"), out));
    EXPECT_NE(out.find(expected), std::string::npos) << reason << " → " << out;
    EXPECT_NE(out.find(R"("delta":{})"), std::string::npos);
  }
}

TEST(AnthropicStream, UsageIsCumulativeAndIncludesCache) {
  StreamTranslator t("m", "id", 1, true);
  std::string out;
  t.onEvent("message_start",
            messageStart(R"({"input_tokens":10,"cache_creation_input_tokens":5,)"
                         R"("cache_read_input_tokens":100,"output_tokens":1})"),
            out);
  EXPECT_EQ(t.promptTokens(), 115);
  EXPECT_EQ(t.completionTokens(), 1);
  t.onEvent("message_delta", messageDelta("null", R"({"output_tokens":20})"), out);
  t.onEvent("message_delta", messageDelta(R"("end_turn")", R"({"output_tokens":30})"), out);
  EXPECT_EQ(t.completionTokens(), 30);  // assigned, not 1+20+30
  t.onEvent("message_stop", R"({"type":"message_stop"})", out);
  out.clear();
  ASSERT_TRUE(t.finish(out));
  EXPECT_NE(out.find(R"("choices":[],"usage":{"prompt_tokens":115,"completion_tokens":30,)"
                     R"("total_tokens":145,"prompt_tokens_details":{"cached_tokens":100})"),
            std::string::npos)
      << out;
  EXPECT_TRUE(out.ends_with("data: [DONE]\n\n"));
  std::string again;
  EXPECT_FALSE(t.finish(again));
  EXPECT_TRUE(again.empty());
}

TEST(AnthropicStream, HostileTokenCountsAreClamped) {
  StreamTranslator t("m", "id", 1, true);
  std::string out;
  t.onEvent("message_start",
            messageStart(R"({"input_tokens":-5,"cache_creation_input_tokens":1e300,)"
                         R"("cache_read_input_tokens":18446744073709551615,"output_tokens":"x"})"),
            out);
  EXPECT_EQ(t.promptTokens(), (int64_t{1} << 53) * 2);
  EXPECT_EQ(t.completionTokens(), 0);
}

TEST(AnthropicStream, NoMessageStopMeansNoFinish) {
  StreamTranslator t("m", "id", 1, true);
  std::string out;
  t.onEvent("message_start", messageStart(R"({"input_tokens":1})"), out);
  t.onEvent("message_delta", messageDelta(R"("end_turn")", R"({"output_tokens":2})"), out);
  const size_t before = out.size();
  EXPECT_FALSE(t.finish(out));
  EXPECT_EQ(out.size(), before);
}

TEST(AnthropicStream, MissingStopReasonStillFinishes) {
  StreamTranslator t("m", "id", 1, false);
  std::string out;
  t.onEvent("message_start", messageStart(R"({"input_tokens":1})"), out);
  t.onEvent("message_stop", R"({"type":"message_stop"})", out);
  EXPECT_NE(out.find(R"("delta":{},"logprobs":null,"finish_reason":"stop")"), std::string::npos);
  EXPECT_EQ(out.find("usage"), std::string::npos);
  ASSERT_TRUE(t.finish(out));
  expectWellFormed(out);
}

TEST(AnthropicStream, IgnoresPingUnknownAndLateEvents) {
  StreamTranslator t("m", "id", 1, true);
  std::string out;
  EXPECT_TRUE(t.onEvent("ping", R"({"type":"ping"})", out));
  EXPECT_TRUE(t.onEvent("brand_new_event", "not even json", out));
  EXPECT_TRUE(out.empty());
  t.onEvent("message_stop", R"({"type":"message_stop"})", out);
  out.clear();
  EXPECT_TRUE(t.onEvent("content_block_delta",
                        R"({"type":"content_block_delta","index":0,)"
                        R"("delta":{"type":"text_delta","text":"late"}})",
                        out));
  EXPECT_TRUE(t.onEvent("error", R"({"type":"error","error":{"type":"x","message":"y"}})", out));
  EXPECT_TRUE(out.empty());
}

TEST(AnthropicStream, UnnamedEventUsesDataType) {
  StreamTranslator t("m", "id", 1, false);
  std::string out;
  ASSERT_TRUE(t.onEvent("",
                        R"({"type":"content_block_delta","index":0,)"
                        R"("delta":{"type":"text_delta","text":"hi"}})",
                        out));
  // The role chunk is synthesised even without message_start.
  EXPECT_NE(out.find(R"({"role":"assistant","content":""})"), std::string::npos);
  EXPECT_NE(out.find(R"({"content":"hi"})"), std::string::npos);
}

TEST(AnthropicStream, MalformedEventEndsStreamWithError) {
  StreamTranslator t("m", "id", 1, true);
  std::string out;
  EXPECT_FALSE(t.onEvent("content_block_delta", R"({"type":"content_block_delta",)", out));
  EXPECT_EQ(out,
            "data: {\"error\":{\"message\":\"malformed upstream stream event\",\"type\":"
            "\"api_error\",\"param\":null,\"code\":null}}\n\n");
  out.clear();
  EXPECT_FALSE(t.onEvent("message_stop", R"({"type":"message_stop"})", out));
  EXPECT_FALSE(t.finish(out));
  EXPECT_TRUE(out.empty());
}

TEST(AnthropicStream, ErrorEventWithoutDetailsStillRendersOpenAiShape) {
  StreamTranslator t("m", "id", 1, false);
  std::string out;
  EXPECT_FALSE(t.onEvent("error", "{}", out));
  expectWellFormed(out);
  EXPECT_NE(out.find(R"("type":"api_error")"), std::string::npos);
}

TEST(AnthropicStream, OrphanAndEmptyJsonFragmentsAreSkipped) {
  StreamTranslator t("m", "id", 1, false);
  std::string out;
  t.onEvent("message_start", messageStart("{}"), out);
  out.clear();
  t.onEvent("content_block_delta",
            R"({"type":"content_block_delta","index":3,)"
            R"("delta":{"type":"input_json_delta","partial_json":"{}"}})",
            out);
  t.onEvent("content_block_delta",
            R"({"type":"content_block_delta","index":0,)"
            R"("delta":{"type":"text_delta","text":""}})",
            out);
  EXPECT_TRUE(out.empty()) << out;
}

TEST(AnthropicStream, ModelAndIdAreEscaped) {
  StreamTranslator t("we\"ird\nmodel", "id\\1", 7, false);
  std::string out;
  t.onEvent("message_start", messageStart("{}"), out);
  expectWellFormed(out);
  EXPECT_NE(out.find(R"("model":"we\"ird\nmodel")"), std::string::npos);
}

}  // namespace
}  // namespace llmux::providers::anthropic
