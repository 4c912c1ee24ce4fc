// Anthropic adapters: golden files under tests/data/golden/anthropic/ (direct API) and
// tests/data/golden/anthropic_vertex/ (Vertex AI rawPredict), laid out as tests/unit/
// adapter_golden.hpp describes; LLMUX_UPDATE_GOLDEN=1 rewrites the expected files. Below them,
// focused tests of what golden files show poorly (options the golden driver does not set, edge
// values, translator state).
#include "providers/anthropic/anthropic.hpp"
#include "unit/adapter_golden.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "providers/anthropic/stream.hpp"

namespace llmux::providers::anthropic {

LLMUX_ADAPTER_GOLDEN_TESTS(Anthropic, adapter(), "anthropic")
LLMUX_ADAPTER_GOLDEN_TESTS(AnthropicVertex, vertexAdapter(), "anthropic_vertex")

namespace {

bool isValidJson(std::string_view s) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return parser.parse(s.data(), s.size()).get(doc) == simdjson::SUCCESS;
}

// ---- requests --------------------------------------------------------------------------------

struct Built {
  std::optional<GatewayError> err;
  UpstreamCall call;
};

Built build(const Adapter& a, std::string_view json, const RequestOptions& opts) {
  simdjson::dom::parser parser;
  simdjson::dom::element req;
  EXPECT_EQ(parser.parse(json.data(), json.size()).get(req), simdjson::SUCCESS) << json;
  Built b;
  b.call.body = "stale";
  b.call.dropped.push_back("stale");
  b.err = a.buildRequest(req, opts, b.call);
  return b;
}

constexpr std::string_view kHello = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";

TEST(AnthropicBuildRequest, VertexPathCarriesProjectLocationAndModel) {
  RequestOptions opts;
  opts.upstreamModel = "claude-sonnet-4-5@20250929";
  opts.project = "my-proj";
  opts.location = "us-east5";
  Built b = build(vertexAdapter(), kHello, opts);
  ASSERT_FALSE(b.err) << b.err->toJson();
  EXPECT_EQ(b.call.path,
            "/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models/"
            "claude-sonnet-4-5@20250929:rawPredict");
  EXPECT_EQ(b.call.headers, "");
  EXPECT_TRUE(b.call.dropped.empty());
  EXPECT_EQ(b.call.body.find("\"model\""), std::string::npos) << b.call.body;
  EXPECT_TRUE(b.call.body.starts_with(R"({"anthropic_version":"vertex-2023-10-16",)"))
      << b.call.body;

  opts.stream = true;
  opts.location = "global";
  b = build(vertexAdapter(), kHello, opts);
  ASSERT_FALSE(b.err);
  EXPECT_EQ(b.call.path,
            "/v1/projects/my-proj/locations/global/publishers/anthropic/models/"
            "claude-sonnet-4-5@20250929:streamRawPredict");
  EXPECT_TRUE(b.call.body.ends_with(R"(,"stream":true})")) << b.call.body;
}

TEST(AnthropicBuildRequest, PathSegmentsFromConfigCannotAlterTheTarget) {
  RequestOptions opts;
  opts.upstreamModel = "a/b:c?d#e f\r\n";
  opts.project = "p/../q";
  opts.location = "x";
  const Built b = build(vertexAdapter(), kHello, opts);
  ASSERT_FALSE(b.err);
  EXPECT_EQ(b.call.path,
            "/v1/projects/p%2F..%2Fq/locations/x/publishers/anthropic/models/"
            "a%2Fb%3Ac%3Fd%23e%20f%0D%0A:rawPredict");
}

TEST(AnthropicBuildRequest, ApiVersionOverrides) {
  RequestOptions opts;
  opts.upstreamModel = "claude";
  opts.apiVersion = "2024-01-01";
  EXPECT_EQ(build(adapter(), kHello, opts).call.headers, "anthropic-version: 2024-01-01\r\n");
  opts.apiVersion = "2024-01-01\r\nx-evil: 1";  // not a date version: ignored
  EXPECT_EQ(build(adapter(), kHello, opts).call.headers, "anthropic-version: 2023-06-01\r\n");

  opts.apiVersion = "vertex-2024-02-02";
  EXPECT_TRUE(build(vertexAdapter(), kHello, opts)
                  .call.body.starts_with(R"({"anthropic_version":"vertex-2024-02-02",)"));
  opts.apiVersion = "2024-01-01";
  EXPECT_TRUE(build(vertexAdapter(), kHello, opts)
                  .call.body.starts_with(R"({"anthropic_version":"vertex-2023-10-16",)"));
}

TEST(AnthropicBuildRequest, ErrorsLeaveNoPartialCall) {
  RequestOptions opts;
  const Built b = build(adapter(),
                        R"({"model":"m","messages":[{"role":"user","content":"x"}],)"
                        R"("seed":1})",
                        opts);
  ASSERT_TRUE(b.err);
  EXPECT_EQ(b.err->status, 400);
  EXPECT_EQ(b.err->param, "seed");
  EXPECT_EQ(b.err->code, "unsupported_parameter");
  EXPECT_TRUE(b.call.body.empty());
  EXPECT_TRUE(b.call.path.empty());
  EXPECT_TRUE(b.call.dropped.empty());
}

TEST(AnthropicBuildRequest, BadShapesAre400sNamingTheParameter) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {R"({"model":"m"})", "messages"},
      {R"({"model":"m","messages":{}})", "messages"},
      {R"({"model":"m","messages":[]})", "messages"},
      {R"({"model":"m","messages":[{"role":"system","content":"only system"}]})", "messages"},
      {R"({"model":"m","messages":[1]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]})",
       "messages[0].content[0]"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"video"}]}]})",
       "messages[0].content[0].type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":)"
       R"({"url":"ftp://x/y.png"}}]}]})",
       "messages[0].content[0].image_url"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":)"
       R"({"url":"data:image/png,AAAA"}}]}]})",
       "messages[0].content[0].image_url"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":)"
       R"({"url":"data:audio/wav;base64,AAAA"}}]}]})",
       "messages[0].content[0].image_url"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio",)"
       R"("input_audio":{"data":"AA","format":"wav"}}]}]})",
       "messages[0].content[0].input_audio"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"file",)"
       R"("file":{"file_id":"file-1"}}]}]})",
       "messages[0].content[0].file.file_id"},
      {R"({"model":"m","messages":[{"role":"tool","content":"x"}]})", "messages[0].tool_call_id"},
      {R"({"model":"m","messages":[{"role":"function","name":"f","content":"x"}]})",
       "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c",)"
       R"("function":{"name":"f","arguments":"[1]"}}]}]})",
       "messages[0].tool_calls[0].function.arguments"},
      {R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f"}}]}]})",
       "messages[0].tool_calls[0].id"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0})", "max_tokens"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":1.5})",
       "max_completion_tokens"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"})",
       "temperature"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"top_k":0.5})", "top_k"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]})", "stop"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"lots"})",
       "reasoning_effort"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":{}})", "tools"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]})",
       "tools[0].function"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function",)"
       R"("function":{"name":"f","parameters":[]}}]})",
       "tools[0].function.parameters"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom",)"
       R"("custom":{"name":"f"}}]})",
       "tools[0]"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"})",
       "tool_choice"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"parallel_tool_calls":"no"})",
       "parallel_tool_calls"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{}})",
       "response_format.type"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"thinking":true})", "thinking"},
  };
  for (const auto& [json, param] : cases) {
    RequestOptions opts;
    const Built b = build(adapter(), json, opts);
    ASSERT_TRUE(b.err) << json << " → " << b.call.body;
    EXPECT_EQ(b.err->status, 400) << json;
    EXPECT_EQ(b.err->type, "invalid_request_error") << json;
    EXPECT_EQ(b.err->param, std::string(param)) << json << " → " << b.err->toJson();
    EXPECT_TRUE(isValidJson(b.err->toJson()));
  }
}

