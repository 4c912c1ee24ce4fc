// Cohere v2 Embed (POST /v2/embed; wire_formats.md §6.3 for the envelope and errors).
//
// Request: {"model", "texts":[...], "input_type", "embedding_types":["float"],
//           "output_dimension"?, "truncate"?}
//   input_type is required by the v3+ models: "search_document" unless the client sends a native
//   "input_type" (search_query, classification, clustering, ...), which is passed through, as is a
//   native "truncate" (NONE / START / END). dimensions → output_dimension (Embed v4 and newer; the
//   v3 models have a fixed size: unsupported, dropped under drop_params). At most 96 texts.
// Response: {"id", "embeddings":{"float":[[...], ...]}, "texts", "meta":{"billed_units":
//   {"input_tokens":N}}, "response_type":"embeddings_by_type"} (an "embeddings" array of vectors,
//   the embeddings_floats shape, is read too) → the vectors in order; usage from
//   meta.billed_units.input_tokens (meta.tokens.input_tokens as fallback), present=false when
//   neither is there.
// Errors: the Cohere chat adapter's mapper ({"message": ...} bodies, 498 → 401...).
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "providers/cohere/cohere.hpp"
#include "providers/embeddings/embeddings.hpp"
#include "providers/embeddings/internal.hpp"

namespace llmux::providers::embeddings {
namespace detail {

std::optional<GatewayError> translateCohereBody(std::string_view body, const ResponseOptions& opts,
                                                dom::parser& parser, std::string& out, Usage& usage,
                                                std::string_view provider) {
  using simdjson::SUCCESS;
  usage = Usage{};
  dom::object root;
  if (auto err = parseObject(body, parser, provider, root)) return err;
  dom::element embeddings;
  if (root["embeddings"].get(embeddings) != SUCCESS) {
    return malformedUpstream(provider, "no \"embeddings\"");
  }
  dom::array vectors;
  if (embeddings.get_array().get(vectors) != SUCCESS &&
      embeddings["float"].get_array().get(vectors) != SUCCESS) {
    return malformedUpstream(provider, "no float embeddings");
  }
  if (vectors.size() == 0) return malformedUpstream(provider, "no embeddings");
  ListWriter list(opts, out);
  for (dom::element v : vectors) {
    if (auto err = list.add(v, provider)) return err;
  }
  dom::element count;
  int64_t tokens = 0;
  if ((root["meta"]["billed_units"]["input_tokens"].get(count) == SUCCESS ||
       root["meta"]["tokens"]["input_tokens"].get(count) == SUCCESS) &&
      readCount(count, tokens)) {
    usage = inputUsage(tokens);
  }
  list.finish(usage);
  return std::nullopt;
}

}  // namespace detail

namespace {

namespace dom = simdjson::dom;

constexpr std::string_view kProvider = "cohere";

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

std::optional<GatewayError> buildRequest(dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out) {
  out.clear();
  detail::Inputs in;
  if (auto err = detail::readInputs(request, kProvider, detail::kCohereLimit, in)) return err;
  std::optional<std::string_view> inputType;
  std::optional<std::string_view> truncate;
  if (auto err = detail::nativeString(request, "input_type", inputType)) return err;
  if (auto err = detail::nativeString(request, "truncate", truncate)) return err;

  out.path = "/v2/embed";
  std::string& b = out.body;
  b = R"({"model":)";
  appendJsonString(b, opts.upstreamModel);
  b += R"(,"texts":[)";
  for (size_t i = 0; i < in.texts.size(); ++i) {
    if (i != 0) b.push_back(',');
    appendJsonString(b, in.texts[i]);
  }
  b += R"(],"input_type":)";
  appendJsonString(b, inputType.value_or("search_document"));
  b += R"(,"embedding_types":["float"])";
  if (in.dimensions) {
    // output_dimension exists from Embed v4 on; embed-english-v3.0 & co. have a fixed size.
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
  if (truncate) {
    b += R"(,"truncate":)";
    appendJsonString(b, *truncate);
  }
  b.push_back('}');
  return std::nullopt;
}

std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              dom::parser& parser, std::string& out, Usage& usage) {
  return detail::translateCohereBody(body, opts, parser, out, usage, kProvider);
}

}  // namespace

const providers::Adapter& cohereAdapter() {
  static const providers::Adapter kAdapter{kProvider, &buildRequest, &translateResponse, nullptr,
                                           &cohere::mapError};
  return kAdapter;
}

}  // namespace llmux::providers::embeddings
