#pragma once
// The shape every native provider adapter has (anthropic/, gemini/, bedrock/, cohere/, ollama/...):
// four pure translators between the canonical OpenAI Chat Completions schema and the provider's
// wire format. No I/O, clock, logging or globals: the engine owns those, passes what a translator
// needs (model names, ids, the creation time) in, and sends what it builds.
//
// OpenAI-compatible hosts do not use this: their bodies are spliced, not rebuilt
// (providers/openai).
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace llmux::providers {

// Token usage in OpenAI's terms, including the details OpenAI nests under
// prompt_tokens_details.cached_tokens and completion_tokens_details.reasoning_tokens.
struct Usage {
  bool present = false;
  int64_t promptTokens = 0;      // every input token, cached ones included
  int64_t completionTokens = 0;  // every output token, reasoning included
  int64_t totalTokens = 0;
  int64_t cachedTokens = 0;     // prompt tokens read from the provider's cache
  int64_t reasoningTokens = 0;  // completion tokens spent thinking, when reported
};

// What the request translator knows about the deployment and the call.
struct RequestOptions {
  std::string_view upstreamModel;  // the provider's model id (litellm_params.model sans prefix)
  bool stream = false;             // the client asked for "stream": true
  bool dropParams = false;  // LiteLLM drop_params (config or request): drop what cannot be honoured
  int64_t defaultMaxTokens =
      4096;                     // for providers that require max_tokens when the client sent none
  std::string_view apiVersion;  // litellm_params.api_version, when the provider has versions
  std::string_view project;     // Vertex AI: vertex_project
  std::string_view location;    // Vertex AI: vertex_location (region, or "global")
};

// The upstream call a request translator builds. The engine adds the origin, the auth headers
// (api keys, SigV4, OAuth), content-type and content-length.
struct UpstreamCall {
  std::string path;     // request target, query included: "/v1/messages"
  std::string headers;  // provider headers, each "name: value\r\n" (e.g. anthropic-version)
  std::string body;
  std::vector<std::string> dropped;  // request parameters dropped under drop_params, in body order
  void clear() {
    path.clear();
    headers.clear();
    body.clear();
    dropped.clear();
  }
};

// What the response and stream translators need to shape OpenAI answers.
struct ResponseOptions {
  std::string_view clientModel;  // "model" in every answer: the name the client asked for
  std::string_view id;           // "chatcmpl-..." when the provider gives no usable id
  int64_t created = 0;           // unix seconds, for "created"
  bool includeUsage = false;     // streams: the client asked for stream_options.include_usage
  bool base64 = false;           // embeddings: the client asked for encoding_format "base64"
};

enum class StreamStatus {
  Continue,  // more to come
  Done,      // the stream ended normally; the final chunks and "data: [DONE]\n\n" were appended
  Failed,    // the stream ended with an error; one final `data: {"error":{...}}` event was appended
};

// Turns a provider's streamed body (SSE, NDJSON or AWS event-stream, split anywhere) into OpenAI
// chat.completion.chunk SSE events. Incremental and bounded: a frame or event larger than the
// decoder's limit fails the stream instead of growing a buffer without end.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Appends zero or more complete "data: ...\n\n" events to `out`. After Done or Failed the
  // decoder appends nothing more and keeps returning that status.
  virtual StreamStatus feed(std::string_view bytes, std::string& out) = 0;
  // The upstream body ended. Returns Done (appending what a clean end still owes, e.g. the usage
  // chunk and [DONE]) when the provider's end-of-stream marker was seen, else Failed appending
  // nothing: the engine reports the truncation itself.
  virtual StreamStatus finish(std::string& out) = 0;
  // Usage seen so far (final once Done).
  [[nodiscard]] virtual Usage usage() const = 0;
};

struct Adapter {
  std::string_view name;  // "anthropic", "gemini", ...
  // OpenAI chat request (already validated JSON) → the upstream call. A request the provider cannot
  // serve gives a 400 naming the parameter and the provider (unless dropParams allows dropping it).
  std::optional<GatewayError> (*buildRequest)(simdjson::dom::element request,
                                              const RequestOptions& opts, UpstreamCall& out);
  // A 2xx non-streaming body → an OpenAI chat.completion body in `out` (cleared first) and its
  // usage. A body that is not what the provider documents gives a 502 upstream_protocol_error.
  std::optional<GatewayError> (*translateResponse)(std::string_view body,
                                                   const ResponseOptions& opts,
                                                   simdjson::dom::parser& parser, std::string& out,
                                                   Usage& usage);
  // nullptr for adapters that never stream (embeddings).
  std::unique_ptr<StreamDecoder> (*makeStreamDecoder)(const ResponseOptions& opts);
  // A non-2xx answer → the client's error, router flags set (classifyUpstreamError).
  // `retryAfterSeconds` is the caller's parse of Retry-After / retry-after-ms.
  GatewayError (*mapError)(int status, std::string_view body,
                           std::optional<int64_t> retryAfterSeconds);
};

// Sets GatewayError::retryable and ::fallbackAllowed from the status and code, the way the router
// treats every provider alike: 408/409/429/5xx are retryable (not an exhausted quota); those, auth
// failures (another deployment has another key), 404, context_length_exceeded (a larger-context
// fallback may fit) and content_filter (LiteLLM's content_policy_fallbacks) allow a fallback. Other
// 4xx are the client's fault and go back as they are.
void classifyUpstreamError(GatewayError& err);

// The error a translator returns for an OpenAI parameter the provider cannot honour.
GatewayError unsupportedParam(std::string_view param, std::string_view provider,
                              std::string_view detail = {});

// The error for an upstream 2xx body that is not what the provider documents.
GatewayError malformedUpstream(std::string_view provider, std::string_view detail);

}  // namespace llmux::providers