TEST(AnthropicBuildRequest, HarmlessValuesOfUnsupportedParamsPass) {
  RequestOptions opts;
  const Built b =
      build(adapter(),
            R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":1,)"
            R"("logprobs":false,"top_logprobs":0,"logit_bias":{},)"
            R"("frequency_penalty":0,"presence_penalty":0.0,"seed":null,)"
            R"("modalities":["text"],"audio":null,"stream_options":{"include_usage":true},)"
            R"("store":true,"metadata":{"k":"v"},"service_tier":"auto",)"
            R"("prompt_cache_key":"k","verbosity":"low","response_format":{"type":"text"}})",
            opts);
  ASSERT_FALSE(b.err) << b.err->toJson();
  EXPECT_TRUE(b.call.dropped.empty());
  EXPECT_EQ(b.call.body,
            R"({"model":"","max_tokens":4096,"messages":[{"role":"user","content":"x"}]})");
}

TEST(AnthropicBuildRequest, BodiesAreValidJson) {
  RequestOptions opts;
  opts.upstreamModel = "claude\"quoted";
  const Built b = build(adapter(),
                        R"({"model":"m","messages":[{"role":"user","content":"a\u0000b\"c"}],)"
                        R"("user":"u\n1"})",
                        opts);
  ASSERT_FALSE(b.err);
  EXPECT_TRUE(isValidJson(b.call.body)) << b.call.body;
}

// ---- responses -------------------------------------------------------------------------------

constexpr std::string_view kClientModel = "claude-sonnet";
constexpr int64_t kCreated = 1767225600;

