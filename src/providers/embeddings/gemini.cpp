// Gemini Developer API (AI Studio) embeddings (wire_formats.md §3.6).
//
// Request: POST /v1beta/models/{model}:batchEmbedContents (opts.apiVersion replaces "v1beta")
//   {"requests":[{"model":"models/{model}","content":{"parts":[{"text":...}]},
//                 "taskType"?, "outputDimensionality"?}, ...]}
// One request entry per input string: several parts in one content would give ONE vector.
//   dimensions → outputDimensionality (the model decides which sizes it takes).
//   native "task_type" / "taskType" (RETRIEVAL_QUERY, RETRIEVAL_DOCUMENT, SEMANTIC_SIMILARITY,
//   CLASSIFICATION, CLUSTERING, ...) → taskType on every entry. user: no Gemini form, ignored.
//   At most 100 inputs per call (the API's batch limit).
// Response: {"embeddings":[{"values":[...]}, ...]} in input order. Gemini reports no token usage:
// usage present=false and the client sees prompt_tokens 0 (a "usageMetadata" with
// promptTokenCount, should one appear, is used).
// Errors: the Gemini chat adapter's mapper (Google RPC envelopes).
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "providers/embeddings/embeddings.hpp"
#include "providers/embeddings/internal.hpp"
#include "providers/gemini/gemini.hpp"

namespace llmux::providers::embeddings {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

constexpr std::string_view kProvider = "gemini";

std::optional<GatewayError> buildRequest(dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out) {
  out.clear();
  detail::Inputs in;
  if (auto err = detail::readInputs(request, kProvider,
                                    maxInputsPerCall(kProvider, opts.upstreamModel), in)) {
    return err;
  }
  std::optional<std::string_view> taskType;
  if (auto err = detail::nativeString(request, "task_type", taskType)) return err;
  if (!taskType) {
    if (auto err = detail::nativeString(request, "taskType", taskType)) return err;
  }

  const std::string_view version = opts.apiVersion.empty() ? "v1beta" : opts.apiVersion;
  if (!detail::isSafePathPart(version, false)) {
    return GatewayError::invalidRequest("Invalid value for 'api_version': not an API version.",
                                        "api_version", "invalid_value");
  }
  // "models/x" and "tunedModels/x" keep their collection; a bare id is models/<id>.
  const std::string_view model = opts.upstreamModel;
  const bool hasCollection = model.starts_with("models/") || model.starts_with("tunedModels/");
  if (!detail::isSafePathPart(model, hasCollection)) return detail::badModelPath();
  std::string name = hasCollection ? std::string(model) : "models/" + std::string(model);

  out.path = "/";
  out.path += version;
  out.path += '/';
  out.path += name;
  out.path += ":batchEmbedContents";

  std::string& b = out.body;
  b = R"({"requests":[)";
  for (size_t i = 0; i < in.texts.size(); ++i) {
    if (i != 0) b.push_back(',');
    b += R"({"model":)";
    appendJsonString(b, name);
    b += R"(,"content":{"parts":[{"text":)";
    appendJsonString(b, in.texts[i]);
    b += "}]}";
    if (taskType) {
      b += R"(,"taskType":)";
      appendJsonString(b, *taskType);
    }
    if (in.dimensions) {
      b += R"(,"outputDimensionality":)";
      b += std::to_string(*in.dimensions);
    }
    b.push_back('}');
  }
  b += "]}";
  return std::nullopt;
}

std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              dom::parser& parser, std::string& out, Usage& usage) {
  usage = Usage{};
  dom::object root;
  if (auto err = detail::parseObject(body, parser, kProvider, root)) return err;
  dom::array embeddings;
  if (root["embeddings"].get(embeddings) != SUCCESS) {
    return malformedUpstream(kProvider, "no \"embeddings\" array");
  }
  if (embeddings.size() == 0) return malformedUpstream(kProvider, "no embeddings");
  detail::ListWriter list(opts, out);
  for (dom::element e : embeddings) {
    dom::element values;
    if (e["values"].get(values) != SUCCESS) {
      return malformedUpstream(kProvider, "an embedding has no \"values\"");
    }
    if (auto err = list.add(values, kProvider)) return err;
  }
  dom::object meta;
  int64_t tokens = 0;
  if (root["usageMetadata"].get(meta) == SUCCESS) {
    dom::element count;
    if ((meta["promptTokenCount"].get(count) == SUCCESS ||
         meta["totalTokenCount"].get(count) == SUCCESS) &&
        detail::readCount(count, tokens)) {
      usage = detail::inputUsage(tokens);
    }
  }
  list.finish(usage);
  return std::nullopt;
}

GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfter) {
  return gemini::adapter().mapError(status, body, retryAfter);
}

}  // namespace

const providers::Adapter& geminiAdapter() {
  static const providers::Adapter kAdapter{kProvider, &buildRequest, &translateResponse, nullptr,
                                           &mapError};
  return kAdapter;
}

}  // namespace llmux::providers::embeddings
