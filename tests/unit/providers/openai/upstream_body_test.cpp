#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <string>
#include <vector>

#include "providers/openai/openai.hpp"
#include "unit/providers/openai/request_spans.hpp"

namespace llmux::providers::openai {
namespace {

using test_support::spansFor;

constexpr std::string_view kUpstream = "gpt-4o-mini-2024-07-18";

std::string build(std::string_view body, std::string_view model = kUpstream) {
  types::ChatRequest req;
  EXPECT_TRUE(spansFor(body, req)) << body;
  std::string out = "stale";
  buildUpstreamBody(body, req, model, out);
  return out;
}

// Members of a top-level object as key -> minified value; duplicates are reported via `dupes`.
std::map<std::string, std::string> members(simdjson::dom::object obj, int* dupes = nullptr) {
  std::map<std::string, std::string> m;
  for (auto [key, value] : obj) {
    auto [it, inserted] = m.emplace(std::string(key), simdjson::minify(value));
    if (!inserted && dupes != nullptr) ++*dupes;
  }
  return m;
}

// The output is valid JSON and differs from the input only where the gateway owns the fields.
void expectEquivalent(std::string_view in, std::string_view out, std::string_view model,
                      bool stream) {
  simdjson::dom::parser pin;
  simdjson::dom::parser pout;
  simdjson::dom::element ein;
  simdjson::dom::element eout;
  ASSERT_EQ(pin.parse(in.data(), in.size()).get(ein), simdjson::SUCCESS) << in;
  ASSERT_EQ(pout.parse(out.data(), out.size()).get(eout), simdjson::SUCCESS) << out;
  simdjson::dom::object oin;
  simdjson::dom::object oout;
  ASSERT_EQ(ein.get_object().get(oin), simdjson::SUCCESS);
  ASSERT_EQ(eout.get_object().get(oout), simdjson::SUCCESS);
  auto min = members(oin);
  int dupes = 0;
  auto mout = members(oout, &dupes);
  EXPECT_EQ(dupes, 0) << out;
  std::string_view gotModel;
  ASSERT_EQ(oout["model"].get_string().get(gotModel), simdjson::SUCCESS);
  EXPECT_EQ(gotModel, model);
  if (stream) {
    simdjson::dom::object so;
    ASSERT_EQ(oout["stream_options"].get_object().get(so), simdjson::SUCCESS) << out;
    bool includeUsage = false;
    ASSERT_EQ(so["include_usage"].get_bool().get(includeUsage), simdjson::SUCCESS) << out;
    EXPECT_TRUE(includeUsage);
    int soDupes = 0;
    auto soOut = members(so, &soDupes);
    EXPECT_EQ(soDupes, 0) << out;
    std::map<std::string, std::string> soIn;
    simdjson::dom::object inSo;
    if (oin["stream_options"].get_object().get(inSo) == simdjson::SUCCESS) soIn = members(inSo);
    soIn.erase("include_usage");
    soOut.erase("include_usage");
    EXPECT_EQ(soIn, soOut) << out;
    min.erase("stream_options");
    mout.erase("stream_options");
  }
  min.erase("model");
  mout.erase("model");
  EXPECT_EQ(min, mout) << out;
}

TEST(OpenAiUpstreamBody, ReplacesOnlyTheModelToken) {
  const std::string in =
      R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi \"model\": x"}],)"
      R"( "temperature" : 0.2 , "x":"caf\u00e9 ☕"})";
  const std::string want =
      R"({"model":"gpt-4o-mini-2024-07-18","messages":[{"role":"user","content":"hi \"model\": x"}],)"
      R"( "temperature" : 0.2 , "x":"caf\u00e9 ☕"})";
  EXPECT_EQ(build(in), want);
}

TEST(OpenAiUpstreamBody, EscapesTheUpstreamModel) {
  const std::string in = R"({"model":"m","messages":[{"role":"user","content":"x"}]})";
  const std::string out = build(in, "we\"ird\\model\n");
  EXPECT_EQ(out, R"({"model":"we\"ird\\model\n","messages":[{"role":"user","content":"x"}]})");
  expectEquivalent(in, out, "we\"ird\\model\n", false);
}

TEST(OpenAiUpstreamBody, KeepsWhitespaceAroundTheModel) {
  const std::string in = "{\n  \"model\" :  \"a\"  ,\n  \"messages\": []\n}\n";
  EXPECT_EQ(build(in, "b"), "{\n  \"model\" :  \"b\"  ,\n  \"messages\": []\n}\n");
}

