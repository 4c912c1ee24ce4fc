// Fuzzes the embeddings translators (providers/embeddings). The first input byte picks the
// adapter (bits 0-2), whether the client asked for base64 (bit 3) and an error status (bits 4-7);
// the rest is an upstream body. Besides "no crash" it checks that:
//   * translateResponse gives a GatewayError with an error status, or one JSON object of OpenAI's
//     list shape whose embeddings are arrays of numbers (float) or padded base64 strings of
//     float32 values (base64), indexed 0..n-1, with non-negative usage and prompt == total;
//   * the float and base64 renderings of the same body agree value for value;
//   * mapError on the same body gives a status >= 400 and a JSON error;
//   * when the body is JSON, buildRequest treats it as a client request without crashing and any
//     body it builds is one JSON object.
#include <simdjson.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "providers/embeddings/embeddings.hpp"

namespace {

namespace dom = simdjson::dom;
using llmux::providers::Adapter;

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes padded standard base64 into float32 bit patterns (little-endian); aborts on bad input.
std::vector<uint32_t> decodeFloats(std::string_view s) {
  LLMUX_FUZZ_CHECK(s.size() % 4 == 0);
  std::string bytes;
  for (size_t i = 0; i < s.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = s[i + k];
      if (c == '=') {
        LLMUX_FUZZ_CHECK(i + 4 == s.size() && k >= 2);
        ++pad;
        n <<= 6;
        continue;
      }
      LLMUX_FUZZ_CHECK(pad == 0);
      const int v = base64Value(c);
      LLMUX_FUZZ_CHECK(v >= 0);
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    bytes.push_back(static_cast<char>((n >> 16) & 0xFF));
    if (pad < 2) bytes.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) bytes.push_back(static_cast<char>(n & 0xFF));
  }
  LLMUX_FUZZ_CHECK(bytes.size() % 4 == 0 && !bytes.empty());
  std::vector<uint32_t> out;
  for (size_t i = 0; i < bytes.size(); i += 4) {
    out.push_back(uint32_t(uint8_t(bytes[i])) | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                  uint32_t(uint8_t(bytes[i + 2])) << 16 | uint32_t(uint8_t(bytes[i + 3])) << 24);
  }
  return out;
}

// The vectors of a translated list as float32 bit patterns (+0 for a zero, whose sign the JSON
// reader may drop), after checking the list's shape.
std::vector<std::vector<uint32_t>> checkList(std::string_view out, bool base64,
                                             const llmux::providers::Usage& usage) {
  dom::parser parser;
  dom::element doc;
  LLMUX_FUZZ_CHECK(parser.parse(out.data(), out.size()).get(doc) == simdjson::SUCCESS);
  std::string_view s;
  LLMUX_FUZZ_CHECK(doc["object"].get(s) == simdjson::SUCCESS && s == "list");
  LLMUX_FUZZ_CHECK(doc["model"].get(s) == simdjson::SUCCESS && s == "client-model");
  int64_t prompt = -1;
  int64_t total = -1;
  LLMUX_FUZZ_CHECK(doc["usage"]["prompt_tokens"].get(prompt) == simdjson::SUCCESS);
  LLMUX_FUZZ_CHECK(doc["usage"]["total_tokens"].get(total) == simdjson::SUCCESS);
  LLMUX_FUZZ_CHECK(prompt >= 0 && prompt == total);
  LLMUX_FUZZ_CHECK(usage.promptTokens >= 0 && usage.totalTokens == usage.promptTokens &&
                   usage.completionTokens == 0);
  LLMUX_FUZZ_CHECK(prompt == (usage.present ? usage.promptTokens : 0));
  dom::array data;
  LLMUX_FUZZ_CHECK(doc["data"].get(data) == simdjson::SUCCESS && data.size() > 0);
  std::vector<std::vector<uint32_t>> vectors;
  int64_t expect = 0;
  for (dom::element item : data) {
    int64_t index = -1;
    LLMUX_FUZZ_CHECK(item["index"].get(index) == simdjson::SUCCESS && index == expect++);
    LLMUX_FUZZ_CHECK(item["object"].get(s) == simdjson::SUCCESS && s == "embedding");
    dom::element emb;
    LLMUX_FUZZ_CHECK(item["embedding"].get(emb) == simdjson::SUCCESS);
    std::vector<uint32_t> bits;
    if (base64) {
      LLMUX_FUZZ_CHECK(emb.get_string().get(s) == simdjson::SUCCESS);
      bits = decodeFloats(s);
      for (uint32_t& b : bits) {
        if ((b & 0x7FFFFFFFu) == 0) b = 0;
        LLMUX_FUZZ_CHECK((b & 0x7F800000u) != 0x7F800000u);  // finite
      }
    } else {
      dom::array arr;
      LLMUX_FUZZ_CHECK(emb.get_array().get(arr) == simdjson::SUCCESS && arr.size() > 0);
      for (dom::element v : arr) {
        double d = 0;
        LLMUX_FUZZ_CHECK(v.get_double().get(d) == simdjson::SUCCESS);
        const float f = static_cast<float>(d);
        bits.push_back(f == 0 ? 0 : std::bit_cast<uint32_t>(f));
      }
    }
    vectors.push_back(std::move(bits));
  }
  return vectors;
}

