// Focused checks of the Ollama adapters that the golden files do not express well: limits,
// statuses after the end of a stream, option plumbing and Retry-After.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "providers/ollama/ollama.hpp"

namespace llmux::providers::ollama {
namespace {

struct Built {
  std::optional<GatewayError> err;
  UpstreamCall call;
};

Built build(const Adapter& a, std::string_view json, RequestOptions opts = {}) {
  simdjson::dom::parser parser;
  simdjson::dom::element req;
  EXPECT_EQ(parser.parse(json.data(), json.size()).get(req), simdjson::SUCCESS) << json;
  if (opts.upstreamModel.empty()) opts.upstreamModel = "llama3.2";
  Built b;
  b.call.body = "stale";
  b.call.dropped.push_back("stale");
  b.err = a.buildRequest(req, opts, b.call);
  return b;
}

const ResponseOptions kOpts{"client-model", "chatcmpl-abc", 1767225600, true};

TEST(OllamaAdapter, NamesAndPaths) {
  EXPECT_EQ(chatAdapter().name, "ollama_chat");
  EXPECT_EQ(generateAdapter().name, "ollama");
  EXPECT_EQ(&adapter(), &chatAdapter());
  const std::string_view req = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  auto chat = build(chatAdapter(), req);
  ASSERT_FALSE(chat.err);
  EXPECT_EQ(chat.call.path, "/api/chat");
  EXPECT_EQ(chat.call.headers, "");
  EXPECT_TRUE(chat.call.dropped.empty());
  auto gen = build(generateAdapter(), req);
  ASSERT_FALSE(gen.err);
  EXPECT_EQ(gen.call.path, "/api/generate");
  EXPECT_EQ(gen.call.body, R"({"model":"llama3.2","prompt":"hi","stream":false})");
}

TEST(OllamaAdapter, StreamFlagIsAlwaysExplicit) {
  const std::string_view req = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  RequestOptions opts;
  opts.stream = true;
  auto b = build(chatAdapter(), req, opts);
  ASSERT_FALSE(b.err);
  EXPECT_NE(b.call.body.find(R"("stream":true)"), std::string::npos) << b.call.body;
}

TEST(OllamaAdapter, ErrorsClearTheCall) {
  auto b = build(chatAdapter(), R"({"model":"m","messages":"hi"})");
  ASSERT_TRUE(b.err);
  EXPECT_EQ(b.err->status, 400);
  EXPECT_EQ(b.err->param, "messages");
  EXPECT_TRUE(b.call.body.empty());
  EXPECT_TRUE(b.call.dropped.empty());
  auto notObject = build(chatAdapter(), "[1]");
  ASSERT_TRUE(notObject.err);
  EXPECT_EQ(notObject.err->status, 400);
}

TEST(OllamaAdapter, RemoteImagesAreNotDroppedEvenUnderDropParams) {
  RequestOptions opts;
  opts.dropParams = true;
  auto b = build(chatAdapter(),
                 R"({"model":"m","messages":[{"role":"user","content":[
                     {"type":"image_url","image_url":{"url":"HTTPS://example.com/x.png"}}]}]})",
                 opts);
  ASSERT_TRUE(b.err);
  EXPECT_EQ(b.err->code, "unsupported_parameter");
  EXPECT_EQ(b.err->param, "messages[0].content[0].image_url");
}

TEST(OllamaAdapter, GenerateTranscriptKeepsAssistantTextWithItsCalls) {
  auto b = build(generateAdapter(), R"({"model":"m","messages":[
      {"role":"user","content":"a"},
      {"role":"assistant","content":"Let me look.","tool_calls":[
        {"id":"1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}},
        {"id":"2","type":"function","function":{"name":"g"}}]},
      {"role":"tool","tool_call_id":"2","content":"ok"}]})");
  ASSERT_FALSE(b.err) << b.err->toJson();
  EXPECT_EQ(b.call.body,
            R"({"model":"llama3.2","prompt":"User: a\n\nAssistant: Let me look.\n)"
            R"(Assistant called tool f with arguments {\"x\":1}\n)"
            R"(Assistant called tool g with arguments {}\n\nTool result (g): ok","stream":false})");
}

TEST(OllamaAdapter, ToolResultNamesComeFromTheNearestEarlierCall) {
  auto b = build(chatAdapter(), R"({"model":"m","messages":[
      {"role":"assistant","tool_calls":[{"id":"call_0","function":{"name":"old","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"call_0","content":"1"},
      {"role":"assistant","tool_calls":[{"id":"call_0","function":{"name":"new","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"call_0","content":"2"}]})");
  ASSERT_FALSE(b.err) << b.err->toJson();
  EXPECT_NE(b.call.body.find(R"({"role":"tool","content":"1","tool_name":"old"})"),
            std::string::npos);
  EXPECT_NE(b.call.body.find(R"({"role":"tool","content":"2","tool_name":"new"})"),
            std::string::npos);
}

TEST(OllamaAdapter, InvalidParameterTypesAre400s) {
  for (
      std::string_view bad : {
          R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"})",
          R"({"model":"m","messages":[{"role":"user","content":"x"}],"seed":1.5})",
          R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":"9"})",
          R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"huge"})",
          R"({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"})",
          R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{}})",
          R"({"model":"m","messages":[{"role":"user","content":"x"}],"options":[1]})",
          R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]})",
          R"({"model":"m","messages":[{"role":"user","content":5}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]})",
          R"({"model":"m","messages":[{"content":"x"}]})",
          R"({"model":"m","messages":[{"role":"tool","tool_call_id":7,"content":"x"}]})",
      }) {
    auto b = build(chatAdapter(), bad);
    ASSERT_TRUE(b.err) << bad;
    EXPECT_EQ(b.err->status, 400) << bad;
    EXPECT_TRUE(b.err->param.has_value()) << bad;
  }
}

