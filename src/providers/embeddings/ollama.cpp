// Ollama native embeddings (POST /api/embed; wire_formats.md §6.2, ollama docs/api.md).
//
// Request: {"model", "input":[...], "dimensions"?, "truncate"?, "keep_alive"?, "options"?}
//   input is always sent as an array (one vector per string); dimensions passes through (models
//   that cannot shorten their vectors answer with an error). Native "truncate" (bool),
//   "keep_alive" (string or number) and "options" (object: num_ctx, ...) pass through.
// Response: {"model", "embeddings":[[...], ...], "total_duration", "load_duration",
//   "prompt_eval_count"} → the vectors in order; usage = prompt_eval_count when reported. An
//   {"error": "..."} inside a 2xx answer becomes a 502 carrying its message.
// Errors: the Ollama chat adapter's mapper ({"error": "..."} bodies).
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "providers/embeddings/embeddings.hpp"
#include "providers/embeddings/internal.hpp"
#include "providers/ollama/ollama.hpp"

namespace llmux::providers::embeddings {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

constexpr std::string_view kProvider = "ollama";

std::optional<GatewayError> badType(std::string_view key, std::string_view expected) {
  return GatewayError::invalidRequest(
      "Invalid type for '" + std::string(key) + "': expected " + std::string(expected) + ".",
      std::string(key), "invalid_type");
}

std::optional<GatewayError> buildRequest(dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out) {
  out.clear();
  detail::Inputs in;
  if (auto err = detail::readInputs(request, kProvider, 0, in)) return err;
  std::optional<bool> truncate;
  if (auto err = detail::nativeBool(request, "truncate", truncate)) return err;
  dom::element keepAlive;
  const bool hasKeepAlive = request["keep_alive"].get(keepAlive) == SUCCESS && !keepAlive.is_null();
  if (hasKeepAlive && !keepAlive.is_string() && !keepAlive.is_number()) {
    return badType("keep_alive", "a duration string or a number of seconds");
  }
  dom::element options;
  const bool hasOptions = request["options"].get(options) == SUCCESS && !options.is_null();
  if (hasOptions && !options.is_object()) return badType("options", "an object");

  out.path = "/api/embed";
  std::string& b = out.body;
  b = R"({"model":)";
  appendJsonString(b, opts.upstreamModel);
  b += R"(,"input":[)";
  for (size_t i = 0; i < in.texts.size(); ++i) {
    if (i != 0) b.push_back(',');
    appendJsonString(b, in.texts[i]);
  }
  b.push_back(']');
  if (in.dimensions) {
    b += R"(,"dimensions":)";
    b += std::to_string(*in.dimensions);
  }
  if (truncate) b += *truncate ? R"(,"truncate":true)" : R"(,"truncate":false)";
  if (hasKeepAlive) {
    b += R"(,"keep_alive":)";
    b += simdjson::to_string(keepAlive);
  }
  if (hasOptions) {
    b += R"(,"options":)";
    b += simdjson::to_string(options);
  }
  b.push_back('}');
  return std::nullopt;
}

std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              dom::parser& parser, std::string& out, Usage& usage) {
  usage = Usage{};
  dom::object root;
  if (auto err = detail::parseObject(body, parser, kProvider, root)) return err;
  std::string_view error;
  if (root["error"].get(error) == SUCCESS) {
    // A failure reported inside a 2xx answer: the message is all there is.
    return GatewayError::badGateway(error.empty() ? std::string("Ollama reported an error.")
                                                  : std::string(error));
  }
  dom::array vectors;
  if (root["embeddings"].get(vectors) != SUCCESS) {
    return malformedUpstream(kProvider, "no \"embeddings\" array");
  }
  if (vectors.size() == 0) return malformedUpstream(kProvider, "no embeddings");
  detail::ListWriter list(opts, out);
  for (dom::element v : vectors) {
    if (auto err = list.add(v, kProvider)) return err;
  }
  dom::element count;
  int64_t tokens = 0;
  if (root["prompt_eval_count"].get(count) == SUCCESS && detail::readCount(count, tokens)) {
    usage = detail::inputUsage(tokens);
  }
  list.finish(usage);
  return std::nullopt;
}

}  // namespace

const providers::Adapter& ollamaAdapter() {
  static const providers::Adapter kAdapter{kProvider, &buildRequest, &translateResponse, nullptr,
                                           &ollama::mapError};
  return kAdapter;
}

}  // namespace llmux::providers::embeddings
