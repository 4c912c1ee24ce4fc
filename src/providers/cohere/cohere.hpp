#pragma once
// Cohere v2 Chat adapter (POST /v2/chat; wire_formats.md §6.3, §7). A pure translator between the
// OpenAI Chat Completions schema and Cohere's: no I/O, clock, logging or mutable globals.
//
// Mapping decisions (details next to the code):
// * Request: system/developer → system; user text and image_url parts (data: and http(s) URLs,
//   Cohere accepts both in image_url.url); assistant tool_calls keep their OpenAI shape and the
//   assistant's text beside them becomes `tool_plan`; tool results keep tool_call_id. stop →
//   stop_sequences, top_p → p (clamped into Cohere's 0.01..0.99), top_k → k, max_completion_tokens
//   / max_tokens → max_tokens, response_format json_object/json_schema → {type:"json_object",
//   json_schema?}, tool_choice required/none → REQUIRED/NONE ("auto" is Cohere's default and is
//   omitted; a named function cannot be forced), reasoning_effort → thinking.
// * Response/stream: text → content, tool_plan → content (it is the visible text the model writes
//   before calling tools), thinking → reasoning_content, tool_calls → tool_calls; COMPLETE and
//   STOP_SEQUENCE → stop, MAX_TOKENS → length, TOOL_CALL → tool_calls, ERROR/TIMEOUT → an error.
//   Usage from usage.tokens (billed_units as fallback) and usage.cached_tokens.
// * Errors: Cohere's {"message": ...} bodies get OpenAI types and codes; 498 (invalid token)
//   becomes 401 invalid_api_key.
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::cohere {

// The adapter the engine registers for the "cohere/" (and "cohere_chat/") prefix.
const providers::Adapter& adapter();

// The four translators behind adapter(), exposed for focused tests.
std::optional<GatewayError> buildRequest(simdjson::dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out);
std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              simdjson::dom::parser& parser, std::string& out,
                                              Usage& usage);
std::unique_ptr<providers::StreamDecoder> makeStreamDecoder(const ResponseOptions& opts);
GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds);

// A Cohere finish_reason, as far as OpenAI clients need to know (wire_formats.md §7).
enum class Finish { Stop, Length, ToolCalls, Error, Timeout };
// COMPLETE/STOP_SEQUENCE → Stop, MAX_TOKENS → Length, TOOL_CALL → ToolCalls, ERROR → Error,
// TIMEOUT → Timeout; unknown or future reasons → Stop (the turn did end).
Finish classifyFinishReason(std::string_view finishReason);
// "stop", "length" or "tool_calls" (Error and Timeout have no finish_reason: they become errors).
std::string_view openAIFinishReason(Finish finish);

// A Cohere usage object ({billed_units, tokens, cached_tokens}) in OpenAI terms: tokens.* when
// reported, else billed_units.*; cached_tokens counted inside prompt_tokens. present=false when
// neither count object is there. Hostile counts are clamped to [0, 2^53].
Usage readUsage(simdjson::dom::element usage);

// Appends the OpenAI usage object {"prompt_tokens",...,"completion_tokens_details":{...}}.
void appendUsageJson(std::string& out, const Usage& usage);

}  // namespace llmux::providers::cohere
