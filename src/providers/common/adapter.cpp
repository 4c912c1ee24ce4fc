#include "providers/common/adapter.hpp"

#include <fmt/format.h>

namespace llmux::providers {

void classifyUpstreamError(GatewayError& err) {
  const int s = err.status;
  const std::string_view code = err.code ? std::string_view(*err.code) : std::string_view();
  err.retryable = (s == 408 || s == 409 || s == 429 || s >= 500) && code != "insufficient_quota";
  err.fallbackAllowed = err.retryable || s == 401 || s == 403 || s == 404 ||
                        code == "insufficient_quota" || code == "context_length_exceeded" ||
                        code == "content_filter" || code == "content_policy_violation";
}

GatewayError unsupportedParam(std::string_view param, std::string_view provider,
                              std::string_view detail) {
  std::string msg = fmt::format(
      "Parameter '{}' is not supported by provider '{}'{}{}. Set drop_params: true (in the "
      "request or litellm_settings) to drop unsupported parameters instead.",
      param, provider, detail.empty() ? "" : ": ", detail);
  return GatewayError::invalidRequest(std::move(msg), std::string(param), "unsupported_parameter");
}

GatewayError malformedUpstream(std::string_view provider, std::string_view detail) {
  return GatewayError::badGateway(
      fmt::format("Provider '{}' sent a response llmux could not read: {}.", provider, detail),
      "upstream_protocol_error");
}

}  // namespace llmux::providers
