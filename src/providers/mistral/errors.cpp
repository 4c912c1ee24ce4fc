// Mistral error answers as OpenAI errors (wire_formats.md §6.1, §1.7).
//
// Mistral's bodies come in several shapes:
//   {"object":"error","message":"...","type":"invalid_request_error","param":null,"code":"3051"}
//   {"object":"error","message":{"detail":[{"type","loc","msg","input"}]},"type":...,"code":null}
//   {"object":"Error","detail":[...],"message":[...],"type":"invalid_request_error","code":3001}
//   {"detail":[...]} / {"detail":"Unauthorized"} (422 validation, FastAPI-style)
//   {"message":"Unauthorized","request_id":"..."} (401 from the edge)
// openai::mapUpstreamError reads the flat and string forms; the validation lists are turned into a
// readable message here ("body.messages.0.user.name: Extra inputs are not permitted").
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/text.hpp"
#include "providers/common/text_match.hpp"
#include "providers/mistral/internal.hpp"
#include "providers/openai/openai.hpp"

namespace llmux::providers::mistral::detail {
namespace {

namespace dom = simdjson::dom;

constexpr size_t kMaxDetailMessage = 1000;

// "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum
// context length" and the like; clients (LangChain, LiteLLM...) trim history on OpenAI's code.
bool isContextLengthMessage(std::string_view m) {
  return containsLower(m, "too large for model") || containsLower(m, "context length") ||
         containsLower(m, "context window") || containsLower(m, "maximum context") ||
         containsLower(m, "prompt is too long") || containsLower(m, "too many tokens");
}

bool isModelNotFoundMessage(std::string_view m) {
  return containsLower(m, "invalid model") || containsLower(m, "model not found") ||
         containsLower(m, "no such model") || containsLower(m, "unknown model");
}

// A pydantic error list as "loc: msg; loc: msg", cut at an entry boundary past kMaxDetailMessage.
std::string describeDetail(dom::array detail) {
  std::string out;
  for (dom::element item : detail) {
    std::string entry;
    dom::array loc;
    if (item["loc"].get_array().get(loc) == simdjson::SUCCESS) {
      for (dom::element part : loc) {
        std::string_view s;
        int64_t n = 0;
        if (!entry.empty()) entry.push_back('.');
        if (part.get_string().get(s) == simdjson::SUCCESS) {
          entry.append(s);
        } else if (part.get_int64().get(n) == simdjson::SUCCESS) {
          appendDecimal(entry, n);
        }
      }
      if (!entry.empty()) entry += ": ";
    }
    std::string_view msg;
    if (item["msg"].get_string().get(msg) == simdjson::SUCCESS) {
      entry.append(msg);
    } else if (item.get_string().get(msg) == simdjson::SUCCESS) {
      entry.append(msg);
    } else {
      continue;
    }
    if (!out.empty()) {
      if (out.size() + entry.size() > kMaxDetailMessage) {
        out += "; ...";
        break;
      }
      out += "; ";
    }
    out += entry;
  }
  return out;
}

// A validation list wherever Mistral put it: "message" as an object holding "detail", as the list
// itself or as a JSON string of either; else a top-level "detail" list.
std::string findDetail(dom::element root, dom::parser& inner) {
  dom::element message;
  dom::array list;
  if (root["message"].get(message) == simdjson::SUCCESS) {
    std::string_view text;
    if (message.get_string().get(text) == simdjson::SUCCESS) {
      dom::element parsed;
      if (!text.empty() && (text.front() == '{' || text.front() == '[') &&
          inner.parse(text.data(), text.size()).get(parsed) == simdjson::SUCCESS) {
        message = parsed;
      }
    }
    if (message.get_array().get(list) == simdjson::SUCCESS ||
        message["detail"].get_array().get(list) == simdjson::SUCCESS) {
      std::string d = describeDetail(list);
      if (!d.empty()) return d;
    }
  }
  if (root["detail"].get_array().get(list) == simdjson::SUCCESS) return describeDetail(list);
  return {};
}

// Overrides what the generic mapper could not read from Mistral's validation shapes.
void readValidationBody(std::string_view body, GatewayError& err) {
  if (body.empty()) return;
  dom::parser parser;
  dom::parser inner;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return;
  }
  std::string detail = findDetail(root, inner);
  if (detail.empty()) return;
  err.message = std::move(detail);
  std::string_view s;
  if (root["type"].get_string().get(s) == simdjson::SUCCESS && !s.empty()) err.type = s;
  dom::element code;
  if (root["code"].get(code) == simdjson::SUCCESS && !code.is_null()) {
    err.code =
        code.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : simdjson::to_string(code);
  }
  if (root["param"].get_string().get(s) == simdjson::SUCCESS) err.param = std::string(s);
}

}  // namespace

GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds) {
  GatewayError err = openai::mapUpstreamError(status, body, retryAfterSeconds);
  readValidationBody(body, err);

  // The envelope marker ("object":"error") sometimes doubles as the type.
  if (err.type == "error" || err.type == "Error" || err.type.empty()) {
    err.type = err.status >= 500 ? "api_error" : "invalid_request_error";
  }
  if (err.type == "rate_limited") err.type = "rate_limit_error";
  // Mistral's proxy labels some validation failures internal_error_proxy; a 4xx is the client's.
  if (err.status < 500 && err.type.starts_with("internal_error"))
    err.type = "invalid_request_error";

  if (err.status == 401) {
    if (err.type == "invalid_request_error") err.type = "authentication_error";
    err.code = "invalid_api_key";
  } else if (err.status == 429) {
    // Mistral's numeric codes (1300, 3505 service tier capacity...) mean nothing to clients.
    if (err.code != "insufficient_quota") err.code = "rate_limit_exceeded";
  } else if (err.status >= 400 && err.status < 500 && isContextLengthMessage(err.message)) {
    err.type = "invalid_request_error";
    err.code = "context_length_exceeded";
  } else if (err.type == "invalid_model" || isModelNotFoundMessage(err.message) ||
             (err.status == 404 && containsLower(err.message, "model"))) {
    if (err.type == "invalid_model") err.type = "invalid_request_error";
    err.code = "model_not_found";
  } else if (err.status == 413) {
    err.type = "invalid_request_error";
    err.code = "request_too_large";
  }
  classifyUpstreamError(err);
  return err;
}

}  // namespace llmux::providers::mistral::detail