struct Result {
  std::optional<llmux::GatewayError> err;
  std::string out;
  llmux::providers::Usage usage;
};

Result translate(const Adapter& a, std::string_view body, bool base64) {
  const llmux::providers::ResponseOptions opts{"client-model", "id", 1767225600, false, base64};
  dom::parser parser;
  Result r;
  r.out = "stale";
  r.err = a.translateResponse(body, opts, parser, r.out, r.usage);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace llmux::providers::embeddings;
  const Adapter* const adapters[] = {&geminiAdapter(),       &vertexAdapter(),
                                     &bedrockTitanAdapter(), &bedrockCohereAdapter(),
                                     &cohereAdapter(),       &ollamaAdapter()};
  const Adapter& a = *adapters[(data[0] & 7) % 6];
  const bool base64 = (data[0] & 8) != 0;
  const int status = 400 + (data[0] >> 4) * 7;  // 400..505
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  const Result primary = translate(a, body, base64);
  const Result other = translate(a, body, !base64);
  LLMUX_FUZZ_CHECK(primary.err.has_value() == other.err.has_value());
  if (primary.err) {
    LLMUX_FUZZ_CHECK(primary.err->status >= 400 && !primary.err->message.empty());
    dom::parser p;
    dom::element e;
    const std::string json = primary.err->toJson();
    LLMUX_FUZZ_CHECK(p.parse(json).get(e) == simdjson::SUCCESS);
  } else {
    const auto mine = checkList(primary.out, base64, primary.usage);
    const auto theirs = checkList(other.out, !base64, other.usage);
    LLMUX_FUZZ_CHECK(mine == theirs);
  }

  const llmux::GatewayError mapped = a.mapError(status, body, std::nullopt);
  LLMUX_FUZZ_CHECK(mapped.status >= 400 && mapped.status <= 599);
  {
    dom::parser p;
    dom::element e;
    const std::string json = mapped.toJson();
    LLMUX_FUZZ_CHECK(p.parse(json).get(e) == simdjson::SUCCESS);
  }

  // The same bytes as a client request.
  dom::parser reqParser;
  dom::element req;
  if (reqParser.parse(body.data(), body.size()).get(req) == simdjson::SUCCESS && req.is_object()) {
    llmux::providers::RequestOptions opts;
    opts.upstreamModel = &a == &bedrockTitanAdapter()    ? "amazon.titan-embed-text-v2:0"
                         : &a == &bedrockCohereAdapter() ? "cohere.embed-v4:0"
                                                         : "text-embedding-005";
    opts.project = "p";
    opts.location = "us-central1";
    opts.dropParams = (data[0] & 16) != 0;
    llmux::providers::UpstreamCall call;
    if (const auto err = a.buildRequest(req, opts, call)) {
      LLMUX_FUZZ_CHECK(err->status >= 400);
    } else {
      dom::parser p;
      dom::element e;
      LLMUX_FUZZ_CHECK(p.parse(call.body).get(e) == simdjson::SUCCESS && e.is_object());
      LLMUX_FUZZ_CHECK(call.path.starts_with("/"));
    }
  }
  return 0;
}