TEST(OpenAiUpstreamBody, StreamWithoutOptionsGetsIncludeUsage) {
  const std::string in =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]})";
  EXPECT_EQ(build(in, "u"),
            R"({"model":"u","stream":true,"messages":[{"role":"user","content":"x"}])"
            R"(,"stream_options":{"include_usage":true}})");
}

TEST(OpenAiUpstreamBody, InsertionKeepsTrailingBytes) {
  const std::string in = "{\"model\":\"m\",\"stream\":true,\"messages\":[]\n}\r\n";
  EXPECT_EQ(build(in, "u"),
            "{\"model\":\"u\",\"stream\":true,\"messages\":[]"
            ",\"stream_options\":{\"include_usage\":true}\n}\r\n");
}

TEST(OpenAiUpstreamBody, InsertionRightAfterAModelThatIsLast) {
  EXPECT_EQ(
      build(R"({"stream":true,"messages":[],"model":"m"  })", "upstream"),
      R"({"stream":true,"messages":[],"model":"upstream","stream_options":{"include_usage":true}  })");
}

TEST(OpenAiUpstreamBody, IncludeUsageFalseBecomesTrue) {
  const std::string in =
      R"({"model":"m","stream":true,"stream_options":{"include_usage":false},"messages":[]})";
  EXPECT_EQ(build(in, "u"),
            R"({"model":"u","stream":true,"stream_options":{"include_usage":true},"messages":[]})");
}

TEST(OpenAiUpstreamBody, KeepsOtherStreamOptions) {
  const std::string in =
      R"({"model":"m","stream":true,"stream_options":{"include_obfuscation":false},"messages":[]})";
  EXPECT_EQ(
      build(in, "u"),
      R"({"model":"u","stream":true,)"
      R"("stream_options":{"include_usage":true,"include_obfuscation":false},"messages":[]})");
}

TEST(OpenAiUpstreamBody, NullAndEmptyStreamOptions) {
  EXPECT_EQ(build(R"({"model":"m","stream":true,"stream_options":null,"messages":[]})", "u"),
            R"({"model":"u","stream":true,"stream_options":{"include_usage":true},"messages":[]})");
  EXPECT_EQ(build(R"({"model":"m","stream":true,"stream_options":{ },"messages":[]})", "u"),
            R"({"model":"u","stream":true,"stream_options":{"include_usage":true},"messages":[]})");
}

TEST(OpenAiUpstreamBody, StreamOptionsBeforeModel) {
  const std::string in =
      R"({"stream_options" : { "include_usage" : false , "include_obfuscation" : true } ,)"
      R"("stream":true,"model":"m","messages":[]})";
  EXPECT_EQ(build(in, "upstream-long-name"),
            R"({"stream_options":{"include_usage":true,"include_obfuscation":true} ,)"
            R"("stream":true,"model":"upstream-long-name","messages":[]})");
}

TEST(OpenAiUpstreamBody, EscapedAndDuplicateIncludeUsageKeysCollapse) {
  const std::string in =
      R"({"model":"m","stream":true,"stream_options":{"include\u005fusage":false,"a":1,)"
      R"("include_usage":false},"messages":[]})";
  const std::string out = build(in, "u");
  EXPECT_EQ(out, R"({"model":"u","stream":true,"stream_options":{"include_usage":true,"a":1},)"
                 R"("messages":[]})");
}

TEST(OpenAiUpstreamBody, NestedStreamOptionValuesKeptVerbatim) {
  const std::string in =
      R"({"model":"m","stream":true,"stream_options":{"x":{"a":"}{\"]"},"include_usage":true,)"
      R"("y":[1,{"b":[2.50e1,null]}],"z":"\\"},"messages":[]})";
  const std::string out = build(in, "u");
  EXPECT_EQ(out, R"({"model":"u","stream":true,"stream_options":{"include_usage":true,)"
                 R"("x":{"a":"}{\"]"},"y":[1,{"b":[2.50e1,null]}],"z":"\\"},"messages":[]})");
  expectEquivalent(in, out, "u", true);
}

TEST(OpenAiUpstreamBody, NonStreamLeavesStreamOptionsAlone) {
  const std::string in =
      R"({"model":"m","stream":false,"stream_options":{"include_usage":false},"messages":[]})";
  EXPECT_EQ(
      build(in, "u"),
      R"({"model":"u","stream":false,"stream_options":{"include_usage":false},"messages":[]})");
}

TEST(OpenAiUpstreamBody, HandBuiltRequestWithoutSpansCopiesBody) {
  const std::string in = R"({"model":"m","messages":[]})";
  types::ChatRequest req;  // no spans: nothing to replace
  std::string out;
  buildUpstreamBody(in, req, "u", out);
  EXPECT_EQ(out, in);
}

