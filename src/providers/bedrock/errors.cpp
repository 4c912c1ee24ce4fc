// Bedrock error answers as OpenAI errors (wire_formats.md §4.6, §1.7).
//
// Bedrock names the exception in the x-amzn-ErrorType header ("ThrottlingException:http://...")
// and sometimes in the body ("__type":"com.amazon.coral.service#ThrottlingException"); the body
// carries {"message":...} (sometimes "Message"). mapError sees only status and body, so it reads
// "__type" when present and otherwise goes by the status. In-stream exception frames name the
// exception in lowerCamel ("throttlingException"); names are compared case-insensitively.
#include <simdjson.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "providers/bedrock/bedrock.hpp"
#include "providers/common/text_match.hpp"
#include "providers/openai/openai.hpp"

namespace llmux::providers::bedrock {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

bool equalsLower(std::string_view s, std::string_view lowerWord) {
  if (s.size() != lowerWord.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (asciiLower(s[i]) != lowerWord[i]) return false;
  }
  return true;
}

struct Known {
  std::string_view name;  // lowercase
  int status;             // documented HTTP status
  std::string_view type;
  std::string_view code;  // "" = null
};

constexpr std::array<Known, 16> kExceptions = {{
    {"throttlingexception", 429, "rate_limit_error", "rate_limit_exceeded"},
    {"modelnotreadyexception", 429, "service_unavailable_error", "model_not_ready"},
    {"servicequotaexceededexception", 400, "insufficient_quota", "insufficient_quota"},
    {"validationexception", 400, "invalid_request_error", ""},
    {"conflictexception", 400, "invalid_request_error", ""},
    {"accessdeniedexception", 403, "permission_error", ""},
    {"resourcenotfoundexception", 404, "invalid_request_error", "model_not_found"},
    {"modeltimeoutexception", 408, "timeout_error", ""},
    {"modelerrorexception", 424, "api_error", ""},
    {"modelstreamerrorexception", 424, "api_error", ""},
    {"internalserverexception", 500, "api_error", ""},
    {"serviceunavailableexception", 503, "service_unavailable_error", ""},
    {"unrecognizedclientexception", 403, "authentication_error", "invalid_api_key"},
    {"invalidsignatureexception", 403, "authentication_error", "invalid_api_key"},
    {"incompletesignatureexception", 403, "authentication_error", "invalid_api_key"},
    {"expiredtokenexception", 403, "authentication_error", "invalid_api_key"},
}};

// "com.amazon.coral.service#ThrottlingException" and "ThrottlingException:http://..." → the name.
std::string_view bareName(std::string_view name) {
  if (const size_t hash = name.rfind('#'); hash != std::string_view::npos) {
    name.remove_prefix(hash + 1);
  }
  if (const size_t colon = name.find(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  return name;
}

// An over-long prompt is a plain ValidationException ("Input is too long for requested model.",
// "prompt is too long: ... maximum"); clients trim history on context_length_exceeded.
bool isContextLengthMessage(std::string_view m) {
  return containsLower(m, "too long") || containsLower(m, "context length") ||
         containsLower(m, "context window") || containsLower(m, "context limit") ||
         containsLower(m, "maximum context") || containsLower(m, "too many input tokens");
}

// Bad or expired AWS credentials, whatever the exception is called.
bool isCredentialMessage(std::string_view m) {
  return containsLower(m, "security token included in the request is") ||
         containsLower(m, "signature we calculated does not match") ||
         containsLower(m, "invalid api key") || containsLower(m, "api key is invalid");
}

// Type and code by status, when the exception is unknown or unnamed.
void classifyByStatus(GatewayError& err) {
  err.code.reset();
  switch (err.status) {
    case 400:
      err.type = "invalid_request_error";
      break;
    case 401:
      err.type = "authentication_error";
      err.code = "invalid_api_key";
      break;
    case 403:
      err.type = "permission_error";
      break;
    case 404:
      // ResourceNotFoundException is the only documented 404: the model id (or profile) is unknown.
      err.type = "invalid_request_error";
      err.code = "model_not_found";
      break;
    case 408:
      err.type = "timeout_error";
      break;
    case 424:
      // ModelErrorException / ModelStreamErrorException: the model itself failed.
      err.type = "api_error";
      break;
    case 429:
      err.type = "rate_limit_error";
      err.code = "rate_limit_exceeded";
      break;
    case 503:
      err.type = "service_unavailable_error";
      break;
    default:
      err.type = err.status >= 500 ? "api_error" : "invalid_request_error";
  }
}

// Fills type/code for exception `name` (possibly empty); keeps err.status unless `useDocumented`.
void classify(GatewayError& err, std::string_view name, bool useDocumented) {
  name = bareName(name);
  const Known* known = nullptr;
  for (const Known& k : kExceptions) {
    if (equalsLower(name, k.name)) known = &k;
  }
  if (known != nullptr) {
    if (useDocumented) err.status = known->status;
    err.type = std::string(known->type);
    err.code.reset();
    if (!known->code.empty()) err.code = std::string(known->code);
  } else {
    if (useDocumented) err.status = 500;
    classifyByStatus(err);
  }
  if (isCredentialMessage(err.message)) {
    err.type = "authentication_error";
    err.code = "invalid_api_key";
  } else if (err.type == "invalid_request_error" && err.status == 400 &&
             isContextLengthMessage(err.message)) {
    err.code = "context_length_exceeded";
  }
}

}  // namespace

GatewayError errorFromException(std::string_view name, std::string_view message, int status) {
  GatewayError err;
  err.message = message.empty() ? std::string("Bedrock reported ") + std::string(bareName(name))
                                : std::string(message);
  if (status > 0) err.status = status;
  classify(err, name, status <= 0);
  return err;
}

GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds) {
  // The OpenAI mapper keeps the status (502 for a non-error one), reads a flat {"message":...}
  // and quotes any other body; Bedrock's exception vocabulary is applied on top.
  GatewayError err = openai::mapUpstreamError(status, body, retryAfterSeconds);
  err.param.reset();
  std::string_view name;
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) == SUCCESS && root.is_object()) {
    std::string_view m;
    if (root["message"].get_string().get(m) != SUCCESS) {
      (void)root["Message"].get_string().get(m);
    }
    if (!m.empty()) err.message = std::string(m);
    (void)root["__type"].get_string().get(name);
  }
  classify(err, name, false);
  err.retryAfterSeconds = retryAfterSeconds;
  classifyUpstreamError(err);
  return err;
}

}  // namespace llmux::providers::bedrock
