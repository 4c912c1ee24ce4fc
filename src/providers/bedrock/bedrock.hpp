#pragma once
// AWS Bedrock Runtime Converse / ConverseStream adapter (wire_formats.md §4, §7). A pure
// translator: no I/O, clock, logging or globals. The engine adds the origin
// (https://bedrock-runtime.<region>.amazonaws.com), signs the call (SigV4, service "bedrock") or
// sends a Bedrock API key, and fetches remote images (Converse takes image bytes only).
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::bedrock {

// The Bedrock adapter: name "bedrock".
const providers::Adapter& adapter();

// OpenAI chat request → Converse call: path "/model/<modelId as one encoded segment>/converse"
// (or "/converse-stream" when opts.stream), no extra headers, the Converse JSON body.
std::optional<GatewayError> buildRequest(simdjson::dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out);

// A Converse response body → an OpenAI chat.completion body (id = opts.id: Bedrock gives none).
std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              simdjson::dom::parser& parser, std::string& out,
                                              Usage& usage);

// ConverseStream (application/vnd.amazon.eventstream) → OpenAI chunk SSE events.
std::unique_ptr<StreamDecoder> makeStreamDecoder(const ResponseOptions& opts);

// A non-2xx Converse answer → the client's error. The exception name comes from the body's
// "__type" (the x-amzn-ErrorType header is not passed in); without one the status decides.
GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds);

// A Bedrock exception by name ("ThrottlingException", or the stream's lowerCamel
// "throttlingException"; a "prefix#" or ":suffix" is stripped) as a GatewayError with the status,
// type and code the gateway reports. `status` is the HTTP status when there was one (0 in a stream:
// the exception's documented status is used). Not yet classified (classifyUpstreamError).
GatewayError errorFromException(std::string_view name, std::string_view message, int status);

// A Converse stopReason as an OpenAI finish_reason (wire_formats.md §7); unknown → "stop".
std::string_view toOpenAIFinishReason(std::string_view stopReason);

}  // namespace llmux::providers::bedrock
