#pragma once
// The one error type of the request path. Every failure a client can see becomes a GatewayError and
// is rendered in OpenAI's shape {"error":{"message","type","param","code"}}; no exceptions cross
// the data plane.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmux {

struct GatewayError {
  int status = 500;
  std::string type = "internal_error";
  std::string message;
  std::optional<std::string> param;  // null when absent
  std::optional<std::string> code;   // null when absent
  std::optional<int64_t> retryAfterSeconds;
  // For the router (set by providers::classifyUpstreamError on upstream answers): worth another
  // attempt on the same deployment, and worth trying a fallback deployment or model group.
  bool retryable = false;
  bool fallbackAllowed = false;
  // Further members of the error object, pre-rendered (",\"attempts\":[...]"), or empty.
  std::string extraJson{};

  // OpenAI error JSON: {"error":{"message":...,"type":...,"param":...,"code":...}}
  [[nodiscard]] std::string toJson() const;

  static GatewayError invalidRequest(std::string message, std::optional<std::string> param = {},
                                     std::optional<std::string> code = {});
  static GatewayError authentication(std::string message);
  static GatewayError notFound(std::string message, std::optional<std::string> code = {});
  static GatewayError payloadTooLarge(std::string message);
  static GatewayError badGateway(std::string message, std::optional<std::string> code = {});
  static GatewayError gatewayTimeout(std::string message);
  static GatewayError unavailable(std::string message);
  static GatewayError internal(std::string message);
};

// Appends `s` as a JSON string literal (with quotes) to `out`.
void appendJsonString(std::string& out, std::string_view s);

}  // namespace llmux
