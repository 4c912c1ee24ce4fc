#pragma once
// Anthropic Messages API in front of any model (POST /v1/messages, /v1/messages/count_tokens).
//
// Anthropic-SDK clients (Claude Code among them) speak Messages; every deployment of the gateway is
// reached through the canonical OpenAI Chat Completions path. This module is the pure translation
// layer between the two (wire_formats.md §2, §1, §2.6 "reverse direction"):
//
//   client Anthropic request ──toOpenAIRequest──▶ OpenAI chat request ──engine──▶ any provider
//   client ◀──fromOpenAIResponse / StreamEncoder / toAnthropicError── OpenAI answer
//
// No I/O, clock, logging, globals or exceptions: the engine parses the client's body, calls these
// functions, and sends what they build.
#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/error.hpp"

namespace llmux::messages_api {

// What the answer side needs to know about the request (filled by toOpenAIRequest).
struct RequestInfo {
  std::string model;  // "model" exactly as the client sent it: echoed in every answer
  bool stream = false;
  // The client enabled extended thinking ({"type":"enabled"} or {"type":"adaptive"}): upstream
  // reasoning text is then returned as thinking blocks; without it, it is dropped (a client that
  // did not ask for thinking does not expect a thinking block before the text).
  bool thinking = false;
  int64_t thinkingBudget = 0;  // thinking.budget_tokens when enabled, else 0
  // Thinking was requested but the "thinking" member was left out because the request continues a
  // tool loop whose thinking blocks cannot be carried over (request.cpp); reasoning_effort is sent.
  bool thinkingSuppressed = false;
  int64_t maxTokens = 0;
  int64_t droppedThinkingBlocks = 0;  // thinking/redacted_thinking blocks removed from history
  // Suffix for the message id when the upstream answer has no usable id ("msg_" + this). The
  // engine may set it (e.g. to its request id) before translating the answer; default "llmux".
  std::string idFallback = "llmux";
};

// Anthropic Messages request → OpenAI chat request body (`out` is cleared first). On bad input
// returns a 400 invalid_request_error whose message starts with the offending path
// ("messages.2.content.0.source: ...") and whose param names it; render it with toAnthropicError.
//
// Mapping (see request.cpp for the details and the reasons):
//   model, max_tokens (required, ≥1), stream (+ stream_options.include_usage:true, always),
//   system (string or text blocks) → first system message, messages → OpenAI messages:
//     text → text part, image base64/url → image_url (cache_control kept), document PDF base64 →
//     file part (data: URL), text/plain or content documents → text parts, search_result → text,
//     tool_use → assistant tool_calls (input minified into arguments), tool_result → role "tool"
//     messages placed first (text joined; "Error: " prefix when is_error; images and documents
//     follow in a user message), thinking / redacted_thinking → dropped.
//   tools (custom) → function tools; Anthropic server / versioned tools → 400 naming the type.
//   tool_choice auto/any/tool/none → auto/required/{function}/none; disable_parallel_tool_use →
//   parallel_tool_calls:false; stop_sequences → stop; temperature, top_p; top_k → "top_k";
//   metadata.user_id → user; thinking → reasoning_effort + "thinking" passed through;
//   output_config.format → response_format json_schema; output_config.effort → reasoning_effort.
std::optional<GatewayError> toOpenAIRequest(simdjson::dom::element anthropicReq, std::string& out,
                                            RequestInfo& info);

// The reasoning_effort used for a thinking budget: < 2048 → "low", < 4096 → "medium", else "high".
// The thresholds invert the usual effort → budget defaults (low 1024, medium 2048, high 4096;
// wire_formats.md §2.6), so a budget the gateway derived from an effort maps back to that effort.
std::string_view effortForBudget(int64_t budgetTokens);

// OpenAI chat.completion body → Anthropic Message JSON (`out` cleared first). A body that is not a
// chat.completion gives a 502 upstream_protocol_error (an "error" member gives that error).
std::optional<GatewayError> fromOpenAIResponse(std::string_view openaiBody, const RequestInfo& info,
                                               simdjson::dom::parser& parser, std::string& out);

// OpenAI finish_reason → Anthropic stop_reason. `hadToolUse` turns "stop" (some hosts say that
// after tool calls) into "tool_use". Unknown or absent reasons give "end_turn".
std::string_view stopReasonFor(std::string_view finishReason, bool hadToolUse);

// Turns the engine's OpenAI chat.completion.chunk stream into Anthropic's event sequence:
//   message_start, ping, (content_block_start, content_block_delta+, content_block_stop)*,
//   message_delta, message_stop
// Feed it every `data:` payload in order (the SSE framing is the caller's: providers::SseParser).
class StreamEncoder {
 public:
  explicit StreamEncoder(const RequestInfo& info);

