// Ollama error answers as OpenAI errors (wire_formats.md §6.2, §1.7; ollama docs/api/errors).
// Ollama's body is {"error":"<message>"} (a string, no type or code), so the status and the message
// are all there is to classify by:
//   404 naming a model ("model 'x' not found, try pulling it first") → invalid_request_error,
//       code model_not_found (OpenAI's shape for an unknown model)
//   a message about the context length                               → code context_length_exceeded
//   401 (hosted Ollama, proxies: "unauthorized")                     → authentication_error,
//       code invalid_api_key
//   429                                                             → code rate_limit_exceeded
//   400 "<model> does not support tools|thinking"                    → code unsupported_parameter,
//       param tools | reasoning_effort (the model lacks the capability; another may have it)
// OpenAI-style envelopes (an Ollama behind an OpenAI-speaking proxy) keep their own type and code;
// non-JSON bodies are quoted (openai::mapUpstreamError).
#include <string>
#include <string_view>
#include <utility>

#include "providers/common/text_match.hpp"
#include "providers/ollama/internal.hpp"
#include "providers/ollama/ollama.hpp"
#include "providers/openai/openai.hpp"

namespace llmux::providers::ollama {
namespace {

bool isContextLengthMessage(std::string_view m) {
  return containsLower(m, "context length") || containsLower(m, "context window") ||
         containsLower(m, "maximum context") || containsLower(m, "context size") ||
         containsLower(m, "prompt is too long");
}

void setCodeIfAbsent(GatewayError& err, std::string_view code) {
  if (!err.code) err.code = std::string(code);
}

// Adds the codes clients branch on; `statusType` is the type the status alone would give, which
// a classification may replace (a type the body named is kept).
void refine(GatewayError& err, bool typeFromStatus) {
  if (err.status == 404 && containsLower(err.message, "model") &&
      (containsLower(err.message, "not found") || containsLower(err.message, "pull"))) {
    if (typeFromStatus) err.type = "invalid_request_error";
    setCodeIfAbsent(err, "model_not_found");
  } else if (isContextLengthMessage(err.message)) {
    if (typeFromStatus && err.status >= 400 && err.status < 500) {
      err.type = "invalid_request_error";
    }
    setCodeIfAbsent(err, "context_length_exceeded");
  } else if (err.status == 401) {
    if (typeFromStatus) err.type = "authentication_error";
    setCodeIfAbsent(err, "invalid_api_key");
  } else if (err.status == 429) {
    setCodeIfAbsent(err, "rate_limit_exceeded");
  } else if (err.status == 400 && !err.code &&
             containsLower(err.message, "does not support tools")) {
    err.code = "unsupported_parameter";
    if (!err.param) err.param = "tools";
  } else if (err.status == 400 && !err.code &&
             containsLower(err.message, "does not support thinking")) {
    err.code = "unsupported_parameter";
    if (!err.param) err.param = "reasoning_effort";
  }
}

std::string typeForStatus(int status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    default:
      break;
  }
  return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

}  // namespace

namespace detail {

GatewayError errorFromMessage(int status, std::string message) {
  GatewayError err;
  err.status = status;
  err.type = typeForStatus(status);
  err.message = std::move(message);
  refine(err, true);
  return err;
}

}  // namespace detail

GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds) {
  GatewayError err = openai::mapUpstreamError(status, body, retryAfterSeconds);
  // The OpenAI mapper falls back to the status's type when the body names none, which is always
  // the case for Ollama's {"error":"..."}.
  refine(err, err.type == typeForStatus(err.status));
  classifyUpstreamError(err);
  return err;
}

}  // namespace llmux::providers::ollama
