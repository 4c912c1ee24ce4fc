// Vertex AI text embeddings (gemini-embedding-001, text-embedding-005,
// text-multilingual-embedding-002...) through the publisher model's :predict method.
//
// Request: POST
// /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:predict
// (opts.apiVersion, e.g. "v1beta1", replaces "v1")
//   {"instances":[{"content":"...","task_type"?}, ...],
//    "parameters":{"outputDimensionality"?, "autoTruncate"?}}   ("parameters" only when non-empty)
//   dimensions → parameters.outputDimensionality; native "task_type" / "taskType" → task_type on
//   every instance; native "auto_truncate" / "autoTruncate" (bool) → parameters.autoTruncate.
//   gemini-embedding-001 takes ONE instance per call; the text-embedding models 250.
// Response: {"predictions":[{"embeddings":{"values":[...],"statistics":{"token_count":N,
//   "truncated":false}}}, ...], "metadata":{...}} → the vectors in order; usage = the sum of the
//   token_count statistics (present when at least one was reported).
// Errors: the Gemini-on-Vertex chat adapter's mapper (Google RPC envelopes).
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

constexpr std::string_view kProvider = "vertex_ai";
constexpr int64_t kMaxTokens = int64_t{1} << 53;

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
  std::optional<bool> autoTruncate;
  if (auto err = detail::nativeBool(request, "auto_truncate", autoTruncate)) return err;
  if (!autoTruncate) {
    if (auto err = detail::nativeBool(request, "autoTruncate", autoTruncate)) return err;
  }

  const std::string_view version = opts.apiVersion.empty() ? "v1" : opts.apiVersion;
  if (!detail::isSafePathPart(version, false)) {
    return GatewayError::invalidRequest("Invalid value for 'api_version': not an API version.",
                                        "api_version", "invalid_value");
  }
  if (!detail::isSafePathPart(opts.upstreamModel, false)) return detail::badModelPath();
  if (opts.project.empty() || opts.location.empty()) {
    return GatewayError::internal(
        "This Vertex AI deployment has no vertex_project or vertex_location configured.");
  }
  if (!detail::isSafePathPart(opts.project, false) ||
      !detail::isSafePathPart(opts.location, false)) {
    return GatewayError::internal("The deployment's vertex_project or vertex_location is invalid.");
  }
  out.path = "/";
  out.path += version;
  out.path += "/projects/";
  out.path += opts.project;
  out.path += "/locations/";
  out.path += opts.location;
  out.path += "/publishers/google/models/";
  out.path += opts.upstreamModel;
  out.path += ":predict";

  std::string& b = out.body;
  b = R"({"instances":[)";
  for (size_t i = 0; i < in.texts.size(); ++i) {
    if (i != 0) b.push_back(',');
    b += R"({"content":)";
    appendJsonString(b, in.texts[i]);
    if (taskType) {
      b += R"(,"task_type":)";
      appendJsonString(b, *taskType);
    }
    b.push_back('}');
  }
  b.push_back(']');
  if (in.dimensions || autoTruncate) {
    b += R"(,"parameters":{)";
    if (in.dimensions) {
      b += R"("outputDimensionality":)";
      b += std::to_string(*in.dimensions);
    }
    if (autoTruncate) {
      if (in.dimensions) b.push_back(',');
      b += *autoTruncate ? R"("autoTruncate":true)" : R"("autoTruncate":false)";
    }
    b.push_back('}');
  }
  b.push_back('}');
  return std::nullopt;
}

std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              dom::parser& parser, std::string& out, Usage& usage) {
  usage = Usage{};
  dom::object root;
  if (auto err = detail::parseObject(body, parser, kProvider, root)) return err;
  dom::array predictions;
  if (root["predictions"].get(predictions) != SUCCESS) {
    return malformedUpstream(kProvider, "no \"predictions\" array");
  }
  if (predictions.size() == 0) return malformedUpstream(kProvider, "no predictions");
  detail::ListWriter list(opts, out);
  bool anyCount = false;
  int64_t tokens = 0;
  for (dom::element p : predictions) {
    dom::object emb;
    dom::element values;
    if (p["embeddings"].get(emb) != SUCCESS || emb["values"].get(values) != SUCCESS) {
      return malformedUpstream(kProvider, "a prediction has no \"embeddings.values\"");
    }
    if (auto err = list.add(values, kProvider)) return err;
    dom::element count;
    int64_t n = 0;
    if (emb["statistics"]["token_count"].get(count) == SUCCESS && detail::readCount(count, n)) {
      anyCount = true;
      tokens = tokens + n > kMaxTokens ? kMaxTokens : tokens + n;
    }
  }
  if (anyCount) usage = detail::inputUsage(tokens);
  list.finish(usage);
  return std::nullopt;
}

GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfter) {
  return gemini::vertexAdapter().mapError(status, body, retryAfter);
}

}  // namespace

const providers::Adapter& vertexAdapter() {
  static const providers::Adapter kAdapter{kProvider, &buildRequest, &translateResponse, nullptr,
                                           &mapError};
  return kAdapter;
}

}  // namespace llmux::providers::embeddings
