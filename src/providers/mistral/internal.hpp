#pragma once
// Pieces shared by the Mistral request, response, stream and error translators (not part of the
// public header).
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::mistral::detail {

inline constexpr std::string_view kProvider = "mistral";
inline constexpr std::string_view kPath = "/v1/chat/completions";

// Upper bound for one SSE event of a stream.
inline constexpr size_t kMaxEventBytes = size_t{8} << 20;

std::optional<GatewayError> buildRequest(simdjson::dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out);

std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              simdjson::dom::parser& parser, std::string& out,
                                              Usage& usage);

std::unique_ptr<StreamDecoder> makeStreamDecoder(const ResponseOptions& opts);

GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds);

// A Mistral finish_reason as OpenAI's (wire_formats.md §7): stop → stop; length and model_length
// (the prompt plus output reached the model's context) → length; tool_calls → tool_calls;
// content_filter → content_filter; anything else (unknown, future) → stop. "error" never reaches
// here: callers treat it as a failed generation (see isErrorFinish).
std::string_view finishReason(std::string_view mistralReason);
inline bool isErrorFinish(std::string_view mistralReason) {
  return mistralReason == "error";
}

// Usage from a Mistral usage object: prompt_tokens, completion_tokens, total_tokens (their sum
// when absent), prompt_tokens_details.cached_tokens (prompt caching) and
// completion_tokens_details.reasoning_tokens when reported. Counts are clamped to [0, 2^53].
// present=false unless `usage` is an object.
Usage readUsage(simdjson::dom::element usage);

// OpenAI's usage object for `u`.
void appendUsageJson(std::string& out, const Usage& u);

// Splits Mistral message content into visible text and thinking text. A string is text; an array
// holds chunks: {"type":"text","text"} → text, {"type":"thinking","thinking":[text chunks] or
// string} → reasoning; other chunk types (reference, ...) carry nothing for OpenAI. null is empty.
// Returns false when `content` is neither null, a string nor an array.
struct ContentParts {
  std::string text;
  std::string reasoning;
  bool haveText = false;
  bool haveReasoning = false;
};
bool splitContent(simdjson::dom::element content, ContentParts& out);

// Tool-call arguments as the JSON string OpenAI clients expect: a string is kept, an object (some
// Mistral versions) is minified, absent or null gives `fallback`.
std::string argumentsText(simdjson::simdjson_result<simdjson::dom::element> args,
                          std::string_view fallback);

// A token count member, clamped to [0, 2^53]; nullopt when absent or not a number.
std::optional<int64_t> readCount(simdjson::dom::element obj, std::string_view key);

}  // namespace llmux::providers::mistral::detail
