// Cohere error answers as OpenAI errors (wire_formats.md §6.3, §1.7). Cohere's body is
// {"message": "..."} (sometimes with an "id"); the status says the rest:
//   400 invalid_request_error; "too many tokens: ... prompt ..." → context_length_exceeded,
//       "too many tokens: max tokens must be ..." → param max_tokens, invalid_value
//   401, 498 (Cohere's "invalid token") → 401 authentication_error, invalid_api_key
//   402 (billing limit, no payment method) → insufficient_quota (not retried; another key may pay)
//   403 permission_error        404 invalid_request_error, model_not_found when about a model
//   422 invalid_request_error   429 rate_limit_error: rate_limit_exceeded, or insufficient_quota
//       for a trial key's monthly allowance (waiting a minute will not help)
//   499 (request cancelled) kept, code request_cancelled
//   500/501 server_error        503 service_unavailable_error   504 timeout_error
#include <optional>
#include <string>
#include <string_view>

#include "providers/cohere/cohere.hpp"
#include "providers/common/text_match.hpp"
#include "providers/openai/openai.hpp"

namespace llmux::providers::cohere {
namespace {

// "too many tokens: max tokens must be less than or equal to N, the maximum output for this
// model": the output limit, not the context. (A prompt that with max_tokens overflows the context
// is still a context-length error.)
bool isMaxTokensMessage(std::string_view m) {
  return containsLower(m, "max tokens must") || containsLower(m, "maximum output");
}

// Cohere reports an over-long prompt as a 400 whose message starts "too many tokens"; clients
// (LangChain, LiteLLM, ...) detect it by OpenAI's code to trim history.
bool isContextLengthMessage(std::string_view m) {
  return containsLower(m, "too many tokens") || containsLower(m, "context length") ||
         containsLower(m, "context window") || containsLower(m, "prompt is too long");
}

bool isMonthlyQuotaMessage(std::string_view m) {
  return containsLower(m, "/ month") || containsLower(m, "per month") ||
         containsLower(m, "monthly") || containsLower(m, "/month");
}

}  // namespace

GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds) {
  // The OpenAI mapper reads flat {"message": ...} bodies and quotes anything else; the status
  // then decides the vocabulary.
  GatewayError err = openai::mapUpstreamError(status, body, retryAfterSeconds);
  // Cohere sends no type of its own; the generic mapper filled one in from the status.
  switch (err.status) {
    case 400:
      err.type = "invalid_request_error";
      if (isContextLengthMessage(err.message)) {
        if (isMaxTokensMessage(err.message)) {
          // The requested output is over the model's limit: the client's max_tokens to fix.
          if (!err.param) err.param = "max_tokens";
          if (!err.code) err.code = "invalid_value";
        } else {
          err.code = "context_length_exceeded";
        }
      }
      break;
    case 401:
    case 498:
      // 498 is Cohere's own "invalid token" status, unknown to OpenAI clients and to the router.
      err.status = 401;
      err.type = "authentication_error";
      if (!err.code) err.code = "invalid_api_key";
      break;
    case 402:
      err.type = "insufficient_quota";
      if (!err.code) err.code = "insufficient_quota";
      break;
    case 403:
      err.type = "permission_error";
      break;
    case 404:
      err.type = "invalid_request_error";
      if (!err.code && containsLower(err.message, "model")) err.code = "model_not_found";
      break;
    case 429:
      if (isMonthlyQuotaMessage(err.message)) {
        err.type = "insufficient_quota";
        if (!err.code) err.code = "insufficient_quota";
      } else {
        err.type = "rate_limit_error";
        if (!err.code) err.code = "rate_limit_exceeded";
      }
      break;
    case 499:
      err.type = "api_error";
      if (!err.code) err.code = "request_cancelled";
      break;
    case 500:
    case 501:
      err.type = "server_error";
      break;
    case 503:
      err.type = "service_unavailable_error";
      break;
    case 504:
      err.type = "timeout_error";
      break;
    default:
      break;
  }
  classifyUpstreamError(err);
  return err;
}

}  // namespace llmux::providers::cohere
