#include "tokenizer/token_counter.hpp"

#include <simdjson.h>

#include "common/text.hpp"
#include "tokenizer/count.hpp"

namespace llmux::tokenizer {
namespace {

namespace dom = simdjson::dom;

GatewayError invalid(std::string message, std::string param) {
  return GatewayError::invalidRequest(std::move(message), std::move(param));
}

bool present(dom::object root, std::string_view key) {
  dom::element v;
  return !root[key].get(v) && !v.is_null();
}

}  // namespace

std::variant<std::string, GatewayError> tokenCounterResponse(std::string_view requestBody,
                                                             std::string_view deploymentModel) {
  // A private parser: the counting functions below reuse the thread's, which would invalidate
  // this document while it is still read.
  dom::parser parser;
  dom::element doc;
  if (auto err = parser.parse(requestBody.data(), requestBody.size()).get(doc)) {
    return invalid(std::string("request body is not valid JSON: ") + simdjson::error_message(err),
                   "body");
  }
  dom::object root;
  if (doc.get(root)) return invalid("request body must be a JSON object", "body");
  dom::element modelEl;
  if (root["model"].get(modelEl) || modelEl.is_null()) return invalid("model is required", "model");
  std::string_view requestModel;
  if (modelEl.get(requestModel) || requestModel.empty()) {
    return invalid("model must be a non-empty string", "model");
  }
  const bool hasMessages = present(root, "messages");
  const bool hasPrompt = present(root, "prompt");
  if (!hasMessages && !hasPrompt) return invalid("prompt or messages must be provided", "messages");
  if (hasMessages && hasPrompt) return invalid("prompt and messages cannot both be set", "prompt");

  std::string_view modelUsed = requestModel;
  if (!deploymentModel.empty()) {
    const size_t slash = deploymentModel.find('/');
    modelUsed =
        slash == std::string_view::npos ? deploymentModel : deploymentModel.substr(slash + 1);
  }
  auto counted = hasMessages ? countChatBody(modelUsed, requestBody)
                             : countPromptBody(modelUsed, requestBody, "prompt");
  if (auto* err = std::get_if<GatewayError>(&counted)) return std::move(*err);
  const Count& count = std::get<Count>(counted);

  std::string out;
  out.reserve(128 + requestModel.size() + modelUsed.size());
  out += "{\"total_tokens\":";
  appendDecimal(out, count.tokens);
  out += ",\"request_model\":";
  appendJsonString(out, requestModel);
  out += ",\"model_used\":";
  appendJsonString(out, modelUsed);
  out += ",\"tokenizer_type\":";
  out += encodingForModel(modelUsed).empty() ? "\"estimate\"" : "\"openai_tokenizer\"";
  out += '}';
  return out;
}

}  // namespace llmux::tokenizer
