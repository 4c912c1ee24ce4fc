#pragma once
// Pieces shared by the Gemini translators (request.cpp, messages.cpp, response.cpp, stream.cpp,
// errors.cpp). Not part of the module's interface: include gemini.hpp from outside.
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::gemini::detail {

namespace dom = simdjson::dom;

enum class Api { AiStudio, Vertex };

// The provider name in client-facing messages ("gemini" / "vertex_ai", LiteLLM's names).
std::string_view providerName(Api api);

// ---- request (request.cpp, tools.cpp, messages.cpp) ----

// 400s for client input of the wrong type or value, naming the parameter.
GatewayError badType(std::string_view param, std::string_view expected);
GatewayError badValue(std::string_view param, std::string_view why);

// `schema` re-serialised without a top-level "$schema" member (Gemini has no use for it).
void appendSchema(std::string& out, dom::object schema);

struct ToolParams {
  std::optional<dom::element> tools, toolChoice, functions, functionCall;
};
struct ToolsBody {
  std::string declarations;  // functionDeclarations entries, comma-separated
  std::string nativeTools;   // native tool objects ({"googleSearch":{}}), comma-separated
  std::string toolConfig;    // the functionCallingConfig object, or empty
};
// tools / functions / tool_choice / function_call → `out`; unsupported ones are pushed to
// `dropped` under drop_params, else answered with a 400.
std::optional<GatewayError> buildTools(Api api, bool dropParams, const ToolParams& in,
                                       ToolsBody& out, std::vector<std::string>& dropped);

std::optional<GatewayError> buildRequest(Api api, dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out);

// The major version in a model id such as "gemini-2.5-flash" or "models/gemini-3-pro-preview"
// (3); 0 when the id does not say (aliases like "gemini-flash-latest", tuned models).
int geminiMajorVersion(std::string_view model);

// Translates `messages` into the body's "contents" array (written to `contents`, brackets
// included) and the system instruction's parts (written to `systemParts` without brackets, empty
// when there is none). `major` is geminiMajorVersion(upstream model).
std::optional<GatewayError> buildContents(dom::array messages, int major, std::string& contents,
                                          std::string& systemParts);

// ---- responses (response.cpp, stream.cpp) ----

// Token counts above 2^53 cannot be real; clamping keeps sums exact and far from overflow.
inline constexpr int64_t kMaxTokens = int64_t{1} << 53;

// usageMetadata → Usage (present=true when it is an object).
Usage readUsage(dom::element usageMetadata);

// The "usage" object of an OpenAI answer.
void appendUsage(std::string& out, const Usage& u);

// A Gemini finishReason as an OpenAI finish_reason (wire_formats.md §7); unknown → "stop".
std::string_view finishReason(std::string_view geminiReason);

// Generated tool-call id: "call_<16 hex of FNV-1a(seed)>_<candidate>_<ordinal>", a pure function
// of the response (seed = its responseId, else the engine's id). A thoughtSignature on the
// functionCall part rides along as "__thought__<signature in unpadded base64url>" so the next
// request can return it (Gemini 3 rejects function calls sent back without their signature); the
// URL-safe alphabet keeps ids within [A-Za-z0-9_-], the tool-id pattern of Anthropic and Bedrock.
// (LiteLLM puts the signature in ids the same way, in standard base64; both forms are read back.)
void appendToolCallId(std::string& out, std::string_view seed, int64_t candidate, int64_t ordinal,
                      std::string_view thoughtSignature);
inline constexpr std::string_view kThoughtSeparator = "__thought__";

// Candidate.logprobsResult → OpenAI choice "logprobs" object. Returns false (appending nothing)
// when there is nothing to convert.
bool appendLogprobs(std::string& out, dom::element logprobsResult);

// For a response whose prompt was blocked (promptFeedback.blockReason, no candidates): the text
// the client gets as message.refusal. Empty when `response` reports no block.
std::string blockedPromptMessage(dom::object response);

// A JSON string for functionCall.args (an object; "{}" when absent or null).
std::string argumentsJson(dom::object functionCall);

// ---- errors (errors.cpp) ----

// A Google RPC error object {"code","message","status","details"} as the client's error. `status`
// is the HTTP status (0 inside a 200 stream: error.code is used then).
GatewayError errorFromObject(int status, dom::object error, std::optional<int64_t> retryAfter);

GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfter);

// ---- stream (stream.cpp) ----

std::unique_ptr<StreamDecoder> makeStreamDecoder(const ResponseOptions& opts);

// ---- response (response.cpp) ----

std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              dom::parser& parser, std::string& out, Usage& usage);

}  // namespace llmux::providers::gemini::detail
