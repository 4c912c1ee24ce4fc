#include <gtest/gtest.h>

#include <string>

#include "providers/openai/openai.hpp"

namespace llmux::providers::openai {
namespace {

constexpr std::string_view kContentChunk =
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-4o-mini",)"
    R"("choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}],)"
    R"("usage":null})";
constexpr std::string_view kUsageChunk =
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-4o-mini",)"
    R"("choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,)"
    R"("prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}})";

void expectUsage(const Usage& u, int64_t prompt, int64_t completion, int64_t total) {
  EXPECT_TRUE(u.present);
  EXPECT_EQ(u.promptTokens, prompt);
  EXPECT_EQ(u.completionTokens, completion);
  EXPECT_EQ(u.totalTokens, total);
}

TEST(OpenAiStreamChunk, Done) {
  EXPECT_EQ(inspectStreamChunk("[DONE]").kind, ChunkKind::Done);
  EXPECT_EQ(inspectStreamChunk(" [DONE]\r\n").kind, ChunkKind::Done);
  EXPECT_EQ(inspectStreamChunk("[DONE]x").kind, ChunkKind::Content);
}

TEST(OpenAiStreamChunk, OrdinaryChunkIsContentWithoutUsage) {
  const ChunkInfo info = inspectStreamChunk(kContentChunk);
  EXPECT_EQ(info.kind, ChunkKind::Content);
  EXPECT_FALSE(info.usage.present);
  EXPECT_EQ(inspectStreamChunk(R"({"choices":[{"index":0,"delta":{"content":"x"}}]})").kind,
            ChunkKind::Content);
  EXPECT_EQ(inspectStreamChunk(R"({"choices":[{"delta":{}}],"usage" :  null })").kind,
            ChunkKind::Content);
}

TEST(OpenAiStreamChunk, UsageOnlyChunk) {
  const ChunkInfo info = inspectStreamChunk(kUsageChunk);
  EXPECT_EQ(info.kind, ChunkKind::UsageOnly);
  expectUsage(info.usage, 9, 3, 12);
}

TEST(OpenAiStreamChunk, UsageBeforeChoicesAndWhitespace) {
  const ChunkInfo info = inspectStreamChunk(
      "{ \"usage\" :\n {\"completion_tokens\": 5, \"prompt_tokens\": 7}, \"choices\" : [ ] }");
  EXPECT_EQ(info.kind, ChunkKind::UsageOnly);
  expectUsage(info.usage, 7, 5, 12);  // missing total is derived
}

TEST(OpenAiStreamChunk, UsageOnAContentChunkIsContentWithUsage) {
  const ChunkInfo info =
      inspectStreamChunk(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],)"
                         R"("usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})");
  EXPECT_EQ(info.kind, ChunkKind::Content);
  expectUsage(info.usage, 1, 2, 3);
}

TEST(OpenAiStreamChunk, UsageWithoutChoicesKeyIsContent) {
  const ChunkInfo info = inspectStreamChunk(R"({"usage":{"prompt_tokens":1}})");
  EXPECT_EQ(info.kind, ChunkKind::Content);
  expectUsage(info.usage, 1, 0, 1);
}

TEST(OpenAiStreamChunk, EmptyChoicesWithNullUsageIsContent) {
  // Azure's prompt_filter_results chunk: empty choices, no usage.
  EXPECT_EQ(inspectStreamChunk(R"({"choices":[],"usage":null,"prompt_filter_results":[]})").kind,
            ChunkKind::Content);
  EXPECT_EQ(inspectStreamChunk(R"({"choices":[],"id":"","model":""})").kind, ChunkKind::Content);
}

TEST(OpenAiStreamChunk, GroqUsage) {
  const ChunkInfo info = inspectStreamChunk(
      R"({"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_1",)"
      R"("usage":{"queue_time":0.01,"prompt_tokens":20,"completion_tokens":4,"total_tokens":24}}})");
  EXPECT_EQ(info.kind, ChunkKind::Content);
  expectUsage(info.usage, 20, 4, 24);

  const ChunkInfo only = inspectStreamChunk(
      R"({"choices":[],"x_groq":{"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}})");
  EXPECT_EQ(only.kind, ChunkKind::UsageOnly);
  expectUsage(only.usage, 2, 1, 3);

  // Top-level usage wins over x_groq.usage.
  const ChunkInfo both = inspectStreamChunk(
      R"({"choices":[],"x_groq":{"usage":{"prompt_tokens":2}},"usage":{"prompt_tokens":5}})");
  expectUsage(both.usage, 5, 0, 5);
}

