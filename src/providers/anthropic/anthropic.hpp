#pragma once
// Anthropic Messages API adapter (wire_formats.md §2), direct and on Vertex AI. A pure translator:
// no I/O, no clock, no logging, no globals.
#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/error.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::anthropic {

using Usage = providers::Usage;

// api.anthropic.com: POST /v1/messages, "model" in the body, anthropic-version header.
const providers::Adapter& adapter();

// Anthropic models on Vertex AI: the same body without "model" and with
// "anthropic_version":"vertex-2023-10-16", POSTed to
// /v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict
// (:streamRawPredict when streaming). Vertex takes no URL image sources.
const providers::Adapter& vertexAdapter();

// /v1/messages relayed to Anthropic as it is (passthrough.cpp): the client's Anthropic body with
// "model" replaced, the answer and its SSE events byte for byte; usage read on the way. Requests
// are Anthropic's, not OpenAI's: for Api's Anthropic route only.
const providers::Adapter& passthroughAdapter();
// The same for /v1/messages/count_tokens (Anthropic counts exactly; llmux can only estimate).
const providers::Adapter& countTokensAdapter();

enum class Flavor { Direct, Vertex };

// The OpenAI chat request as an Anthropic Messages call (the mapping is documented in request.cpp).
std::optional<GatewayError> buildRequest(simdjson::dom::element request,
                                         const providers::RequestOptions& opts, Flavor flavor,
                                         providers::UpstreamCall& out);

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

// The same, parsing with the caller's parser and writing into `out` (cleared first).
std::optional<GatewayError> toOpenAICompletion(std::string_view anthropicBody,
                                               std::string_view clientModel, int64_t created,
                                               simdjson::dom::parser& parser, std::string& out,
                                               Usage* usageOut);

// An upstream non-2xx answer as the client's error. The status is kept (529 included) and the
// Anthropic error type carried over, with the OpenAI codes clients branch on added
// (rate_limit_exceeded, context_length_exceeded, ...). Non-JSON bodies are quoted as by
// openai::mapUpstreamError. `retryAfterSeconds` comes from the caller's header parse. Router flags
// are not set here (the adapters' mapError adds classifyUpstreamError).
GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds);

}  // namespace llmux::providers::anthropic
