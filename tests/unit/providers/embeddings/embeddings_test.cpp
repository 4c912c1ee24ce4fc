// Focused checks of the embeddings adapters beyond the golden files: the base64 encoding (decoded
// here and compared bit for bit with the float32 of each upstream value), the float rendering,
// the provider lookup and per-call limits, and the error paths.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/embeddings/embeddings.hpp"
#include "providers/embeddings/internal.hpp"

namespace llmux::providers::embeddings {
namespace {

namespace dom = simdjson::dom;

std::optional<std::string> decodeBase64(std::string_view s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (s.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < s.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = s[i + k];
      if (c == '=') {
        if (i + 4 != s.size() || k < 2) return std::nullopt;
        ++pad;
        n <<= 6;
        continue;
      }
      if (pad != 0) return std::nullopt;
      const int v = value(c);
      if (v < 0) return std::nullopt;
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    out.push_back(static_cast<char>((n >> 16) & 0xFF));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
  }
  return out;
}

// Little-endian float32 bytes → floats, as the OpenAI SDKs read them (Float32Array).
std::vector<uint32_t> floatBits(std::string_view bytes) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
    out.push_back(uint32_t(uint8_t(bytes[i])) | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                  uint32_t(uint8_t(bytes[i + 2])) << 16 | uint32_t(uint8_t(bytes[i + 3])) << 24);
  }
  return out;
}

uint32_t bitsOf(double upstream) {
  return std::bit_cast<uint32_t>(static_cast<float>(upstream));
}

struct Translated {
  std::optional<GatewayError> err;
  std::string out;
  Usage usage;
};

Translated translate(const providers::Adapter& a, std::string_view body, bool base64) {
  ResponseOptions opts{"client-model", "id", 1, false, base64};
  dom::parser parser;
  Translated t;
  t.out = "stale";
  t.usage.present = true;
  t.usage.promptTokens = -1;
  t.err = a.translateResponse(body, opts, parser, t.out, t.usage);
  return t;
}

// The "embedding" members of a translated list, in order.
std::vector<dom::element> embeddingsOf(dom::parser& parser, const std::string& out) {
  std::vector<dom::element> v;
  dom::element doc;
  EXPECT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
  dom::array data;
  EXPECT_EQ(doc["data"].get(data), simdjson::SUCCESS) << out;
  for (dom::element item : data) v.push_back(item["embedding"].value_unsafe());
  return v;
}

// Values every provider's body below carries: ordinary ones, an integer, negative zero, the
// float32 extremes (largest finite, smallest subnormal) and one that float32 must round.
constexpr double kValues[] = {
    0.0123, -0.0456, 1, -0.0, 3.4028234663852886e38, 1.401298464324817e-45, 0.1, -1.0000000001};
const std::string kVector =
    "[0.0123,-0.0456,1,-0.0,3.4028234663852886e38,1.401298464324817e-45,0.1,-1.0000000001]";

struct ProviderBody {
  const providers::Adapter& adapter;
  std::string body;  // two vectors: kVector, then [0.5]
};

std::vector<ProviderBody> bodies() {
  return {
      {geminiAdapter(), R"({"embeddings":[{"values":)" + kVector + R"(},{"values":[0.5]}]})"},
      {vertexAdapter(), R"({"predictions":[{"embeddings":{"values":)" + kVector +
                            R"(}},{"embeddings":{"values":[0.5]}}]})"},
      {bedrockCohereAdapter(), R"({"embeddings":[)" + kVector + R"(,[0.5]]})"},
      {cohereAdapter(), R"({"embeddings":{"float":[)" + kVector + R"(,[0.5]]}})"},
      {ollamaAdapter(), R"({"embeddings":[)" + kVector + R"(,[0.5]]})"},
  };
}

