// Anthropic error answers as OpenAI errors (wire_formats.md §2.5, §1.7).
#include <string_view>

#include "providers/anthropic/anthropic.hpp"
#include "providers/common/text_match.hpp"
#include "providers/openai/openai.hpp"

namespace llmux::providers::anthropic {
namespace {

// Anthropic reports an over-long prompt as a plain invalid_request_error; clients (LangChain,
// LiteLLM, ...) detect it by OpenAI's code to trim history, so the message is the only signal.
bool isContextLengthMessage(std::string_view message) {
  return containsLower(message, "prompt is too long") ||
         containsLower(message, "exceed context limit") ||
         containsLower(message, "context window") || containsLower(message, "context length");
}

void setCodeIfAbsent(GatewayError& err, std::string_view code) {
  if (!err.code) err.code = std::string(code);
}

}  // namespace

GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds) {
  // The OpenAI mapper already reads Anthropic's envelope {"type":"error","error":{type,message}},
  // flat {"message":...} bodies, and quotes anything else; only the type/code vocabulary differs.
  GatewayError err = openai::mapUpstreamError(status, body, retryAfterSeconds);
  // Google's envelope (Vertex AI answering before the model: quota, auth, unknown model) carries
  // the HTTP status as a numeric "code"; it says nothing the status does not.
  if (err.code && !err.code->empty() &&
      err.code->find_first_not_of("0123456789") == std::string::npos) {
    err.code.reset();
  }

  // A flat body's "type" may be the envelope marker rather than an error type.
  if (err.type == "error") err.type = err.status >= 500 ? "api_error" : "invalid_request_error";
  // Statuses whose Anthropic type the generic status fallback does not know (non-JSON bodies).
  if (err.status == 529 && err.type == "api_error") err.type = "overloaded_error";
  if (err.status == 504 && err.type == "api_error") err.type = "timeout_error";
  if (err.status == 402 && err.type == "invalid_request_error") err.type = "billing_error";

  if (err.type == "rate_limit_error") {
    setCodeIfAbsent(err, "rate_limit_exceeded");
  } else if (err.type == "authentication_error") {
    setCodeIfAbsent(err, "invalid_api_key");
  } else if (err.type == "request_too_large" || err.status == 413) {
    // OpenAI has no such type; this matches the gateway's own 413 (GatewayError::payloadTooLarge).
    err.type = "invalid_request_error";
    setCodeIfAbsent(err, "request_too_large");
  } else if (err.type == "invalid_request_error" && isContextLengthMessage(err.message)) {
    err.code = "context_length_exceeded";
  } else if (err.type == "billing_error") {
    // OpenAI's name for "no credit left": not worth a retry, worth another deployment.
    setCodeIfAbsent(err, "insufficient_quota");
  } else if (err.status == 404) {
    // The model is the only thing a Messages call (or Vertex rawPredict) can fail to find.
    setCodeIfAbsent(err, "model_not_found");
  }
  return err;
}

}  // namespace llmux::providers::anthropic
