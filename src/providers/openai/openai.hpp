#pragma once
// OpenAI Chat Completions adapter (also every OpenAI-compatible host: hosted_vllm, ...).
// A pure translator: no I/O, no clock, no logging, no globals.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "types/chat_request.hpp"

namespace llmux::providers::openai {

struct Usage {
  bool present = false;
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;
  int64_t totalTokens = 0;
};

// The upstream body: the client's bytes with "model" replaced by `upstreamModel` and, for streams,
// stream_options.include_usage forced to true (so the gateway can account for tokens). Every other
// byte is copied unchanged. `out` is cleared first.
// `forceUsage` false leaves stream_options as the client sent them (hosts that reject the field).
void buildUpstreamBody(std::string_view body, const types::ChatRequest& req,
                       std::string_view upstreamModel, std::string& out, bool forceUsage = true);

// Usage of a non-streaming response body; present=false when absent or malformed.
// `body` gets spare capacity appended (simdjson padding).
Usage parseResponseUsage(std::string& body);

enum class ChunkKind {
  Done,       // data: [DONE]
  Content,    // an ordinary chunk (choices non-empty, or anything not below)
  UsageOnly,  // "choices": [] with a usage object: the include_usage chunk
  Error,      // a top-level "error" object (mid-stream error)
};
struct ChunkInfo {
  ChunkKind kind = ChunkKind::Content;
  Usage usage;  // set when the chunk carries a non-null usage object
};
// Classifies one SSE event's data payload. Never fails: unparseable data is Content.
ChunkInfo inspectStreamChunk(std::string_view data);

// An upstream non-2xx answer as the client's error: the upstream status is kept, and its message,
// type, param and code when the body is an OpenAI envelope {"error":{...}} or the flat
// {"object":"error","message":...} form (vLLM, Mistral); otherwise the message quotes the start of
// the body. `retryAfterSeconds` comes from the caller's parse of Retry-After / retry-after-ms.
GatewayError mapUpstreamError(int status, std::string_view body,
                              std::optional<int64_t> retryAfterSeconds);

// Parses a Retry-After header value: delta-seconds, or an HTTP-date relative to `nowUnixSeconds`.
// Also accepts a fractional delta ("1.5" -> 2, rounded up); a date in the past gives 0; garbage
// nullopt.
std::optional<int64_t> parseRetryAfter(std::string_view value, int64_t nowUnixSeconds);

// Parses a retry-after-ms header value (milliseconds, as OpenAI/Anthropic send it) into whole
// seconds, rounded up so the client never retries early; garbage gives nullopt.
std::optional<int64_t> parseRetryAfterMs(std::string_view value);

}  // namespace llmux::providers::openai