TEST(OpenAiStreamChunk, MidStreamError) {
  const ChunkInfo info = inspectStreamChunk(
      R"({"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}})");
  EXPECT_EQ(info.kind, ChunkKind::Error);
  EXPECT_EQ(inspectStreamChunk(R"({"error":"overloaded"})").kind, ChunkKind::Error);
  // OpenRouter: error object plus a choice with finish_reason "error".
  EXPECT_EQ(
      inspectStreamChunk(R"({"id":"x","choices":[{"index":0,"delta":{"content":""},)"
                         R"("finish_reason":"error"}],"error":{"code":502,"message":"down"}})")
          .kind,
      ChunkKind::Error);
}

TEST(OpenAiStreamChunk, NullOrNestedErrorIsNotAnError) {
  EXPECT_EQ(inspectStreamChunk(R"({"choices":[{"delta":{"content":"x"}}],"error":null})").kind,
            ChunkKind::Content);
  EXPECT_EQ(inspectStreamChunk(R"({"choices":[{"delta":{"content":"x"},"error":{"m":1}}]})").kind,
            ChunkKind::Content);
  EXPECT_EQ(inspectStreamChunk(R"({"choices":[{"finish_reason":"error","delta":{}}]})").kind,
            ChunkKind::Content);
}

TEST(OpenAiStreamChunk, KeywordsInsideStringsDoNotConfuse) {
  const ChunkInfo a = inspectStreamChunk(
      R"({"choices":[{"delta":{"content":"say \"usage\": {\"prompt_tokens\": 5}"}}],"usage":null})");
  EXPECT_EQ(a.kind, ChunkKind::Content);
  EXPECT_FALSE(a.usage.present);
  const ChunkInfo b =
      inspectStreamChunk(R"({"choices":[{"delta":{"content":"an \"error\" here"}}],"usage":null})");
  EXPECT_EQ(b.kind, ChunkKind::Content);
  EXPECT_FALSE(b.usage.present);
}

TEST(OpenAiStreamChunk, MalformedIsContent) {
  for (std::string_view data :
       {std::string_view(""), std::string_view("   "), std::string_view("not json"),
        std::string_view(R"({"error":{"message":"x")"),
        std::string_view(R"({"usage":{"prompt_tokens":)"), std::string_view(R"(["error"])"),
        std::string_view(R"("usage")"), std::string_view("{\"usage\""),
        std::string_view(R"({"choices":[],"usage":{"prompt_tokens":1,}})"),
        std::string_view("{\"error\":\"\xff\"}"), std::string_view(": keep-alive")}) {
    const ChunkInfo info = inspectStreamChunk(data);
    EXPECT_EQ(info.kind, ChunkKind::Content) << data;
    EXPECT_FALSE(info.usage.present) << data;
  }
}

TEST(OpenAiStreamChunk, OddTokenValues) {
  const ChunkInfo info = inspectStreamChunk(
      R"({"choices":[],"usage":{"prompt_tokens":12.0,"completion_tokens":-3,"total_tokens":"7"}})");
  EXPECT_EQ(info.kind, ChunkKind::UsageOnly);
  expectUsage(info.usage, 12, 0, 12);  // a non-numeric total is derived
  const ChunkInfo huge = inspectStreamChunk(
      R"({"choices":[],"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":1e300}})");
  EXPECT_TRUE(huge.usage.present);
  EXPECT_EQ(huge.usage.promptTokens, int64_t{1} << 53);
  EXPECT_EQ(huge.usage.completionTokens, int64_t{1} << 53);
  EXPECT_EQ(huge.usage.totalTokens, int64_t{1} << 54);
}

