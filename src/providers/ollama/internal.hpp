#pragma once
// Pieces shared by the Ollama request, response and stream translators (not part of the public
// header).
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::ollama::detail {

// Which Ollama endpoint an adapter speaks.
enum class Api {
  Chat,      // /api/chat: message.{content,thinking,tool_calls}
  Generate,  // /api/generate: response, thinking
};

// The provider name used in error messages: LiteLLM's provider prefix.
constexpr std::string_view providerName(Api api) {
  return api == Api::Chat ? "ollama_chat" : "ollama";
}

// Upper bound for one NDJSON line (and so for one streamed JSON object).
constexpr size_t kMaxLineBytes = size_t{8} << 20;

std::optional<GatewayError> buildRequest(Api api, simdjson::dom::element request,
                                         const RequestOptions& opts, UpstreamCall& out);

std::optional<GatewayError> translateResponse(Api api, std::string_view body,
                                              const ResponseOptions& opts,
                                              simdjson::dom::parser& parser, std::string& out,
                                              Usage& usage);

std::unique_ptr<StreamDecoder> makeStreamDecoder(Api api, const ResponseOptions& opts);

// Token counts: prompt_eval_count / eval_count, clamped to [0, 2^53]. Sets `present` when either
// member is a number.
void readCounts(simdjson::dom::object obj, Usage& usage);

// OpenAI's usage object for `u` (cached and reasoning details are always 0 for Ollama).
void appendUsageJson(std::string& out, const Usage& u);

// wire_formats.md §7: any tool call → "tool_calls"; "length" → "length"; stop, load, unload and
// anything else → "stop".
std::string_view finishReason(std::string_view doneReason, bool sawToolCalls);

// One tool call of an Ollama message, read leniently: `name` (required string), `arguments` as
// the JSON string OpenAI clients expect (an object is minified; a string is kept; absent gives
// "{}"), and the call's own `id` when Ollama sent one (newer servers), else empty. False when the
// call is not an object with a function name.
struct ToolCall {
  std::string_view id;
  std::string_view name;
  std::string arguments;
};
bool readToolCall(simdjson::dom::element call, ToolCall& out);

// Ollama gives no tool-call ids (older servers); the gateway makes deterministic ones from the
// response id and the call's position in the answer: "call_<id sans chatcmpl->_<index>", so ids
// stay unique across the turns of a conversation and match between streamed and whole answers.
std::string toolCallId(std::string_view responseId, int64_t index);

// An upstream error message as a GatewayError (status kept, type/code classified). Used for
// non-2xx bodies and for {"error":...} lines inside a 200 stream.
GatewayError errorFromMessage(int status, std::string message);

}  // namespace llmux::providers::ollama::detail
