// Gemini adapters: the shared golden suites over tests/data/golden/gemini/, request-path goldens
// for Vertex AI over tests/data/golden/gemini_vertex/request/ (whose options.json may also name
// "project" and "location", which the shared driver does not read), and focused checks.
// LLMUX_UPDATE_GOLDEN=1 rewrites the expected files; review every diff.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "providers/gemini/gemini.hpp"
#include "providers/gemini/internal.hpp"
#include "unit/adapter_golden.hpp"

namespace llmux::providers::gemini {

LLMUX_ADAPTER_GOLDEN_TESTS(Gemini, adapter(), "gemini")

namespace {

namespace gd = ::llmux::testing::golden_detail;
namespace fs = std::filesystem;

// Like gd::runRequest, plus "project"/"location" options (defaults: my-project / us-central1).
std::string runVertexRequest(const fs::path& dir, const std::string& stem) {
  const std::string input = ::llmux::testing::readFile(dir / (stem + ".json"));
  simdjson::dom::parser parser;
  simdjson::dom::element req;
  if (parser.parse(input).get(req) != simdjson::SUCCESS) {
    ADD_FAILURE() << stem << ".json is not JSON";
    return {};
  }
  RequestOptions opts;
  opts.upstreamModel = "upstream-model";
  opts.project = "my-project";
  opts.location = "us-central1";
  bool stream = false;
  if (req["stream"].get(stream) == simdjson::SUCCESS) opts.stream = stream;
  simdjson::dom::parser optsParser;
  std::string optsText;
  if (fs::exists(dir / (stem + ".options.json"))) {
    optsText = ::llmux::testing::readFile(dir / (stem + ".options.json"));
    simdjson::dom::element o;
    if (optsParser.parse(optsText).get(o) == simdjson::SUCCESS) {
      std::string_view sv;
      bool b = false;
      if (o["upstream_model"].get(sv) == simdjson::SUCCESS) opts.upstreamModel = sv;
      if (o["drop_params"].get(b) == simdjson::SUCCESS) opts.dropParams = b;
      if (o["api_version"].get(sv) == simdjson::SUCCESS) opts.apiVersion = sv;
      if (o["project"].get(sv) == simdjson::SUCCESS) opts.project = sv;
      if (o["location"].get(sv) == simdjson::SUCCESS) opts.location = sv;
    }
  }
  UpstreamCall call;
  if (auto err = vertexAdapter().buildRequest(req, opts, call)) return gd::renderError(*err);
  std::string out = "POST " + call.path + "\n" + call.headers;
  for (size_t p; (p = out.find("\r\n")) != std::string::npos;) out.erase(p, 1);
  if (!call.dropped.empty()) {
    out += "dropped: ";
    for (size_t i = 0; i < call.dropped.size(); ++i) out += (i ? ", " : "") + call.dropped[i];
    out += "\n";
  }
  out += "\n" + call.body + "\n";
  return out;
}

class VertexRequest : public ::testing::TestWithParam<std::string> {};

TEST_P(VertexRequest, Golden) {
  const auto dir = gd::dirOf("gemini_vertex", "request");
  gd::compareOrUpdate(dir / (GetParam() + ".expected.txt"), runVertexRequest(dir, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(GeminiVertex, VertexRequest,
                         ::testing::ValuesIn(gd::inputStems(gd::dirOf("gemini_vertex", "request"),
                                                            {".json"})),
                         ::llmux::testing::goldenParamName);

// Every body the request translator builds is one JSON object.
TEST(GeminiRequest, BodiesAreJson) {
  const auto dir = gd::dirOf("gemini", "request");
  for (const std::string& stem : gd::inputStems(dir, {".json"})) {
    const std::string text = gd::runRequest(adapter(), dir, stem);
    if (text.starts_with("ERROR")) continue;
    const size_t body = text.find("\n\n");
    ASSERT_NE(body, std::string::npos) << stem;
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    EXPECT_EQ(p.parse(text.substr(body + 2)).get(doc), simdjson::SUCCESS) << stem;
    EXPECT_TRUE(doc.is_object()) << stem;
  }
}

// A tool call's id, generated from the response, brings its thought signature back to Gemini and
// names the function for the tool result.
TEST(GeminiRoundTrip, ToolCallIdCarriesSignatureAndName) {
  const std::string body =
      R"({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather",)"
      R"("args":{"city":"Paris"}},"thoughtSignature":"c2ln+/E="}]},"finishReason":"STOP"}],)"
      R"("responseId":"resp-1"})";
  simdjson::dom::parser parser;
  std::string out;
  Usage usage;
  const ResponseOptions ropts{"m", "chatcmpl-x", 1, false};
  ASSERT_FALSE(adapter().translateResponse(body, ropts, parser, out, usage));
  simdjson::dom::parser p2;
  simdjson::dom::element resp;
  ASSERT_EQ(p2.parse(out).get(resp), simdjson::SUCCESS);
  std::string_view id;
  ASSERT_EQ(resp["choices"].at(0)["message"]["tool_calls"].at(0)["id"].get(id), simdjson::SUCCESS);
  EXPECT_TRUE(id.starts_with("call_")) << id;
  EXPECT_TRUE(id.ends_with("__thought__c2ln-_E")) << id;  // base64url, unpadded

  const std::string request =
      R"({"model":"m","messages":[{"role":"user","content":"Weather?"},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":")" +
      std::string(id) +
      R"(","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
      R"({"role":"tool","tool_call_id":")" +
      std::string(id) + R"(","content":"18C"}]})";
  simdjson::dom::parser p3;
  simdjson::dom::element req;
  ASSERT_EQ(p3.parse(request).get(req), simdjson::SUCCESS);
  RequestOptions opts;
  opts.upstreamModel = "gemini-3-pro-preview";
  UpstreamCall call;
  ASSERT_FALSE(adapter().buildRequest(req, opts, call));
  EXPECT_NE(call.body.find(R"("thoughtSignature":"c2ln+/E=")"), std::string::npos) << call.body;
  EXPECT_NE(
      call.body.find(R"({"functionResponse":{"name":"get_weather","response":{"content":"18C"}}})"),
      std::string::npos)
      << call.body;
}

