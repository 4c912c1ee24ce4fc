#pragma once
// Shared by the request translator's sources: request.cpp (top-level parameters),
// request_messages.cpp (turns) and request_blocks.cpp (content blocks).
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/error.hpp"
#include "messages_api/internal.hpp"
#include "messages_api/messages_api.hpp"

namespace llmux::messages_api::detail {

namespace dom = simdjson::dom;
using MaybeError = std::optional<GatewayError>;
using simdjson::SUCCESS;

inline GatewayError bad(const std::string& path, std::string_view what) {
  return GatewayError::invalidRequest(fmt::format("{}: {}", path, what), path);
}

inline std::string at(std::string_view base, size_t i) {
  return fmt::format("{}.{}", base, i);
}

// The member `key` when present and not null.
inline bool member(dom::element obj, std::string_view key, dom::element& v) {
  return obj[key].get(v) == SUCCESS && !v.is_null();
}

inline void appendRaw(std::string& out, dom::element v) {
  out += simdjson::to_string(v);
}

inline void comma(std::string& s) {
  if (!s.empty()) s.push_back(',');
}

// `,"cache_control":{...}` when the block had one (LiteLLM's convention for OpenAI content parts).
inline void appendCacheControl(std::string& part, const dom::element* cacheControl) {
  if (cacheControl == nullptr) return;
  part += R"(,"cache_control":)";
  appendRaw(part, *cacheControl);
}

// {"type":"text","text":...[,"cache_control":{...}]}
inline void appendTextPart(std::string& parts, std::string_view text,
                           const dom::element* cacheControl) {
  comma(parts);
  parts += R"({"type":"text","text":)";
  appendJsonString(parts, text);
  appendCacheControl(parts, cacheControl);
  parts.push_back('}');
}

// Reads a block's optional cache_control: must be an object when present.
inline MaybeError readCacheControl(dom::element block, const std::string& path, dom::element& cc,
                                   bool& has) {
  has = member(block, "cache_control", cc);
  if (has && !cc.is_object()) return bad(path + ".cache_control", "Input should be an object");
  return std::nullopt;
}

inline MaybeError requireString(dom::element obj, std::string_view key, const std::string& path,
                                std::string_view& out) {
  if (obj[key].get_string().get(out) != SUCCESS) {
    return bad(fmt::format("{}.{}", path, key), obj[key].error() == simdjson::NO_SUCH_FIELD
                                                    ? "Field required"
                                                    : "Input should be a valid string");
  }
  return std::nullopt;
}

// Content blocks (request_blocks.cpp). Each appends one or more OpenAI content parts to `parts`
// (comma-separated, no brackets); `path` names the block in errors ("messages.0.content.1").
MaybeError convertText(dom::element block, const std::string& path, std::string& parts);
MaybeError convertImage(dom::element block, const std::string& path, std::string& parts);
// A search_result block's text: title, source, then its text blocks.
MaybeError searchResultText(dom::element block, const std::string& path, std::string& text);
// Blocks allowed in a user turn besides tool_result: text, image, document, search_result.
MaybeError convertUserPart(dom::element block, std::string_view type, const std::string& path,
                           std::string& parts);

// Turns (request_messages.cpp).
struct Ctx {
  std::string& messages;  // the OpenAI messages array's elements, comma-separated
  RequestInfo& info;
  size_t count = 0;  // messages written
};
// System content (top-level "system", or a message with role "system").
MaybeError convertSystem(dom::element sys, const std::string& path, Ctx& ctx);
MaybeError convertMessage(dom::element msg, const std::string& path, Ctx& ctx);
// True when the last message is a user turn carrying tool_result blocks (a tool loop goes on).
bool continuesToolLoop(dom::array messages);

}  // namespace llmux::messages_api::detail