std::string translate(std::string_view body, Usage* usage = nullptr) {
  auto r = toOpenAICompletion(body, kClientModel, kCreated, usage);
  if (const auto* err = std::get_if<GatewayError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << err->toJson();
    return {};
  }
  return std::get<std::string>(r);
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

TEST(AnthropicTranslateResponse, AdapterReusesParserAndClearsOutput) {
  simdjson::dom::parser parser;
  std::string out = "stale";
  Usage usage;
  ResponseOptions opts{"client", "chatcmpl-x", 7, false};
  ASSERT_FALSE(adapter().translateResponse(
      R"({"id":"msg_1","type":"message","content":[{"type":"text","text":"a"}]})", opts, parser,
      out, usage));
  EXPECT_TRUE(out.starts_with(R"({"id":"msg_1","object":"chat.completion","created":7,)")) << out;
  EXPECT_FALSE(usage.present);
  const auto err = adapter().translateResponse("{", opts, parser, out, usage);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->status, 502);
  EXPECT_TRUE(out.empty());
}

TEST(AnthropicTranslateResponse, OddTokenCountsAreClampedNotFatal) {
  Usage u;
  translate(R"({"id":"m","content":[],"usage":{"input_tokens":-5,"output_tokens":"7",)"
            R"("cache_read_input_tokens":18446744073709551615,"cache_creation_input_tokens":2.9}})",
            &u);
  EXPECT_TRUE(u.present);
  EXPECT_EQ(u.cachedTokens, int64_t{1} << 53);
  EXPECT_EQ(u.completionTokens, 0);
  EXPECT_EQ(u.promptTokens, (int64_t{1} << 53) + 2);
}

TEST(AnthropicTranslateResponse, ToolUseWithoutInputGetsEmptyObject) {
  const std::string out =
      translate(R"({"id":"m","content":[{"type":"tool_use","id":"toolu_1","name":"now"}],)"
                R"("stop_reason":"tool_use"})");
  EXPECT_NE(out.find(R"("arguments":"{}")"), std::string::npos) << out;
  EXPECT_TRUE(isValidJson(out));
}

TEST(AnthropicTranslateResponse, EscapesClientModelAndText) {
  auto r = toOpenAICompletion(
      R"({"id":"msg_\"q\"","content":[{"type":"text","text":"a\u0000b\n\"c\""}]})", "m\"x", 1,
      nullptr);
  ASSERT_TRUE(std::holds_alternative<std::string>(r));
  const std::string& out = std::get<std::string>(r);
  EXPECT_TRUE(isValidJson(out)) << out;
  EXPECT_NE(out.find(R"("model":"m\"x")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("content":"a\u0000b\n\"c\"")"), std::string::npos) << out;
}

TEST(AnthropicTranslateResponse, MalformedBodiesAreProtocolErrors) {
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
    Usage usage;
    usage.present = true;
    auto r = toOpenAICompletion(body, kClientModel, kCreated, &usage);
    ASSERT_TRUE(std::holds_alternative<GatewayError>(r)) << body;
    const GatewayError& err = std::get<GatewayError>(r);
    EXPECT_FALSE(usage.present) << body;
    EXPECT_EQ(err.status, 502) << body;
    EXPECT_EQ(err.code, "upstream_protocol_error") << body;
    EXPECT_TRUE(isValidJson(err.toJson())) << body;
  }
}

// ---- streams ---------------------------------------------------------------------------------

std::string messageStart(std::string_view usage) {
  return std::string(R"({"type":"message_start","message":{"id":"m","content":[],"usage":)") +
         std::string(usage) + "}}";
}

std::string messageDelta(std::string_view reason, std::string_view usage) {
  return std::string(R"({"type":"message_delta","delta":{"stop_reason":)") + std::string(reason) +
         R"(},"usage":)" + std::string(usage) + "}";
}

TEST(AnthropicStreamTranslator, UsageIsCumulativeAndIncludesCache) {
  StreamTranslator t("m", "id", 1, true);
  std::string out;
  EXPECT_FALSE(t.usage().present);
  t.onEvent("message_start",
            messageStart(R"({"input_tokens":10,"cache_creation_input_tokens":5,)"
                         R"("cache_read_input_tokens":100,"output_tokens":1})"),
            out);
  EXPECT_TRUE(t.usage().present);
  EXPECT_EQ(t.usage().promptTokens, 115);
  EXPECT_EQ(t.usage().cachedTokens, 100);
  t.onEvent("message_delta", messageDelta("null", R"({"output_tokens":20})"), out);
  t.onEvent("message_delta", messageDelta(R"("end_turn")", R"({"output_tokens":30})"), out);
  EXPECT_EQ(t.usage().completionTokens, 30);  // assigned, not 1+20+30
  EXPECT_EQ(t.usage().totalTokens, 145);
  t.onEvent("message_stop", R"({"type":"message_stop"})", out);
  EXPECT_TRUE(t.stopped());
  out.clear();
  ASSERT_TRUE(t.finish(out));
  EXPECT_NE(out.find(R"("choices":[],"usage":{"prompt_tokens":115,"completion_tokens":30,)"
                     R"("total_tokens":145,"prompt_tokens_details":{"cached_tokens":100})"),
            std::string::npos)
      << out;
  std::string again;
  EXPECT_FALSE(t.finish(again));
  EXPECT_TRUE(again.empty());
}