TEST(GeminiVertexRequest, NeedsProjectAndLocation) {
  simdjson::dom::parser parser;
  simdjson::dom::element req;
  ASSERT_EQ(
      parser.parse(std::string(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})"))
          .get(req),
      simdjson::SUCCESS);
  RequestOptions opts;
  opts.upstreamModel = "gemini-2.5-flash";
  UpstreamCall call;
  auto err = vertexAdapter().buildRequest(req, opts, call);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->status, 500);
  EXPECT_TRUE(call.path.empty());
}

TEST(GeminiModelVersion, ParsesMajor) {
  EXPECT_EQ(detail::geminiMajorVersion("gemini-2.5-flash"), 2);
  EXPECT_EQ(detail::geminiMajorVersion("gemini-3-pro-preview"), 3);
  EXPECT_EQ(detail::geminiMajorVersion("models/gemini-3.1-flash"), 3);
  EXPECT_EQ(detail::geminiMajorVersion("gemini-10-ultra"), 10);
  EXPECT_EQ(detail::geminiMajorVersion("gemini-flash-latest"), 0);
  EXPECT_EQ(detail::geminiMajorVersion("gemini-exp-1206"), 0);
  EXPECT_EQ(detail::geminiMajorVersion("gemini-2x"), 0);
  EXPECT_EQ(detail::geminiMajorVersion("learnlm-2.0"), 0);
}

// google.rpc.RetryInfo fills Retry-After (rounded up) unless the header already did.
TEST(GeminiErrors, RetryInfoFillsRetryAfter) {
  const std::string body =
      R"({"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[)"
      R"({"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"41.5s"}]}})";
  const GatewayError fromBody = adapter().mapError(429, body, std::nullopt);
  EXPECT_EQ(fromBody.retryAfterSeconds, 42);
  EXPECT_EQ(fromBody.code, "rate_limit_exceeded");
  EXPECT_TRUE(fromBody.retryable);
  const GatewayError fromHeader = vertexAdapter().mapError(429, body, 7);
  EXPECT_EQ(fromHeader.retryAfterSeconds, 7);
}

// After Done or Failed the decoder appends nothing and keeps its status.
TEST(GeminiStream, SilentAfterEnd) {
  const ResponseOptions ropts{"m", "chatcmpl-x", 1, true};
  auto dec = adapter().makeStreamDecoder(ropts);
  std::string out;
  EXPECT_EQ(dec->feed("data: {\"error\":{\"code\":429,\"message\":\"slow\",\"status\":"
                      "\"RESOURCE_EXHAUSTED\"}}\r\n\r\n",
                      out),
            StreamStatus::Failed);
  const std::string before = out;
  EXPECT_EQ(dec->feed("data: {\"candidates\":[]}\r\n\r\n", out), StreamStatus::Failed);
  EXPECT_EQ(dec->finish(out), StreamStatus::Failed);
  EXPECT_EQ(out, before);
  EXPECT_NE(out.find("rate_limit_exceeded"), std::string::npos) << out;
}

}  // namespace
}  // namespace llmux::providers::gemini