TEST(OpenAiStreamChunk, KeysFoundAtEveryOffset) {
  // The shortcut scans 16 bytes at a time; keys must be seen wherever they fall, tail included.
  for (size_t pad = 0; pad < 48; ++pad) {
    const std::string filler = R"("p":")" + std::string(pad, 'e') + R"(",)";
    const std::string usage = "{" + filler + R"("choices":[],"usage":{"prompt_tokens":2}})";
    EXPECT_EQ(inspectStreamChunk(usage).kind, ChunkKind::UsageOnly) << usage;
    const std::string error = "{" + filler + R"("error":{}})";
    EXPECT_EQ(inspectStreamChunk(error).kind, ChunkKind::Error) << error;
    const std::string nullUsage = "{" + filler + R"("choices":[],"usage":null})";
    EXPECT_EQ(inspectStreamChunk(nullUsage).kind, ChunkKind::Content) << nullUsage;
    const std::string errorLast = "{" + filler + R"("x":1,"error":1})";
    EXPECT_EQ(inspectStreamChunk(errorLast).kind, ChunkKind::Error) << errorLast;
  }
}

TEST(OpenAiStreamChunk, LongDigitFloatsAreRead) {
  // simdjson 3.0.1's get_number() yields 0 for these; the adapter must not.
  const ChunkInfo info =
      inspectStreamChunk(R"({"choices":[],"usage":{"prompt_tokens":1.66666666666666666666e3,)"
                         R"("total_tokens":25666666666666666.66666666666666666}})");
  expectUsage(info.usage, 1666, 0, int64_t{1} << 53);
}

TEST(OpenAiStreamChunk, RepeatedCallsReuseState) {
  // Alternate large and small chunks so a stale buffer or parser state would show.
  std::string big = R"({"choices":[],"pad":")" + std::string(100000, 'a') +
                    R"(","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}})";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(inspectStreamChunk(big).kind, ChunkKind::UsageOnly);
    EXPECT_EQ(inspectStreamChunk(kUsageChunk).usage.totalTokens, 12);
    EXPECT_EQ(inspectStreamChunk(kContentChunk).kind, ChunkKind::Content);
  }
  std::string huge =
      R"({"choices":[],"pad":")" + std::string(2u << 20, 'b') + R"(","usage":{"prompt_tokens":4}})";
  EXPECT_EQ(inspectStreamChunk(huge).kind, ChunkKind::UsageOnly);
  EXPECT_EQ(inspectStreamChunk(huge).usage.promptTokens, 4);
}

TEST(OpenAiResponseUsage, ChatCompletion) {
  std::string body =
      R"({"id":"chatcmpl-AbC123","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini",)"
      R"("choices":[{"index":0,"finish_reason":"stop","logprobs":null,"message":{"role":"assistant",)"
      R"("content":"hi \"usage\":{}","refusal":null}}],"usage":{"prompt_tokens":82,"completion_tokens":17,)"
      R"("total_tokens":99,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0}}})";
  const std::string copy = body;
  expectUsage(parseResponseUsage(body), 82, 17, 99);
  EXPECT_EQ(body, copy);  // only capacity may change
}

TEST(OpenAiResponseUsage, MissingNullOrMalformed) {
  for (std::string body :
       {std::string(R"({"id":"x","choices":[]})"), std::string(R"({"usage":null})"),
        std::string(R"({"usage":[1,2]})"), std::string("<html>502</html>"), std::string(""),
        std::string(R"({"usage":{"prompt_tokens":1})"), std::string(R"([{"usage":{}}])")}) {
    EXPECT_FALSE(parseResponseUsage(body).present) << body;
  }
}

TEST(OpenAiResponseUsage, GroqAndPartialUsage) {
  std::string groq =
      R"({"choices":[],"x_groq":{"usage":{"prompt_tokens":3,"completion_tokens":4}}})";
  expectUsage(parseResponseUsage(groq), 3, 4, 7);
  std::string partial = R"({"usage":{"completion_tokens":9}})";
  expectUsage(parseResponseUsage(partial), 0, 9, 9);
  std::string emptyUsage = R"({"usage":{}})";
  expectUsage(parseResponseUsage(emptyUsage), 0, 0, 0);
}

TEST(OpenAiResponseUsage, LargeBody) {
  std::string body =
      R"({"choices":[{"message":{"content":")" + std::string(3u << 20, 'z') +
      R"("}}],"usage":{"prompt_tokens":1,"completion_tokens":786432,"total_tokens":786433}})";
  expectUsage(parseResponseUsage(body), 1, 786432, 786433);
}

}  // namespace
}  // namespace llmux::providers::openai
