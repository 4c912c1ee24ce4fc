// Gateway errors in Anthropic's shape (wire_formats.md §2.5):
//   {"type":"error","error":{"type":<error type>,"message":...}[,"request_id":...]}
//
// The type is chosen by what names the failure most precisely:
//   1. the code: request_too_large, invalid_api_key → authentication_error, insufficient_quota →
//      billing_error, rate_limit_exceeded, model_not_found → not_found_error, upstream_timeout →
//      timeout_error, server_is_overloaded / slow_down → overloaded_error
//   2. a type already in Anthropic's vocabulary (the gateway's Anthropic adapter keeps upstream
//      types such as overloaded_error and billing_error), except the two generic ones
//   3. the status: 400 invalid_request_error, 401 authentication_error, 402 billing_error,
//      403 permission_error, 404 not_found_error, 408 and 504 timeout_error, 413
//      request_too_large, 429 rate_limit_error, 503 and 529 overloaded_error, other 4xx
//      invalid_request_error, other 5xx api_error
//   4. without a status (an error payload inside a stream): OpenAI's type names
//      (invalid_request_error, request_forbidden, requests/tokens, service_unavailable_error), else
//      api_error.
// The status itself is kept (Anthropic SDKs decide retries by status, as OpenAI's do).
#include <string>
#include <string_view>

#include "messages_api/internal.hpp"
#include "messages_api/messages_api.hpp"

namespace llmux::messages_api {

namespace detail {

std::string_view errorTypeFor(int status, std::string_view type, std::string_view code) {
  if (code == "request_too_large") return "request_too_large";
  if (code == "invalid_api_key") return "authentication_error";
  if (code == "insufficient_quota" || type == "insufficient_quota") return "billing_error";
  if (code == "rate_limit_exceeded") return "rate_limit_error";
  if (code == "model_not_found") return "not_found_error";
  if (code == "upstream_timeout") return "timeout_error";
  if (code == "server_is_overloaded" || code == "slow_down") return "overloaded_error";

  static constexpr std::string_view kSpecific[] = {
      "authentication_error", "billing_error",    "permission_error", "not_found_error",
      "request_too_large",    "rate_limit_error", "timeout_error",    "overloaded_error"};
  for (std::string_view t : kSpecific) {
    if (type == t) return t;
  }

  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 408:
    case 504:
      return "timeout_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      break;
  }
  if (status >= 400 && status < 500) return "invalid_request_error";
  if (status >= 500) return "api_error";

  if (type == "invalid_request_error") return "invalid_request_error";
  if (type == "request_forbidden") return "permission_error";
  if (type == "requests" || type == "tokens") return "rate_limit_error";
  if (type == "service_unavailable_error") return "overloaded_error";
  return "api_error";
}

}  // namespace detail

std::string_view anthropicErrorType(const GatewayError& err) {
  return detail::errorTypeFor(err.status, err.type, err.code ? std::string_view(*err.code) : "");
}

int anthropicStatus(const GatewayError& err) {
  return err.status >= 400 && err.status <= 599 ? err.status : 500;
}

std::string toAnthropicError(const GatewayError& err, std::string_view requestId) {
  std::string out;
  out.reserve(err.message.size() + 96);
  out += R"({"type":"error","error":{"type":)";
  appendJsonString(out, anthropicErrorType(err));
  out += R"(,"message":)";
  appendJsonString(out, err.message.empty() ? std::string_view("An error occurred.")
                                            : std::string_view(err.message));
  out += "}";
  if (!requestId.empty()) {
    out += R"(,"request_id":)";
    appendJsonString(out, requestId);
  }
  out += "}";
  return out;
}

}  // namespace llmux::messages_api
