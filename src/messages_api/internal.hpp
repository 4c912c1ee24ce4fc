#pragma once
// Helpers shared by the messages_api sources (not part of the module's interface).
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace llmux::messages_api::detail {

// Token counts above 2^53 cannot be real; clamping keeps sums from overflowing.
inline constexpr int64_t kMaxCount = int64_t{1} << 53;

// A token count member, clamped to [0, 2^53]; `fallback` when absent, null or not a number.
inline int64_t readCount(simdjson::dom::element obj, std::string_view key, int64_t fallback = 0) {
  simdjson::dom::element v;
  if (obj[key].get(v) != simdjson::SUCCESS) return fallback;
  int64_t i = 0;
  double d = 0;
  if (v.get_int64().get(i) == simdjson::SUCCESS) return i < 0 ? 0 : (i > kMaxCount ? kMaxCount : i);
  if (v.is_uint64()) return kMaxCount;
  if (v.get_double().get(d) == simdjson::SUCCESS) {
    if (!(d > 0)) return 0;  // also NaN
    return d >= static_cast<double>(kMaxCount) ? kMaxCount : static_cast<int64_t>(d);
  }
  return fallback;
}

// The string member `key`, or "" when absent or not a string.
inline std::string_view stringOr(simdjson::dom::element obj, std::string_view key,
                                 std::string_view fallback = {}) {
  std::string_view s;
  return obj[key].get_string().get(s) == simdjson::SUCCESS ? s : fallback;
}

// An id usable as an Anthropic id (^[a-zA-Z0-9_-]+$): other bytes become '_'. Deterministic, so
// the same upstream id always maps to the same client id.
inline void appendSafeId(std::string& out, std::string_view id) {
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
}

// "msg_" + the OpenAI id without its "chatcmpl-" prefix (or `fallback` when there is none).
inline std::string messageIdFrom(std::string_view openaiId, std::string_view fallback) {
  constexpr std::string_view kPrefix = "chatcmpl-";
  if (openaiId.starts_with(kPrefix)) openaiId.remove_prefix(kPrefix.size());
  if (openaiId.starts_with("msg_")) openaiId.remove_prefix(4);  // already an Anthropic id
  if (openaiId.empty()) openaiId = fallback;
  if (openaiId.empty()) openaiId = "llmux";
  std::string id = "msg_";
  appendSafeId(id, openaiId.substr(0, 128));
  return id;
}

// The tool_use id for a call: the upstream id made safe, or a deterministic one when missing.
inline std::string toolIdFrom(std::string_view callId, std::string_view messageId,
                              int64_t ordinal) {
  std::string id;
  if (!callId.empty()) {
    appendSafeId(id, callId.substr(0, 128));
    return id;
  }
  id = "toolu_";
  std::string_view m = messageId;
  if (m.starts_with("msg_")) m.remove_prefix(4);
  id += m;
  id += '_';
  id += std::to_string(ordinal);
  return id;
}

// Anthropic error type for an OpenAI-shaped error without a status (mid-stream error payloads).
std::string_view errorTypeFor(int status, std::string_view type, std::string_view code);

}  // namespace llmux::messages_api::detail
