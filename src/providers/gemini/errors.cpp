// Gemini / Vertex AI error answers as OpenAI errors (wire_formats.md §3.5, §1.7).
//
// Google RPC envelope {"error":{"code":<http>,"message","status":<RPC code>,"details":[...]}}
// (also wrapped in a one-element array, as the non-SSE stream endpoint sends it). The HTTP status
// is kept, the OpenAI type follows it, and the code clients branch on is derived:
//   RESOURCE_EXHAUSTED                         → rate_limit_exceeded (RetryInfo.retryDelay fills
//                                                Retry-After when the header did not)
//   INVALID_ARGUMENT + a token-limit message   → context_length_exceeded
//   ErrorInfo reason API_KEY_* , UNAUTHENTICATED, PERMISSION_DENIED → invalid_api_key; an invalid
//                                                key answered 400 becomes 401 authentication_error
//                                                (deliberate: it is the deployment's credential,
//                                                and 401 lets the router fall back to another key)
//   NOT_FOUND                                  → model_not_found
//   FAILED_PRECONDITION "location is not supported" → unsupported_country_region_territory
//   anything else                              → the RPC status in lower case ("internal", ...)
// Other bodies (proxies' HTML, flat JSON) go through openai::mapUpstreamError.
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "providers/common/text_match.hpp"
#include "providers/gemini/internal.hpp"
#include "providers/openai/openai.hpp"

namespace llmux::providers::gemini::detail {
namespace {

// Gemini API: "The input token count (1200000) exceeds the maximum number of tokens allowed
// (1048576)." Vertex AI: "Unable to submit request because the input token count is 1200000 but
// model only supports up to 1048576."
bool isContextLengthMessage(std::string_view m) {
  return (containsLower(m, "token count") &&
          (containsLower(m, "exceeds") || containsLower(m, "only supports up to"))) ||
         containsLower(m, "maximum number of tokens") || containsLower(m, "context length") ||
         containsLower(m, "context window");
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
      return status < 500 ? "invalid_request_error" : "api_error";
  }
}

int statusForRpc(std::string_view rpc) {
  struct Entry {
    std::string_view rpc;
    int status;
  };
  static constexpr Entry kTable[] = {
      {"INVALID_ARGUMENT", 400},   {"FAILED_PRECONDITION", 400},
      {"OUT_OF_RANGE", 400},       {"UNAUTHENTICATED", 401},
      {"PERMISSION_DENIED", 403},  {"NOT_FOUND", 404},
      {"ALREADY_EXISTS", 409},     {"ABORTED", 409},
      {"RESOURCE_EXHAUSTED", 429}, {"CANCELLED", 499},
      {"UNIMPLEMENTED", 501},      {"UNAVAILABLE", 503},
      {"DEADLINE_EXCEEDED", 504},
  };
  for (const Entry& e : kTable) {
    if (e.rpc == rpc) return e.status;
  }
  return 500;  // INTERNAL, UNKNOWN, DATA_LOSS, anything newer
}

// A protobuf Duration ("41s", "0.5s") rounded up to whole seconds.
std::optional<int64_t> parseDuration(std::string_view d) {
  if (!d.ends_with('s')) return std::nullopt;
  d.remove_suffix(1);
  int64_t whole = 0;
  bool fraction = false;
  size_t i = 0;
  for (; i < d.size() && d[i] >= '0' && d[i] <= '9'; ++i) {
    if (whole < (int64_t{1} << 31)) whole = whole * 10 + (d[i] - '0');
  }
  if (i == 0) return std::nullopt;
  if (i < d.size() && d[i] == '.') {
    for (++i; i < d.size() && d[i] >= '0' && d[i] <= '9'; ++i) fraction = fraction || d[i] != '0';
  }
  if (i != d.size()) return std::nullopt;
  return fraction ? whole + 1 : whole;
}

}  // namespace

GatewayError errorFromObject(int status, dom::object error, std::optional<int64_t> retryAfter) {
  int64_t code = 0;
  std::string_view message;
  std::string_view rpc;
  (void)error["code"].get(code);
  (void)error["message"].get(message);
  (void)error["status"].get(rpc);
  std::string_view reason;
  std::optional<int64_t> retryDelay;
  dom::array details;
  if (error["details"].get(details) == simdjson::SUCCESS) {
    for (dom::element d : details) {
      std::string_view type;
      std::string_view s;
      if (d["@type"].get(type) != simdjson::SUCCESS) continue;
      if (type.ends_with("google.rpc.ErrorInfo") && d["reason"].get(s) == simdjson::SUCCESS) {
        reason = s;
      } else if (type.ends_with("google.rpc.RetryInfo") &&
                 d["retryDelay"].get(s) == simdjson::SUCCESS) {
        retryDelay = parseDuration(s);
      }
    }
  }

  GatewayError err;
  if (status >= 400 && status <= 599) {
    err.status = status;
  } else if (code >= 400 && code <= 599) {
    err.status = static_cast<int>(code);
  } else {
    err.status = rpc.empty() ? 502 : statusForRpc(rpc);
  }
  if (!message.empty()) {
    err.message = std::string(message);
  } else {
    err.message = fmt::format("Upstream returned HTTP {}{}{}{}", err.status,
                              rpc.empty() ? "" : " (", rpc, rpc.empty() ? "" : ")");
  }
  err.retryAfterSeconds = retryAfter ? retryAfter : retryDelay;

  std::optional<std::string> errCode;
  if (reason.starts_with("API_KEY_") || rpc == "UNAUTHENTICATED" || rpc == "PERMISSION_DENIED") {
    errCode = "invalid_api_key";
    if (err.status == 400) err.status = 401;
  } else if (rpc == "RESOURCE_EXHAUSTED" || err.status == 429) {
    errCode = "rate_limit_exceeded";
  } else if (rpc == "INVALID_ARGUMENT" && isContextLengthMessage(message)) {
    errCode = "context_length_exceeded";
  } else if (rpc == "NOT_FOUND") {
    errCode = "model_not_found";
  } else if (rpc == "FAILED_PRECONDITION" && containsLower(message, "location is not supported")) {
    errCode = "unsupported_country_region_territory";
  } else if (!rpc.empty()) {
    std::string lc;
    for (char c : rpc) lc.push_back(asciiLower(c));
    errCode = std::move(lc);
  }
  err.code = std::move(errCode);
  err.type = typeForStatus(err.status);
  classifyUpstreamError(err);
  return err;
}

GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfter) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS) {
    dom::array arr;
    if (root.get(arr) == simdjson::SUCCESS && arr.size() > 0) (void)arr.at(0).get(root);
    dom::object error;
    if (root["error"].get(error) == simdjson::SUCCESS) {
      return errorFromObject(status, error, retryAfter);
    }
  }
  GatewayError err = openai::mapUpstreamError(status, body, retryAfter);
  if (!err.code) {
    if (err.status == 429) err.code = "rate_limit_exceeded";
    if (err.status == 401) err.code = "invalid_api_key";
  }
  classifyUpstreamError(err);
  return err;
}

}  // namespace llmux::providers::gemini::detail
