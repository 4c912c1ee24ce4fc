#pragma once
// The Mistral request builder, shared by request.cpp (top-level fields, tools, formats) and
// request_messages.cpp (messages and content). Not part of the public header.
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"
#include "providers/common/adapter.hpp"
#include "providers/mistral/internal.hpp"

namespace llmux::providers::mistral::detail {

namespace dom = simdjson::dom;
using Err = std::optional<GatewayError>;

inline bool isInteger(dom::element v) {
  return v.type() == dom::element_type::INT64 || v.type() == dom::element_type::UINT64;
}
inline bool isNumber(dom::element v) {
  return isInteger(v) || v.type() == dom::element_type::DOUBLE;
}

inline std::string_view stringOr(simdjson::simdjson_result<dom::element> v,
                                 std::string_view fallback) {
  std::string_view s;
  return v.get_string().get(s) == simdjson::SUCCESS ? s : fallback;
}
inline std::string_view stringOr(dom::element v, std::string_view fallback) {
  std::string_view s;
  return v.get_string().get(s) == simdjson::SUCCESS ? s : fallback;
}

// A member that is present and not null.
inline bool member(dom::element obj, std::string_view key, dom::element& v) {
  return obj[key].get(v) == simdjson::SUCCESS && !v.is_null();
}

inline std::string indexed(std::string_view base, size_t i) {
  std::string s(base);
  s += '[';
  appendDecimal(s, static_cast<int64_t>(i));
  s += ']';
  return s;
}

inline Err badField(const std::string& param, std::string_view what) {
  return GatewayError::invalidRequest("Invalid '" + param + "': " + std::string(what) + ".", param);
}

inline bool containsMagistral(std::string_view model) {
  constexpr std::string_view kWord = "magistral";
  for (size_t i = 0; i + kWord.size() <= model.size(); ++i) {
    size_t k = 0;
    while (k < kWord.size() && (model[i + k] | 0x20) == kWord[k]) ++k;
    if (k == kWord.size()) return true;
  }
  return false;
}

class RequestBuilder {
 public:
  RequestBuilder(const RequestOptions& opts, UpstreamCall& out) : opts_(opts), out_(out) {}
  Err run(dom::object request);

 private:
  Err field(std::string_view key, dom::element v);
  Err unsupported(const std::string& param, std::string_view detail = {});
  void key(std::string_view k) {
    body().push_back(',');
    appendJsonString(body(), k);
    body().push_back(':');
  }
  std::string& body() { return out_.body; }

  Err messages(dom::element v);
  Err message(dom::element msg, size_t i);
  Err textContent(dom::element content, const std::string& path, bool allowRefusal,
                  std::string& text);
  Err chunkArray(dom::array parts, const std::string& path, bool userParts);
  Err assistantToolCalls(dom::array calls, const std::string& path);
  Err tools(dom::element v, std::string_view param, bool legacyFunctions);
  Err functionTool(dom::element fn, const std::string& path);
  Err toolChoice(dom::element v);
  Err functionCall(dom::element v);
  Err responseFormat(dom::element v);
  Err reasoningEffort(dom::element v);
  Err prediction(dom::element v);
  Err stop(dom::element v);
  Err number(std::string_view param, std::string_view wireKey, dom::element v, bool integer);

  const RequestOptions& opts_;
  UpstreamCall& out_;
  // Pre-scan results (non-null members), so a field emitted earlier in body order can depend on
  // one that comes later.
  bool hasRandomSeed_ = false;
  bool hasMaxCompletionTokens_ = false;
  bool hasTools_ = false;
  bool hasToolChoice_ = false;
  bool hasPromptMode_ = false;
  bool filterTools_ = false;  // tool_choice allowed_tools: only these names go out
  std::vector<std::string_view> allowedTools_;
  std::unordered_map<std::string_view, std::string_view> callNames_;  // OpenAI call id → name
};

}  // namespace llmux::providers::mistral::detail
