// Bedrock Runtime InvokeModel embeddings (wire_formats.md §4; Bedrock model-parameter pages for
// Titan Embeddings and Cohere Embed). Path: aws::bedrockModelPath(modelId, "invoke"), i.e.
// POST /model/<modelId as one encoded segment>/invoke; the body is the model's native one.
//
// Amazon Titan (model ids "amazon.titan-embed..."), ONE input per call (more → 400 naming the
// limit; the engine may fan out):
//   Titan Text Embeddings V2 ("amazon.titan-embed-text-v2:0", and any newer id):
//     {"inputText", "dimensions"? (dimensions; 256/512/1024), "normalize": true}
//     (native "normalize": false turns normalisation off)
//   Titan Embeddings G1 - Text ("amazon.titan-embed-text-v1", "amazon.titan-embed-g1-text-02"):
//     {"inputText"} only: the model takes no other field, so dimensions is unsupported
//     (dropped under drop_params)
//   Titan Multimodal Embeddings ("amazon.titan-embed-image-v1"):
//     {"inputText", "embeddingConfig": {"outputEmbeddingLength": dimensions}?}
//   → {"embedding":[...], "inputTextTokenCount":N, "embeddingsByType"?:{"float":[...]}}
//     ("embeddingsByType.float" when "embedding" is missing); usage = inputTextTokenCount.
// Cohere Embed ("cohere.embed-english-v3", "cohere.embed-multilingual-v3", "cohere.embed-v4:0"),
// at most 96 texts per call:
//   {"texts":[...], "input_type": "search_document" (native "input_type" overrides),
//    "truncate"? (native), "output_dimension"? (dimensions; v4 and newer, not the v3 models)}
//   → {"embeddings":[[...]]} or {"embeddings":{"float":[[...]]}}. No usage in the body (Bedrock
//     sends it in the X-Amzn-Bedrock-Input-Token-Count header, which only the engine sees).
// Errors: the Bedrock chat adapter's mapper (same exceptions and envelopes as Converse).
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "providers/bedrock/bedrock.hpp"
#include "providers/common/sigv4.hpp"
#include "providers/embeddings/embeddings.hpp"
#include "providers/embeddings/internal.hpp"

namespace llmux::providers::embeddings {
namespace detail {

namespace {

// The foundation-model id inside an ARN ("arn:aws:bedrock:...:foundation-model/<id>") or behind a
// cross-region inference-profile prefix ("us.", "eu.", "apac.", "global.", "us-gov."...).
std::string_view baseModelId(std::string_view id) {
  if (id.starts_with("arn:")) {
    const size_t slash = id.rfind('/');
    if (slash == std::string_view::npos) return {};
    id.remove_prefix(slash + 1);
  }
  if (id.starts_with("amazon.") || id.starts_with("cohere.")) return id;
  const size_t dot = id.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 8) return id;
  for (char c : id.substr(0, dot)) {
    if (!((c >= 'a' && c <= 'z') || c == '-')) return id;
  }
  return id.substr(dot + 1);
}

}  // namespace

BedrockFamily bedrockFamily(std::string_view modelId) {
  const std::string_view base = baseModelId(modelId);
  if (base.starts_with("amazon.titan-embed")) return BedrockFamily::Titan;
  if (base.starts_with("cohere.embed")) return BedrockFamily::Cohere;
  return BedrockFamily::None;
}

}  // namespace detail

namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

constexpr std::string_view kProvider = "bedrock";

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

std::optional<GatewayError> startCall(const RequestOptions& opts, UpstreamCall& out) {
  out.clear();
  if (opts.upstreamModel.empty()) return detail::badModelPath();
  out.path = aws::bedrockModelPath(opts.upstreamModel, "invoke");
  return std::nullopt;
}