  // Appends zero or more complete "event: X\ndata: {...}\n\n" events for one payload: a chunk,
  // "[DONE]", or an error object ({"error":{...}}). Returns false once the stream is over (after
  // message_stop or an error event); later calls append nothing and keep returning false.
  bool onChunk(std::string_view dataPayload, std::string& out);

  // The upstream body ended. True when the stream already completed ([DONE] was seen), false
  // otherwise; appends nothing either way (the engine reports a truncation, e.g. with fail()).
  bool finish(std::string& out);

  // Ends the stream with an Anthropic error event for `err` (unless it is already over): for
  // failures the engine detects itself (truncation, oversized event, timeout).
  void fail(const GatewayError& err, std::string& out);

  [[nodiscard]] bool completed() const { return state_ == State::Completed; }
  [[nodiscard]] bool failed() const { return state_ == State::Failed; }
  // Usage in OpenAI terms as last reported by the upstream (0 when none came).
  [[nodiscard]] int64_t promptTokens() const { return promptTokens_; }
  [[nodiscard]] int64_t completionTokens() const { return completionTokens_; }

 private:
  enum class State { Open, Completed, Failed };
  enum class Block { None, Text, Thinking, Tool };

  void onData(simdjson::dom::element chunk, std::string& out);
  void onToolCall(simdjson::dom::element call, int64_t position, std::string& out);
  void onDone(std::string& out);
  void ensureStarted(std::string_view upstreamId, std::string& out);
  void openBlock(Block type, std::string& out);
  void closeBlock(std::string& out);
  void appendDelta(int64_t index, std::string_view type, std::string_view key,
                   std::string_view text, std::string& out);
  void emitMessageDelta(std::string& out);
  void emitError(std::string_view type, std::string_view message, std::string& out);
  void readUsage(simdjson::dom::element usage);
  [[nodiscard]] int64_t inputTokens() const;  // Anthropic's: prompt minus cache reads and writes

  struct ToolBlock {
    int64_t blockIndex = 0;
    std::string upstreamId;  // the id the upstream gave ("" when none)
    std::string id;          // the tool_use id sent to the client
  };

  std::string model_;
  std::string idFallback_;
  bool thinking_ = false;
  State state_ = State::Open;
  bool started_ = false;
  Block open_ = Block::None;
  int64_t openIndex_ = -1;                        // index of the open block
  int64_t nextIndex_ = 0;                         // index the next block gets
  std::unordered_map<int64_t, ToolBlock> tools_;  // OpenAI tool call index → its block
  int64_t toolCount_ = 0;
  std::string messageId_;
  std::string finishReason_;  // empty until a finish_reason arrived
  bool sawRefusal_ = false;
  bool messageDeltaSent_ = false;
  bool usageSeen_ = false;
  int64_t promptTokens_ = 0;
  int64_t completionTokens_ = 0;
  int64_t cachedTokens_ = 0;
  int64_t cacheWriteTokens_ = 0;
  simdjson::dom::parser parser_;
  std::string scratch_;
};

// A GatewayError as Anthropic's error body: {"type":"error","error":{"type":...,"message":...}}
// (+ "request_id" when given). The type is chosen from the code, then the type, then the status:
// invalid_request_error, authentication_error, billing_error, permission_error, not_found_error,
// request_too_large, rate_limit_error, timeout_error, api_error, overloaded_error.
std::string toAnthropicError(const GatewayError& err, std::string_view requestId = {});
// The Anthropic error type for `err` (the one toAnthropicError writes).
std::string_view anthropicErrorType(const GatewayError& err);
// The HTTP status to answer with: the gateway's status when it is an error status, else 500.
int anthropicStatus(const GatewayError& err);

// A rough input-token count for /v1/messages/count_tokens when the backend cannot count (see
// count_tokens.cpp for the heuristic). Never negative; malformed parts are skipped.
int64_t estimateInputTokens(simdjson::dom::element anthropicReq);
// {"input_tokens":N}
std::string countTokensBody(int64_t inputTokens);

}  // namespace llmux::messages_api
