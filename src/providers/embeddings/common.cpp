// The embeddings translators' shared parts: reading the client's OpenAI embeddings request
// (wire_formats.md §1.8), writing OpenAI's list of embeddings (floats or base64 float32), and the
// provider → adapter lookup.
#include <simdjson.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/text.hpp"
#include "providers/embeddings/embeddings.hpp"
#include "providers/embeddings/internal.hpp"

namespace llmux::providers::embeddings {
namespace detail {
namespace {

using simdjson::SUCCESS;

// Token counts above 2^53 cannot be real; clamping keeps sums from overflowing.
constexpr int64_t kMaxTokens = int64_t{1} << 53;

GatewayError badInputType() {
  return GatewayError::invalidRequest(
      "Invalid type for 'input': expected a string, an array of strings, an array of token ids "
      "or an array of token id arrays.",
      "input", "invalid_type");
}

GatewayError tokenInput(std::string_view provider) {
  return GatewayError::invalidRequest(
      fmt::format("Provider '{}' embeds text only: 'input' holds token ids ([int] or [[int]]), "
                  "which only OpenAI-compatible providers accept. Send the text instead.",
                  provider),
      "input", "unsupported_parameter");
}

bool isInteger(dom::element e) {
  return e.is_int64() || e.is_uint64();
}

// Token ids, [int, ...] (`nested` false) or [[int, ...], ...] (`nested` true): a well-formed
// token input gives the provider's text-only 400, anything else a type error.
std::optional<GatewayError> checkTokens(dom::array arr, bool nested, std::string_view provider) {
  for (dom::element e : arr) {
    if (!nested) {
      if (!isInteger(e)) return badInputType();
      continue;
    }
    dom::array inner;
    if (e.get_array().get(inner) != SUCCESS || inner.size() == 0) return badInputType();
    for (dom::element t : inner) {
      if (!isInteger(t)) return badInputType();
    }
  }
  return tokenInput(provider);
}

}  // namespace

std::optional<GatewayError> readInputs(dom::element request, std::string_view provider,
                                       size_t maxInputs, Inputs& out) {
  out.texts.clear();
  out.dimensions.reset();
  dom::element input;
  if (request["input"].get(input) != SUCCESS || input.is_null()) {
    return GatewayError::invalidRequest("Missing required parameter: 'input'.", "input",
                                        "missing_required_parameter");
  }
  std::string_view text;
  dom::array arr;
  if (input.get_string().get(text) == SUCCESS) {
    out.texts.push_back(text);
  } else if (input.get_array().get(arr) == SUCCESS) {
    if (arr.size() == 0) {
      return GatewayError::invalidRequest("'input' must not be an empty array.", "input",
                                          "invalid_value");
    }
    dom::element first;
    (void)arr.at(0).get(first);
    if (isInteger(first)) return checkTokens(arr, false, provider);
    if (first.is_array()) return checkTokens(arr, true, provider);
    out.texts.reserve(arr.size());
    for (dom::element e : arr) {
      if (e.get_string().get(text) != SUCCESS) return badInputType();
      out.texts.push_back(text);
    }
  } else {
    return badInputType();
  }
  if (maxInputs != 0 && out.texts.size() > maxInputs) {
    return GatewayError::invalidRequest(
        fmt::format("Provider '{}' takes at most {} input{} per embeddings request for this "
                    "model; this request has {}. Send fewer inputs per request.",
                    provider, maxInputs, maxInputs == 1 ? "" : "s", out.texts.size()),
        "input", "invalid_value");
  }

  dom::element dims;
  if (request["dimensions"].get(dims) == SUCCESS && !dims.is_null()) {
    int64_t d = 0;
    if (dims.get_int64().get(d) != SUCCESS) {
      if (!dims.is_uint64()) {
        return GatewayError::invalidRequest("Invalid type for 'dimensions': expected an integer.",
                                            "dimensions", "invalid_type");
      }
      d = std::numeric_limits<int64_t>::max();
    }
    if (d < 1 || d > std::numeric_limits<int32_t>::max()) {
      return GatewayError::invalidRequest(
          "Invalid value for 'dimensions': expected an integer of at least 1.", "dimensions",
          "invalid_value");
    }
    out.dimensions = d;
  }
  return std::nullopt;
}

std::optional<GatewayError> nativeString(dom::element request, std::string_view key,
                                         std::optional<std::string_view>& out) {
  out.reset();
  dom::element e;
  if (request[key].get(e) != SUCCESS || e.is_null()) return std::nullopt;
  std::string_view s;
  if (e.get_string().get(s) != SUCCESS) {
    return GatewayError::invalidRequest(
        fmt::format("Invalid type for '{}': expected a string.", key), std::string(key),
        "invalid_type");
  }
  out = s;
  return std::nullopt;
}

std::optional<GatewayError> nativeBool(dom::element request, std::string_view key,
                                       std::optional<bool>& out) {
  out.reset();
  dom::element e;
  if (request[key].get(e) != SUCCESS || e.is_null()) return std::nullopt;
  bool b = false;
  if (e.get_bool().get(b) != SUCCESS) {
    return GatewayError::invalidRequest(
        fmt::format("Invalid type for '{}': expected a boolean.", key), std::string(key),
        "invalid_type");
  }
  out = b;
  return std::nullopt;
}

std::optional<GatewayError> unsupportedOrDrop(std::string_view param, std::string_view provider,
                                              std::string_view detail, const RequestOptions& opts,
                                              UpstreamCall& out) {
  if (!opts.dropParams) return unsupportedParam(param, provider, detail);
  out.dropped.emplace_back(param);
  return std::nullopt;
}

bool isSafePathPart(std::string_view s, bool allowSlash) {
  if (s.empty() || s.find("..") != std::string_view::npos) return false;
  for (char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '_' && c != '.' && c != '@' && !(allowSlash && c == '/')) {
      return false;
    }
  }
  return s.front() != '/' && s.back() != '/';
}

GatewayError badModelPath() {
  return GatewayError::invalidRequest(
      "Invalid value for 'model': the upstream model id is empty or has characters a path "
      "cannot hold.",
      "model", "invalid_value");
}

std::optional<GatewayError> parseObject(std::string_view body, dom::parser& parser,
                                        std::string_view provider, dom::object& root) {
  dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != SUCCESS) {
    return malformedUpstream(provider, "the body is not JSON");
  }
  if (doc.get_object().get(root) != SUCCESS) {
    return malformedUpstream(provider, "the body is not a JSON object");
  }
  return std::nullopt;
}