TEST(OpenAiUpstreamBody, OutOfRangeSpansAreIgnored) {
  const std::string in = R"({"model":"m","messages":[]})";
  types::ChatRequest req;
  req.modelSpan = {9, 400};
  req.stream = true;
  req.streamOptionsMember = {300, 310};
  req.objectEnd = 500;
  std::string out;
  buildUpstreamBody(in, req, "u", out);
  EXPECT_EQ(out, in);
}

TEST(OpenAiUpstreamBody, MalformedStreamOptionsMemberFallsBackToForcedObject) {
  // An inconsistent span (pointing at something that is not a stream_options member) must still
  // give valid JSON.
  const std::string in = R"({"model":"m","stream":true,"stream_options":{"a":},"messages":[]})";
  types::ChatRequest req;
  req.modelSpan = {9, 12};
  req.stream = true;
  const std::string_view member = R"("stream_options":{"a":})";
  req.streamOptionsMember = {in.find(member), in.find(member) + member.size()};
  req.objectEnd = in.size() - 1;
  std::string out;
  buildUpstreamBody(in, req, "u", out);
  EXPECT_EQ(out,
            R"({"model":"u","stream":true,"stream_options":{"include_usage":true},"messages":[]})");
}

TEST(OpenAiUpstreamBody, EmptyObjectGetsNoLeadingComma) {
  const std::string in = "{ }";
  types::ChatRequest req;
  req.stream = true;
  req.objectEnd = 2;
  std::string out;
  buildUpstreamBody(in, req, "u", out);
  EXPECT_EQ(out, R"({"stream_options":{"include_usage":true} })");
}

// Every combination of member order, stream flag and stream_options shape re-parses as JSON that
// matches the input everywhere the gateway does not own.
TEST(OpenAiUpstreamBody, AllCombinationsReparse) {
  const std::vector<std::string> streamOptions = {
      "",
      R"("stream_options":null)",
      R"("stream_options":{})",
      R"("stream_options" : {"include_usage":true})",
      R"("stream_options":{"include_usage":false,"include_obfuscation":false})",
      R"("stream_options":{ "include_obfuscation" : true , "include_usage" : false })",
      R"("stream_options":{"nested":{"k":["}",{"q":"\"{"}]},"n":-1.5e-3,"t":true,"f":false})",
  };
  const std::vector<std::string> models = {R"("model":"gpt-4o")", R"("model" : "a\"b\u00e9")"};
  const std::vector<std::string> streams = {"", R"("stream":true)", R"("stream":false)"};
  const std::vector<std::string> extras = {
      R"("messages":[{"role":"user","content":"stream_options \"model\" {}"}])",
      R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}])",
      R"("metadata":{"model":"not-this","stream_options":null})"};
  const std::vector<std::string_view> upstreams = {"u", "acc/fw/m\"x\\", "é-模型"};
  int cases = 0;
  for (const auto& so : streamOptions) {
    for (const auto& model : models) {
      for (const auto& stream : streams) {
        for (int order = 0; order < 4; ++order) {
          std::vector<std::string> parts(extras.begin(), extras.end());
          // Rotate the owned members through different positions.
          auto at = [&](int idx) {
            return parts.begin() + std::min<std::ptrdiff_t>(idx, std::ssize(parts));
          };
          parts.insert(at(order), model);
          if (!stream.empty()) parts.insert(at(3 - order), stream);
          if (!so.empty()) parts.insert(at((order * 2) % 5), so);
          std::string body = order % 2 == 0 ? "{" : "{\n  ";
          for (size_t k = 0; k < parts.size(); ++k) {
            if (k > 0) body += order % 2 == 0 ? "," : ",\n  ";
            body += parts[k];
          }
          body += order % 2 == 0 ? "}" : "\n}\n";
          const std::string_view upstream =
              upstreams[static_cast<size_t>(cases) % upstreams.size()];
          types::ChatRequest req;
          ASSERT_TRUE(spansFor(body, req)) << body;
          std::string out;
          buildUpstreamBody(body, req, upstream, out);
          SCOPED_TRACE(body);
          expectEquivalent(body, out, upstream, req.stream);
          if (!req.stream) {
            // Outside the model token the bytes are identical.
            EXPECT_EQ(out.substr(0, req.modelSpan.begin), body.substr(0, req.modelSpan.begin));
          }
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 7 * 2 * 3 * 4);
}

}  // namespace
}  // namespace llmux::providers::openai