TEST(OllamaAdapter, ToolCallIdsAreSafeAndBounded) {
  simdjson::dom::parser parser;
  std::string out;
  Usage usage;
  const std::string_view body =
      R"({"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f"}}]},"done":true})";
  ResponseOptions opts = kOpts;
  opts.id = "weird id/with:chars";
  ASSERT_FALSE(chatAdapter().translateResponse(body, opts, parser, out, usage));
  EXPECT_NE(out.find(R"("id":"call_weird_id_with_chars_0")"), std::string::npos) << out;
  opts.id = "";
  ASSERT_FALSE(chatAdapter().translateResponse(body, opts, parser, out, usage));
  EXPECT_NE(out.find(R"("id":"call_0")"), std::string::npos) << out;
  const std::string longId = "chatcmpl-" + std::string(100, 'x');
  opts.id = longId;
  ASSERT_FALSE(chatAdapter().translateResponse(body, opts, parser, out, usage));
  EXPECT_NE(out.find(R"("id":"call_)" + std::string(40, 'x') + R"(_0")"), std::string::npos);
}

TEST(OllamaStream, NothingAfterDone) {
  auto dec = chatAdapter().makeStreamDecoder(kOpts);
  std::string out;
  EXPECT_EQ(dec->feed(R"({"message":{"content":"a"},"done":true,"eval_count":2})"
                      "\n"
                      R"({"message":{"content":"late"}})"
                      "\n",
                      out),
            StreamStatus::Done);
  EXPECT_EQ(out.find("late"), std::string::npos);
  const size_t size = out.size();
  EXPECT_EQ(dec->feed(R"({"error":"x"})"
                      "\n",
                      out),
            StreamStatus::Done);
  EXPECT_EQ(dec->finish(out), StreamStatus::Done);
  EXPECT_EQ(out.size(), size);
  EXPECT_TRUE(dec->usage().present);
  EXPECT_EQ(dec->usage().completionTokens, 2);
}

TEST(OllamaStream, FailedStaysFailed) {
  auto dec = generateAdapter().makeStreamDecoder(kOpts);
  std::string out;
  EXPECT_EQ(dec->feed("{\"error\":{\"message\":\"boom\"}}\n", out), StreamStatus::Failed);
  EXPECT_NE(out.find("boom"), std::string::npos);
  const size_t size = out.size();
  EXPECT_EQ(dec->feed("{\"response\":\"x\",\"done\":true}\n", out), StreamStatus::Failed);
  EXPECT_EQ(dec->finish(out), StreamStatus::Failed);
  EXPECT_EQ(out.size(), size);
}

TEST(OllamaStream, TruncationAppendsNothing) {
  auto dec = chatAdapter().makeStreamDecoder(kOpts);
  std::string out;
  EXPECT_EQ(dec->feed("{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"mess", out),
            StreamStatus::Continue);
  const size_t size = out.size();
  EXPECT_EQ(dec->finish(out), StreamStatus::Failed);
  EXPECT_EQ(out.size(), size);
}

TEST(OllamaStream, OverlongLineFails) {
  for (bool newline : {false, true}) {
    auto dec = chatAdapter().makeStreamDecoder(kOpts);
    std::string out;
    std::string line = R"({"message":{"content":")" + std::string(8u << 20, 'a') + "\"}}";
    if (newline) line += '\n';
    StreamStatus st = StreamStatus::Continue;
    // Fed in pieces so the partial-line buffer is what hits the limit (or the whole line at once).
    for (size_t pos = 0; pos < line.size() && st == StreamStatus::Continue; pos += 1u << 20) {
      st = dec->feed(std::string_view(line).substr(pos, 1u << 20), out);
    }
    EXPECT_EQ(st, StreamStatus::Failed);
    EXPECT_NE(out.find("longer than 8 MiB"), std::string::npos);
  }
  auto dec = chatAdapter().makeStreamDecoder(kOpts);
  std::string out;
  const std::string line = R"({"message":{"content":")" + std::string(8u << 20, 'a') + "\"}}\n";
  EXPECT_EQ(dec->feed(line, out), StreamStatus::Failed);
}

TEST(OllamaErrors, RetryAfterIsCarried) {
  const GatewayError e = mapError(429, R"({"error":"too many requests"})", 7);
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.retryAfterSeconds, 7);
  EXPECT_EQ(e.code, "rate_limit_exceeded");
  EXPECT_TRUE(e.retryable);
  const GatewayError empty = mapError(500, "", std::nullopt);
  EXPECT_EQ(empty.status, 500);
  EXPECT_FALSE(empty.message.empty());
}

}  // namespace
}  // namespace llmux::providers::ollama
