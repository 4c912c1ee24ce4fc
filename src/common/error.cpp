#include "common/error.hpp"

#include <fmt/format.h>

namespace llmux {

void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  // Copy runs that need no escaping in bulk; most values (ids, paths, names) are one such run.
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

namespace {
void appendNullable(std::string& out, const std::optional<std::string>& v) {
  if (v) {
    appendJsonString(out, *v);
  } else {
    out += "null";
  }
}
}  // namespace

std::string GatewayError::toJson() const {
  std::string out;
  out.reserve(message.size() + 96);
  out += R"({"error":{"message":)";
  appendJsonString(out, message);
  out += R"(,"type":)";
  appendJsonString(out, type);
  out += R"(,"param":)";
  appendNullable(out, param);
  out += R"(,"code":)";
  appendNullable(out, code);
  out += extraJson;
  out += "}}";
  return out;
}

GatewayError GatewayError::invalidRequest(std::string message, std::optional<std::string> param,
                                          std::optional<std::string> code) {
  return {400, "invalid_request_error", std::move(message), std::move(param), std::move(code), {}};
}
GatewayError GatewayError::authentication(std::string message) {
  return {401, "authentication_error", std::move(message), {}, "invalid_api_key", {}};
}
GatewayError GatewayError::notFound(std::string message, std::optional<std::string> code) {
  return {404, "invalid_request_error", std::move(message), {}, std::move(code), {}};
}
GatewayError GatewayError::payloadTooLarge(std::string message) {
  return {413, "invalid_request_error", std::move(message), {}, "request_too_large", {}};
}
GatewayError GatewayError::badGateway(std::string message, std::optional<std::string> code) {
  return {502, "upstream_error", std::move(message), {}, std::move(code), {}};
}
GatewayError GatewayError::gatewayTimeout(std::string message) {
  return {504, "timeout_error", std::move(message), {}, "upstream_timeout", {}};
}
GatewayError GatewayError::unavailable(std::string message) {
  return {503, "service_unavailable_error", std::move(message), {}, {}, {}};
}
GatewayError GatewayError::internal(std::string message) {
  return {500, "internal_error", std::move(message), {}, {}, {}};
}

}  // namespace llmux
