#pragma once
// Shared pieces of the embeddings translators (embeddings.hpp): reading the client's OpenAI
// embeddings request and writing OpenAI's list of embeddings.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::embeddings::detail {

namespace dom = simdjson::dom;

// Documented per-call input limits (see maxInputsPerCall in embeddings.hpp).
inline constexpr size_t kGeminiBatchLimit = 100;  // batchEmbedContents "at most 100 requests"
inline constexpr size_t kVertexLimit = 250;       // text-embedding-*: 250 texts per predict
inline constexpr size_t kVertexGeminiLimit = 1;   // gemini-embedding-001: one instance
inline constexpr size_t kCohereLimit = 96;        // Cohere embed: 96 texts (also on Bedrock)
inline constexpr size_t kTitanLimit = 1;          // Titan embeddings: one inputText

// The texts of the client's request and its dimensions. Views point into the request DOM.
struct Inputs {
  std::vector<std::string_view> texts;
  std::optional<int64_t> dimensions;  // 1..INT32_MAX when the client sent one
};

// Reads "input" (a string or an array of strings; token arrays [int] / [[int]] give a 400 naming
// `provider`, which takes text only) and "dimensions" (an integer >= 1, or null). More than
// `maxInputs` texts (0 = no limit) gives a 400 naming the limit.
std::optional<GatewayError> readInputs(dom::element request, std::string_view provider,
                                       size_t maxInputs, Inputs& out);

// A provider-native member passed through from the client's request: nothing when absent or null,
// a 400 naming `key` when it has another type than asked for.
std::optional<GatewayError> nativeString(dom::element request, std::string_view key,
                                         std::optional<std::string_view>& out);
std::optional<GatewayError> nativeBool(dom::element request, std::string_view key,
                                       std::optional<bool>& out);

// The 400 for an OpenAI parameter this provider or model cannot honour, or nullopt after
// recording it in out.dropped when opts.dropParams allows dropping it.
std::optional<GatewayError> unsupportedOrDrop(std::string_view param, std::string_view provider,
                                              std::string_view detail, const RequestOptions& opts,
                                              UpstreamCall& out);

// A value from config that goes into a request path: letters, digits, - _ . @ (and / when
// `allowSlash`, not first or last), no "..", not empty.
bool isSafePathPart(std::string_view s, bool allowSlash);

// The 400 for an upstream model id that cannot go into a request path.
GatewayError badModelPath();

// Parses an upstream 2xx body that must be a JSON object.
std::optional<GatewayError> parseObject(std::string_view body, dom::parser& parser,
                                        std::string_view provider, dom::object& root);

// A token count, clamped to [0, 2^53]; false when `e` is not a number.
bool readCount(dom::element e, int64_t& out);

// Usage for `tokens` input tokens (embeddings have no completion tokens).
Usage inputUsage(int64_t tokens);

// Writes OpenAI's embeddings list into `out` (cleared first): the opening in the constructor, one
// {"object":"embedding","index":i,"embedding":...} per add(), the model and usage in finish().
class ListWriter {
 public:
  ListWriter(const ResponseOptions& opts, std::string& out);

  // Appends the vector `values` (a JSON array of numbers) as the next embedding: JSON floats in
  // shortest round-trip float32 form, or base64 of the float32 little-endian bytes. A non-array,
  // an empty array, or an element that is not a number or overflows float32 gives a 502 naming
  // `provider` (then `out` holds a partial body the caller discards).
  std::optional<GatewayError> add(dom::element values, std::string_view provider);

  // Closes the list: "model" and "usage" ({"prompt_tokens","total_tokens"}, zeros when absent).
  void finish(const Usage& usage);

  [[nodiscard]] size_t size() const { return count_; }

 private:
  const ResponseOptions& opts_;
  std::string& out_;
  std::string bytes_;  // the float32 bytes of the vector being encoded (base64)
  size_t count_ = 0;
};

// Appends the shortest decimal form of `v` that reads back as the same float32.
void appendFloat(std::string& out, float v);

// Appends standard base64 (RFC 4648 alphabet, '=' padding) of `bytes`.
void appendBase64(std::string& out, std::string_view bytes);

// Cohere embed responses (native /v2/embed and Cohere on Bedrock): "embeddings" is an array of
// vectors or an object {"float":[...], ...}; usage from meta.billed_units.input_tokens (or
// meta.tokens.input_tokens), present=false when neither is there.
std::optional<GatewayError> translateCohereBody(std::string_view body, const ResponseOptions& opts,
                                                dom::parser& parser, std::string& out, Usage& usage,
                                                std::string_view provider);

// Bedrock model families with an embeddings translator. `modelId` may carry a cross-region
// inference-profile prefix ("us.", "eu.", "apac.", "global."...).
enum class BedrockFamily { None, Titan, Cohere };
BedrockFamily bedrockFamily(std::string_view modelId);

}  // namespace llmux::providers::embeddings::detail