std::optional<GatewayError> buildTitan(dom::element request, const RequestOptions& opts,
                                       UpstreamCall& out) {
  if (auto err = startCall(opts, out)) return err;
  detail::Inputs in;
  if (auto err = detail::readInputs(request, kProvider, detail::kTitanLimit, in)) return err;
  std::optional<bool> normalize;
  if (auto err = detail::nativeBool(request, "normalize", normalize)) return err;

  const std::string_view model = opts.upstreamModel;
  const bool multimodal = contains(model, "titan-embed-image");
  const bool g1 = contains(model, "titan-embed-text-v1") || contains(model, "titan-embed-g1");
  std::string& b = out.body;
  b = R"({"inputText":)";
  appendJsonString(b, in.texts.front());
  if (multimodal) {
    if (in.dimensions) {
      b += R"(,"embeddingConfig":{"outputEmbeddingLength":)";
      b += std::to_string(*in.dimensions);
      b.push_back('}');
    }
  } else if (g1) {
    if (in.dimensions) {
      if (auto err = detail::unsupportedOrDrop(
              "dimensions", kProvider, "Titan Embeddings G1 has a fixed vector size", opts, out)) {
        return err;
      }
    }
  } else {
    if (in.dimensions) {
      b += R"(,"dimensions":)";
      b += std::to_string(*in.dimensions);
    }
    b += normalize.value_or(true) ? R"(,"normalize":true)" : R"(,"normalize":false)";
  }
  b.push_back('}');
  return std::nullopt;
}

std::optional<GatewayError> buildCohere(dom::element request, const RequestOptions& opts,
                                        UpstreamCall& out) {
  if (auto err = startCall(opts, out)) return err;
  detail::Inputs in;
  if (auto err = detail::readInputs(request, kProvider, detail::kCohereLimit, in)) return err;
  std::optional<std::string_view> inputType;
  std::optional<std::string_view> truncate;
  if (auto err = detail::nativeString(request, "input_type", inputType)) return err;
  if (auto err = detail::nativeString(request, "truncate", truncate)) return err;

  std::string& b = out.body;
  b = R"({"texts":[)";
  for (size_t i = 0; i < in.texts.size(); ++i) {
    if (i != 0) b.push_back(',');
    appendJsonString(b, in.texts[i]);
  }
  b += R"(],"input_type":)";
  appendJsonString(b, inputType.value_or("search_document"));
  if (truncate) {
    b += R"(,"truncate":)";
    appendJsonString(b, *truncate);
  }
  if (in.dimensions) {
    // output_dimension exists from Embed v4 on; the v3 models have a fixed size.
    if (contains(opts.upstreamModel, "-v3") || contains(opts.upstreamModel, "-v2")) {
      if (auto err = detail::unsupportedOrDrop(
              "dimensions", kProvider, "Cohere Embed v3 has a fixed vector size", opts, out)) {
        return err;
      }
    } else {
      b += R"(,"output_dimension":)";
      b += std::to_string(*in.dimensions);
    }
  }
  b.push_back('}');
  return std::nullopt;
}

std::optional<GatewayError> translateTitan(std::string_view body, const ResponseOptions& opts,
                                           dom::parser& parser, std::string& out, Usage& usage) {
  usage = Usage{};
  dom::object root;
  if (auto err = detail::parseObject(body, parser, kProvider, root)) return err;
  dom::element values;
  if (root["embedding"].get(values) != SUCCESS &&
      root["embeddingsByType"]["float"].get(values) != SUCCESS) {
    return malformedUpstream(kProvider, "no \"embedding\" array");
  }
  detail::ListWriter list(opts, out);
  if (auto err = list.add(values, kProvider)) return err;
  dom::element count;
  int64_t tokens = 0;
  if (root["inputTextTokenCount"].get(count) == SUCCESS && detail::readCount(count, tokens)) {
    usage = detail::inputUsage(tokens);
  }
  list.finish(usage);
  return std::nullopt;
}

std::optional<GatewayError> translateCohere(std::string_view body, const ResponseOptions& opts,
                                            dom::parser& parser, std::string& out, Usage& usage) {
  return detail::translateCohereBody(body, opts, parser, out, usage, kProvider);
}

}  // namespace

const providers::Adapter& bedrockTitanAdapter() {
  static const providers::Adapter kAdapter{kProvider, &buildTitan, &translateTitan, nullptr,
                                           &bedrock::mapError};
  return kAdapter;
}

const providers::Adapter& bedrockCohereAdapter() {
  static const providers::Adapter kAdapter{kProvider, &buildCohere, &translateCohere, nullptr,
                                           &bedrock::mapError};
  return kAdapter;
}

}  // namespace llmux::providers::embeddings