bool readCount(dom::element e, int64_t& out) {
  switch (e.type()) {
    case dom::element_type::INT64: {
      int64_t v = 0;
      (void)e.get_int64().get(v);
      out = v < 0 ? 0 : (v > kMaxTokens ? kMaxTokens : v);
      return true;
    }
    case dom::element_type::UINT64:
      out = kMaxTokens;  // above INT64_MAX
      return true;
    case dom::element_type::DOUBLE: {
      double d = 0;
      (void)e.get_double().get(d);
      out = !(d > 0) ? 0 : (d >= static_cast<double>(kMaxTokens) ? kMaxTokens : int64_t(d));
      return true;
    }
    default:
      return false;
  }
}

Usage inputUsage(int64_t tokens) {
  Usage u;
  u.present = true;
  u.promptTokens = tokens;
  u.totalTokens = tokens;
  return u;
}

void appendFloat(std::string& out, float v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void appendBase64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.reserve(out.size() + (bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (uint32_t(uint8_t(bytes[i])) << 16) |
                       (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint32_t(uint8_t(bytes[i + 2]));
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 0) return;
  uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
  if (rest == 2) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
  out.push_back(kAlphabet[(n >> 18) & 63]);
  out.push_back(kAlphabet[(n >> 12) & 63]);
  out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
  out.push_back('=');
}

ListWriter::ListWriter(const ResponseOptions& opts, std::string& out) : opts_(opts), out_(out) {
  out_.clear();
  out_ += R"({"object":"list","data":[)";
}

std::optional<GatewayError> ListWriter::add(dom::element values, std::string_view provider) {
  dom::array arr;
  if (values.get_array().get(arr) != SUCCESS) {
    return malformedUpstream(provider, "an embedding is not an array of numbers");
  }
  if (arr.size() == 0) return malformedUpstream(provider, "an embedding is empty");
  if (count_ != 0) out_.push_back(',');
  out_ += R"({"object":"embedding","index":)";
  appendDecimal(out_, static_cast<int64_t>(count_));
  out_ += R"(,"embedding":)";
  out_.push_back(opts_.base64 ? '"' : '[');
  bytes_.clear();
  bool first = true;
  for (dom::element e : arr) {
    double d = 0;
    if (e.get_double().get(d) != SUCCESS) {
      return malformedUpstream(provider, "an embedding holds a value that is not a number");
    }
    const float f = static_cast<float>(d);
    if (!std::isfinite(f)) {
      return malformedUpstream(provider, "an embedding value is outside the float32 range");
    }
    if (opts_.base64) {
      const uint32_t bits = std::bit_cast<uint32_t>(f);
      for (int shift = 0; shift < 32; shift += 8) {
        bytes_.push_back(static_cast<char>((bits >> shift) & 0xFF));  // little-endian
      }
    } else {
      if (!first) out_.push_back(',');
      appendFloat(out_, f);
    }
    first = false;
  }
  if (opts_.base64) {
    appendBase64(out_, bytes_);
    out_ += "\"}";
  } else {
    out_ += "]}";
  }
  ++count_;
  return std::nullopt;
}

void ListWriter::finish(const Usage& usage) {
  out_ += R"(],"model":)";
  appendJsonString(out_, opts_.clientModel);
  out_ += R"(,"usage":{"prompt_tokens":)";
  appendDecimal(out_, usage.present ? usage.promptTokens : 0);
  out_ += R"(,"total_tokens":)";
  appendDecimal(out_, usage.present ? usage.totalTokens : 0);
  out_ += "}}";
}

}  // namespace detail

const providers::Adapter* embeddingAdapter(std::string_view provider,
                                           std::string_view upstreamModel) {
  if (provider == "gemini") return &geminiAdapter();
  if (provider == "vertex_ai") return &vertexAdapter();
  if (provider == "cohere" || provider == "cohere_chat") return &cohereAdapter();
  if (provider == "ollama" || provider == "ollama_chat") return &ollamaAdapter();
  if (provider == "bedrock") {
    switch (detail::bedrockFamily(upstreamModel)) {
      case detail::BedrockFamily::Titan:
        return &bedrockTitanAdapter();
      case detail::BedrockFamily::Cohere:
        return &bedrockCohereAdapter();
      case detail::BedrockFamily::None:
        return nullptr;
    }
  }
  return nullptr;
}

size_t maxInputsPerCall(std::string_view provider, std::string_view upstreamModel) {
  if (provider == "gemini") return detail::kGeminiBatchLimit;
  if (provider == "vertex_ai") {
    return upstreamModel.starts_with("gemini-embedding-001") ? detail::kVertexGeminiLimit
                                                             : detail::kVertexLimit;
  }
  if (provider == "cohere" || provider == "cohere_chat") return detail::kCohereLimit;
  if (provider == "bedrock") {
    switch (detail::bedrockFamily(upstreamModel)) {
      case detail::BedrockFamily::Titan:
        return detail::kTitanLimit;
      case detail::BedrockFamily::Cohere:
        return detail::kCohereLimit;
      case detail::BedrockFamily::None:
        return 0;
    }
  }
  return 0;
}

}  // namespace llmux::providers::embeddings