TEST(AnthropicStreamTranslator, HostileTokenCountsAreClamped) {
  StreamTranslator t("m", "id", 1, true);
  std::string out;
  t.onEvent("message_start",
            messageStart(R"({"input_tokens":-5,"cache_creation_input_tokens":1e300,)"
                         R"("cache_read_input_tokens":18446744073709551615,"output_tokens":"x"})"),
            out);
  EXPECT_EQ(t.usage().promptTokens, (int64_t{1} << 53) * 2);
  EXPECT_EQ(t.usage().completionTokens, 0);
}

TEST(AnthropicStreamTranslator, StopReasonMapping) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {R"("max_tokens")", R"("finish_reason":"length")"},
      {R"("model_context_window_exceeded")", R"("finish_reason":"length")"},
      {R"("tool_use")", R"("finish_reason":"tool_calls")"},
      {R"("refusal")", R"("finish_reason":"content_filter")"},
      {R"("pause_turn")", R"("finish_reason":"stop")"},
      {R"("something_new")", R"("finish_reason":"stop")"},
  };
  for (const auto& [reason, expected] : cases) {
    StreamTranslator t("m", "id", 1, false);
    std::string out;
    t.onEvent("message_start", messageStart(R"({"input_tokens":1})"), out);
    out.clear();
    t.onEvent("message_delta", messageDelta(reason, R"({"output_tokens":2})"), out);
    EXPECT_NE(out.find(expected), std::string::npos) << reason << " → " << out;
  }
}

std::string streamOf(std::string_view events, StreamStatus& status, bool finish = true) {
  auto dec = adapter().makeStreamDecoder(ResponseOptions{"m", "chatcmpl-1", 1, false});
  std::string out;
  status = dec->feed(events, out);
  if (finish && status == StreamStatus::Continue) status = dec->finish(out);
  return out;
}

TEST(AnthropicStreamDecoder, DoneAtMessageStopAndSilentAfter) {
  auto dec = adapter().makeStreamDecoder(ResponseOptions{"m", "chatcmpl-1", 1, false});
  std::string out;
  EXPECT_EQ(dec->feed("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", out),
            StreamStatus::Done);
  EXPECT_TRUE(out.ends_with("data: [DONE]\n\n")) << out;
  out.clear();
  EXPECT_EQ(dec->feed("event: error\ndata: {}\n\n", out), StreamStatus::Done);
  EXPECT_EQ(dec->finish(out), StreamStatus::Done);
  EXPECT_TRUE(out.empty());
}

TEST(AnthropicStreamDecoder, TruncationFailsWithoutOutput) {
  auto dec = adapter().makeStreamDecoder(ResponseOptions{"m", "chatcmpl-1", 1, true});
  std::string out;
  // A complete message_stop event needs its blank line; without it the stream was cut.
  EXPECT_EQ(dec->feed("event: message_stop\ndata: {\"type\":\"message_stop\"}\n", out),
            StreamStatus::Continue);
  EXPECT_EQ(dec->finish(out), StreamStatus::Failed);
  EXPECT_TRUE(out.empty()) << out;
  EXPECT_EQ(dec->feed("\n", out), StreamStatus::Failed);
  EXPECT_TRUE(out.empty()) << out;
}

TEST(AnthropicStreamDecoder, OversizedEventFailsTheStream) {
  StreamStatus status;
  const std::string huge = "data: " + std::string((size_t{8} << 20) + 16, 'x');
  const std::string out = streamOf(huge, status, false);
  EXPECT_EQ(status, StreamStatus::Failed);
  EXPECT_TRUE(out.starts_with(R"(data: {"error":{)")) << out.substr(0, 200);
  EXPECT_NE(out.find("upstream_protocol_error"), std::string::npos);
}

TEST(AnthropicStreamDecoder, ModelAndIdAreEscaped) {
  auto dec = adapter().makeStreamDecoder(ResponseOptions{"we\"ird\nmodel", "id\\1", 7, false});
  std::string out;
  dec->feed("event: message_start\ndata: " + messageStart("{}") + "\n\n", out);
  testing::golden_detail::expectWellFormedSse(out);
  EXPECT_NE(out.find(R"("model":"we\"ird\nmodel")"), std::string::npos) << out;
}

}  // namespace
}  // namespace llmux::providers::anthropic