TEST(EmbeddingsBase64, DecodesToTheUpstreamFloat32Bits) {
  for (const ProviderBody& pb : bodies()) {
    SCOPED_TRACE(std::string(pb.adapter.name));
    const Translated t = translate(pb.adapter, pb.body, true);
    ASSERT_FALSE(t.err) << t.err->toJson();
    dom::parser parser;
    const auto embs = embeddingsOf(parser, t.out);
    ASSERT_EQ(embs.size(), 2u);
    std::string_view b64;
    ASSERT_EQ(embs[0].get(b64), simdjson::SUCCESS) << t.out;
    const auto bytes = decodeBase64(b64);
    ASSERT_TRUE(bytes) << b64;
    const auto bits = floatBits(*bytes);
    ASSERT_EQ(bytes->size(), std::size(kValues) * 4);
    for (size_t i = 0; i < std::size(kValues); ++i) EXPECT_EQ(bits[i], bitsOf(kValues[i])) << i;
    ASSERT_EQ(embs[1].get(b64), simdjson::SUCCESS);
    EXPECT_EQ(b64, "AAAAPw==");  // 0.5f = 0x3F000000, little-endian
  }
}

TEST(EmbeddingsBase64, TitanSingleVector) {
  const Translated t = translate(
      bedrockTitanAdapter(), R"({"embedding":)" + kVector + R"(,"inputTextTokenCount":3})", true);
  ASSERT_FALSE(t.err);
  dom::parser parser;
  const auto embs = embeddingsOf(parser, t.out);
  ASSERT_EQ(embs.size(), 1u);
  std::string_view b64;
  ASSERT_EQ(embs[0].get(b64), simdjson::SUCCESS);
  const auto bits = floatBits(decodeBase64(b64).value_or(""));
  ASSERT_EQ(bits.size(), std::size(kValues));
  for (size_t i = 0; i < std::size(kValues); ++i) EXPECT_EQ(bits[i], bitsOf(kValues[i])) << i;
  EXPECT_TRUE(t.usage.present);
  EXPECT_EQ(t.usage.promptTokens, 3);
}

TEST(EmbeddingsBase64, WholeBodyShape) {
  const Translated t =
      translate(ollamaAdapter(), R"({"embeddings":[[1],[0.5,0.25]],"prompt_eval_count":5})", true);
  ASSERT_FALSE(t.err);
  EXPECT_EQ(t.out,
            R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPw=="},)"
            R"({"object":"embedding","index":1,"embedding":"AAAAPwAAgD4="}],)"
            R"("model":"client-model","usage":{"prompt_tokens":5,"total_tokens":5}})");
}

