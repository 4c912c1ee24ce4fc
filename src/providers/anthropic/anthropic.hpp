#pragma once
// Anthropic Messages API adapter. A pure translator: no I/O, no clock, no logging, no globals.
// Request translation (OpenAI -> Anthropic) and the stream translator will join this header.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/error.hpp"

namespace llmux::providers::anthropic {

// OpenAI-shaped usage of one Anthropic response. openai::Usage has no cache or reasoning counts,
// which Anthropic reports and accounting needs, hence a type of our own.
struct Usage {
  bool present = false;
  int64_t promptTokens = 0;      // input + cache_creation + cache_read
  int64_t completionTokens = 0;  // output_tokens (includes thinking)
  int64_t totalTokens = 0;
  int64_t cachedTokens = 0;     // cache_read_input_tokens
  int64_t reasoningTokens = 0;  // output_tokens_details.thinking_tokens, when reported
};

// An Anthropic stop_reason as an OpenAI finish_reason (wire_formats.md §7). Unknown or future
// reasons give "stop": the turn did end, and clients reject finish_reason values they don't know.
std::string_view toOpenAIFinishReason(std::string_view stopReason);

// A non-streaming Anthropic message as an OpenAI chat.completion body whose "model" is
// `clientModel` (the name the client asked for). Text blocks are joined into content, tool_use
// blocks become tool_calls, thinking text becomes the non-standard reasoning_content; other blocks
// are dropped. `usageOut` (optional) receives the usage. A body that is not a message gives a 502
// upstream_protocol_error.
std::variant<std::string, GatewayError> toOpenAICompletion(std::string_view anthropicBody,
                                                           std::string_view clientModel,
                                                           int64_t created, Usage* usageOut);

// An upstream non-2xx answer as the client's error. The status is kept (529 included) and the
// Anthropic error type carried over, with the OpenAI codes clients branch on added
// (rate_limit_exceeded, context_length_exceeded, ...). Non-JSON bodies are quoted as by
// openai::mapUpstreamError. `retryAfterSeconds` comes from the caller's header parse.
GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds);

}  // namespace llmux::providers::anthropic