// RFC 4648 §10 test vectors.
TEST(EmbeddingsBase64, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> cases[] = {{"", ""},
                                                                 {"f", "Zg=="},
                                                                 {"fo", "Zm8="},
                                                                 {"foo", "Zm9v"},
                                                                 {"foob", "Zm9vYg=="},
                                                                 {"fooba", "Zm9vYmE="},
                                                                 {"foobar", "Zm9vYmFy"}};
  for (const auto& [in, want] : cases) {
    std::string out = "x";
    detail::appendBase64(out, in);
    EXPECT_EQ(out, "x" + std::string(want)) << in;
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string enc;
  detail::appendBase64(enc, all);
  EXPECT_EQ(decodeBase64(enc), all);
}

// The JSON floats read back (as float32) to exactly the float32 of the upstream value.
TEST(EmbeddingsFloats, ShortestRoundTrip) {
  for (const ProviderBody& pb : bodies()) {
    SCOPED_TRACE(std::string(pb.adapter.name));
    const Translated t = translate(pb.adapter, pb.body, false);
    ASSERT_FALSE(t.err);
    dom::parser parser;
    const auto embs = embeddingsOf(parser, t.out);
    ASSERT_EQ(embs.size(), 2u);
    dom::array arr;
    ASSERT_EQ(embs[0].get(arr), simdjson::SUCCESS);
    ASSERT_EQ(arr.size(), std::size(kValues));
    size_t i = 0;
    for (dom::element e : arr) {
      double d = 0;
      ASSERT_EQ(e.get_double().get(d), simdjson::SUCCESS);
      // (simdjson reads "-0" as the integer 0; the exact text is checked below.)
      if (kValues[i] != 0) {
        EXPECT_EQ(std::bit_cast<uint32_t>(static_cast<float>(d)), bitsOf(kValues[i])) << i;
      } else {
        EXPECT_EQ(d, 0.0) << i;
      }
      ++i;
    }
  }
  const Translated t = translate(ollamaAdapter(), R"({"embeddings":[)" + kVector + "]}", false);
  EXPECT_NE(t.out.find(R"("embedding":[0.0123,-0.0456,1,-0,3.4028235e+38,1e-45,0.1,-1])"),
            std::string::npos)
      << t.out;
}

TEST(EmbeddingsFloats, AppendFloat) {
  std::string s;
  detail::appendFloat(s, 0.1f);
  EXPECT_EQ(s, "0.1");
  s.clear();
  detail::appendFloat(s, 123456789.0f);
  EXPECT_EQ(s, "123456792");  // libstdc++ prints the float's exact integer value in fixed form
  s.clear();
  detail::appendFloat(s, -2.5e-7f);
  EXPECT_EQ(s, "-2.5e-07");
}

TEST(EmbeddingsResponse, OverflowAndGarbageAre502) {
  const char* bad[] = {
      R"({"embeddings":[[1e39]]})",
      R"({"embeddings":[[-1e39]]})",
      R"({"embeddings":[[true]]})",
      R"({"embeddings":[["1"]]})",
      R"({"embeddings":[[]]})",
      R"({"embeddings":[]})",
      R"({"embeddings":[[0.1],7]})",
      R"({"embeddings":"AAAA"})",
      "",
      "null",
      "[[0.1]]",
      R"({"embeddings":[[1e400]]})",
  };
  for (bool base64 : {false, true}) {
    for (const char* body : bad) {
      const Translated t = translate(ollamaAdapter(), body, base64);
      ASSERT_TRUE(t.err) << body;
      EXPECT_EQ(t.err->status, 502) << body;
      EXPECT_EQ(t.err->code, "upstream_protocol_error") << body;
      EXPECT_FALSE(t.usage.present);
    }
  }
}

TEST(EmbeddingsResponse, UsageAbsentIsZeroInTheBody) {
  const Translated t = translate(geminiAdapter(), R"({"embeddings":[{"values":[0.5]}]})", false);
  ASSERT_FALSE(t.err);
  EXPECT_FALSE(t.usage.present);
  EXPECT_EQ(t.usage.promptTokens, 0);
  EXPECT_NE(t.out.find(R"("usage":{"prompt_tokens":0,"total_tokens":0})"), std::string::npos);
}

TEST(EmbeddingsResponse, ClientModelIsEscaped) {
  ResponseOptions opts{"a\"b\\c", "id", 1, false, false};
  dom::parser parser;
  std::string out;
  Usage usage;
  ASSERT_FALSE(
      ollamaAdapter().translateResponse(R"({"embeddings":[[1]]})", opts, parser, out, usage));
  EXPECT_NE(out.find(R"("model":"a\"b\\c")"), std::string::npos) << out;
}

// ------------------------------------------------------------------ lookup and limits

TEST(EmbeddingsLookup, ProvidersAndModels) {
  EXPECT_EQ(embeddingAdapter("gemini", "gemini-embedding-001"), &geminiAdapter());
  EXPECT_EQ(embeddingAdapter("vertex_ai", "text-embedding-005"), &vertexAdapter());
  EXPECT_EQ(embeddingAdapter("cohere", "embed-v4.0"), &cohereAdapter());
  EXPECT_EQ(embeddingAdapter("cohere_chat", "embed-v4.0"), &cohereAdapter());
  EXPECT_EQ(embeddingAdapter("ollama", "nomic-embed-text"), &ollamaAdapter());
  EXPECT_EQ(embeddingAdapter("ollama_chat", "nomic-embed-text"), &ollamaAdapter());
  EXPECT_EQ(embeddingAdapter("bedrock", "amazon.titan-embed-text-v2:0"), &bedrockTitanAdapter());
  EXPECT_EQ(embeddingAdapter("bedrock", "amazon.titan-embed-image-v1"), &bedrockTitanAdapter());
  EXPECT_EQ(embeddingAdapter("bedrock", "us.amazon.titan-embed-text-v2:0"), &bedrockTitanAdapter());
  EXPECT_EQ(
      embeddingAdapter("bedrock",
                       "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v1"),
      &bedrockTitanAdapter());
  EXPECT_EQ(embeddingAdapter("bedrock", "cohere.embed-english-v3"), &bedrockCohereAdapter());
  EXPECT_EQ(embeddingAdapter("bedrock", "global.cohere.embed-v4:0"), &bedrockCohereAdapter());
  EXPECT_EQ(embeddingAdapter("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"), nullptr);
  EXPECT_EQ(embeddingAdapter("bedrock", "cohere.command-r-v1:0"), nullptr);
  EXPECT_EQ(embeddingAdapter("bedrock", "amazon.nova-pro-v1:0"), nullptr);
  EXPECT_EQ(embeddingAdapter("bedrock",
                             "arn:aws:bedrock:us-east-1:1:application-inference-"
                             "profile/abc123"),
            nullptr);
  EXPECT_EQ(embeddingAdapter("bedrock", ""), nullptr);
  EXPECT_EQ(embeddingAdapter("openai", "text-embedding-3-small"), nullptr);
  EXPECT_EQ(embeddingAdapter("azure", "text-embedding-3-small"), nullptr);
  EXPECT_EQ(embeddingAdapter("mistral", "mistral-embed"), nullptr);
  EXPECT_EQ(embeddingAdapter("", ""), nullptr);
}

TEST(EmbeddingsLookup, NamesAndNoStreaming) {
  for (const providers::Adapter* a :
       {&geminiAdapter(), &vertexAdapter(), &bedrockTitanAdapter(), &bedrockCohereAdapter(),
        &cohereAdapter(), &ollamaAdapter()}) {
    EXPECT_EQ(a->makeStreamDecoder, nullptr) << a->name;
    EXPECT_NE(a->buildRequest, nullptr);
    EXPECT_NE(a->translateResponse, nullptr);
    EXPECT_NE(a->mapError, nullptr);
  }
  EXPECT_EQ(geminiAdapter().name, "gemini");
  EXPECT_EQ(vertexAdapter().name, "vertex_ai");
  EXPECT_EQ(bedrockTitanAdapter().name, "bedrock");
  EXPECT_EQ(bedrockCohereAdapter().name, "bedrock");
  EXPECT_EQ(cohereAdapter().name, "cohere");
  EXPECT_EQ(ollamaAdapter().name, "ollama");
}

TEST(EmbeddingsLookup, MaxInputsPerCall) {
  EXPECT_EQ(maxInputsPerCall("gemini", "gemini-embedding-001"), 100u);
  EXPECT_EQ(maxInputsPerCall("vertex_ai", "gemini-embedding-001"), 1u);
  EXPECT_EQ(maxInputsPerCall("vertex_ai", "text-embedding-005"), 250u);
  EXPECT_EQ(maxInputsPerCall("bedrock", "amazon.titan-embed-text-v2:0"), 1u);
  EXPECT_EQ(maxInputsPerCall("bedrock", "cohere.embed-english-v3"), 96u);
  EXPECT_EQ(maxInputsPerCall("bedrock", "anthropic.claude-x"), 0u);
  EXPECT_EQ(maxInputsPerCall("cohere", "embed-v4.0"), 96u);
  EXPECT_EQ(maxInputsPerCall("cohere_chat", "embed-v4.0"), 96u);
  EXPECT_EQ(maxInputsPerCall("ollama", "nomic-embed-text"), 0u);
  EXPECT_EQ(maxInputsPerCall("openai", "x"), 0u);
}

// ------------------------------------------------------------------ requests

struct Built {
  std::optional<GatewayError> err;
  UpstreamCall call;
};

Built build(const providers::Adapter& a, std::string_view json, std::string_view model,
            bool dropParams = false) {
  dom::parser parser;
  dom::element req;
  Built b;
  EXPECT_EQ(parser.parse(json).get(req), simdjson::SUCCESS) << json;
  RequestOptions opts;
  opts.upstreamModel = model;
  opts.project = "p";
  opts.location = "us-central1";
  opts.dropParams = dropParams;
  b.call.path = "stale";
  b.call.body = "stale";
  b.call.headers = "stale: 1\r\n";
  b.call.dropped = {"stale"};
  b.err = a.buildRequest(req, opts, b.call);
  return b;
}

const providers::Adapter* const kAll[] = {&geminiAdapter(),       &vertexAdapter(),
                                          &bedrockTitanAdapter(), &bedrockCohereAdapter(),
                                          &cohereAdapter(),       &ollamaAdapter()};

TEST(EmbeddingsRequest, TokenInputsAre400OnInput) {
  for (const providers::Adapter* a : kAll) {
    for (const char* json :
         {R"({"model":"m","input":[1,2,3]})", R"({"model":"m","input":[[1],[2,3]]})"}) {
      const Built b = build(*a, json, "model-x");
      ASSERT_TRUE(b.err) << a->name << json;
      EXPECT_EQ(b.err->status, 400);
      EXPECT_EQ(b.err->param, "input");
      EXPECT_EQ(b.err->code, "unsupported_parameter");
      EXPECT_NE(b.err->message.find(std::string(a->name)), std::string::npos) << b.err->message;
    }
  }
}

// What the engine normally rejects first must still give a clean answer, never a crash.
TEST(EmbeddingsRequest, EngineRejectedShapesDoNotCrash) {
  const char* cases[] = {
      R"({"model":"m"})",
      R"({"model":"m","input":null})",
      R"({"model":"m","input":[]})",
      R"({"model":"m","input":[[]]})",
      R"({"model":"m","input":[null]})",
      R"({"model":"m","input":[1,"a"]})",
      R"({"model":"m","input":[[1],"a"]})",
      R"({"model":"m","input":[1,[2]]})",
      R"({"model":"m","input":[[1],2]})",
      R"({"model":"m","input":[[1],[1.5]]})",
      R"({"model":"m","input":[-1.5]})",
      R"({"model":"m","input":7})",
      R"({"model":"m","input":"x","dimensions":-3})",
      R"({"model":"m","input":"x","dimensions":18446744073709551615})",
      R"({"model":"m","input":"x","dimensions":4294967296})",
      R"({"model":"m","input":"x","dimensions":[256]})",
  };
  for (const providers::Adapter* a : kAll) {
    for (const char* json : cases) {
      const Built b = build(*a, json, "model-x");
      ASSERT_TRUE(b.err) << a->name << " " << json;
      EXPECT_EQ(b.err->status, 400) << json;
      EXPECT_TRUE(b.err->param == "input" || b.err->param == "dimensions") << json;
    }
    // An empty string or an odd encoding_format is the engine's to reject; the translator builds.
    const Built ok = build(*a, R"({"model":"m","input":"","encoding_format":"bogus"})", "model-x");
    EXPECT_FALSE(ok.err) << a->name << " " << ok.err->toJson();
    EXPECT_TRUE(ok.call.headers.empty());
    EXPECT_TRUE(ok.call.dropped.empty());
    EXPECT_NE(ok.call.body, "stale");
  }
}

TEST(EmbeddingsRequest, TitanTakesOneInput) {
  const Built b = build(bedrockTitanAdapter(), R"({"model":"m","input":["a","b","c"]})",
                        "amazon.titan-embed-text-v2:0");
  ASSERT_TRUE(b.err);
  EXPECT_EQ(b.err->status, 400);
  EXPECT_EQ(b.err->param, "input");
  EXPECT_NE(b.err->message.find("at most 1 input per"), std::string::npos) << b.err->message;
  EXPECT_NE(b.err->message.find("has 3"), std::string::npos) << b.err->message;
}

TEST(EmbeddingsRequest, BedrockPathEncodesTheModelId) {
  const Built b =
      build(bedrockTitanAdapter(), R"({"model":"m","input":"x"})", "amazon.titan-embed-text-v2:0");
  ASSERT_FALSE(b.err);
  EXPECT_EQ(b.call.path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
  const Built c = build(bedrockCohereAdapter(), R"({"model":"m","input":"x"})",
                        "arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-v4:0");
  ASSERT_FALSE(c.err);
  EXPECT_EQ(c.call.path,
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fcohere.embed-v4%3A0/"
            "invoke");
}

TEST(EmbeddingsRequest, DroppedDimensionsAreReported) {
  const Built b = build(cohereAdapter(), R"({"model":"m","input":"x","dimensions":256})",
                        "embed-english-v3.0", true);
  ASSERT_FALSE(b.err);
  EXPECT_EQ(b.call.dropped, std::vector<std::string>{"dimensions"});
  EXPECT_EQ(b.call.body.find("output_dimension"), std::string::npos);
  const Built e = build(cohereAdapter(), R"({"model":"m","input":"x","dimensions":256})",
                        "embed-english-v3.0", false);
  ASSERT_TRUE(e.err);
  EXPECT_EQ(e.err->param, "dimensions");
  EXPECT_EQ(e.err->code, "unsupported_parameter");
}

// ------------------------------------------------------------------ errors

TEST(EmbeddingsErrors, RetryAfterAndRouterFlags) {
  struct Case {
    const providers::Adapter& adapter;
    std::string_view body;
  };
  const Case cases[] = {
      {geminiAdapter(), R"({"error":{"code":429,"message":"slow","status":"RESOURCE_EXHAUSTED"}})"},
      {vertexAdapter(), R"({"error":{"code":429,"message":"slow","status":"RESOURCE_EXHAUSTED"}})"},
      {bedrockTitanAdapter(), R"({"message":"Too many requests, please wait."})"},
      {bedrockCohereAdapter(), R"({"message":"Too many requests, please wait."})"},
      {cohereAdapter(), R"({"message":"too many requests"})"},
      {ollamaAdapter(), R"({"error":"too many requests"})"},
  };
  for (const Case& c : cases) {
    const GatewayError e = c.adapter.mapError(429, c.body, 17);
    EXPECT_EQ(e.status, 429) << c.adapter.name;
    EXPECT_EQ(e.retryAfterSeconds, 17) << c.adapter.name;
    EXPECT_TRUE(e.retryable) << c.adapter.name;
    EXPECT_TRUE(e.fallbackAllowed) << c.adapter.name;
    EXPECT_EQ(e.code, "rate_limit_exceeded") << c.adapter.name;
  }
  for (const providers::Adapter* a : kAll) {
    const GatewayError bad = a->mapError(400, R"({"message":"bad input"})", std::nullopt);
    EXPECT_EQ(bad.status, 400) << a->name;
    EXPECT_FALSE(bad.retryable) << a->name;
    EXPECT_FALSE(bad.fallbackAllowed) << a->name;
    const GatewayError down = a->mapError(503, "<html>down</html>", std::nullopt);
    EXPECT_EQ(down.status, 503) << a->name;
    EXPECT_TRUE(down.retryable) << a->name;
    const GatewayError empty = a->mapError(500, "", std::nullopt);
    EXPECT_EQ(empty.status, 500) << a->name;
    EXPECT_FALSE(empty.message.empty()) << a->name;
  }
}

}  // namespace
}  // namespace llmux::providers::embeddings
