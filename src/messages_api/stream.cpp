// OpenAI chat.completion.chunk stream → Anthropic Messages events (wire_formats.md §1.6 → §2.4,
// §2.6 "Stream translation OpenAI → Anthropic events").
//
// The first payload opens the message (message_start with input_tokens 0 unless that chunk
// already carries usage, then ping). Blocks open as the kind of delta changes, each at the next
// index, and the previous block closes first:
//   delta.reasoning_content / delta.reasoning → thinking block (only when the client enabled
//                                                thinking; dropped otherwise, as in response.cpp)
//   delta.content / delta.refusal             → text block
//   delta.tool_calls[] with a new index (or a new id on a known index, which some hosts reuse)
//                                             → tool_use block {id, name, input:{}}; argument
//                                                fragments → input_json_delta, verbatim
// finish_reason closes the open block. message_delta waits for the usage: it goes out at the
// usage-only chunk ("choices":[] with usage, which OpenAI sends after the finish chunk) or at
// [DONE], whichever comes first; message_stop follows [DONE]. Later chunks are ignored.
//
// An argument fragment for a tool call whose block was already closed (a host interleaving
// parallel calls) is still sent as input_json_delta at that block's index: SDK accumulators key
// on the index, so the final message holds the full input, and the alternative (dropping it)
// would always corrupt it.
//
// An error payload ({"error":...}) or an unreadable chunk becomes one `event: error` and ends the
// stream; nothing follows it (Anthropic ends errored streams without message_stop).
#include <simdjson.h>

#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "messages_api/internal.hpp"
#include "messages_api/messages_api.hpp"

namespace llmux::messages_api {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

void appendEvent(std::string& out, std::string_view name, std::string_view json) {
  out += "event: ";
  out += name;
  out += "\ndata: ";
  out += json;
  out += "\n\n";
}

std::string_view trimSpace(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

StreamEncoder::StreamEncoder(const RequestInfo& info)
    : model_(info.model), idFallback_(info.idFallback), thinking_(info.thinking) {}

bool StreamEncoder::onChunk(std::string_view dataPayload, std::string& out) {
  if (state_ != State::Open) return false;
  const std::string_view payload = trimSpace(dataPayload);
  if (payload == "[DONE]") {
    onDone(out);
    return false;
  }
  dom::element chunk;
  if (parser_.parse(payload).get(chunk) != SUCCESS || !chunk.is_object()) {
    emitError("api_error", "Upstream sent a malformed stream chunk.", out);
    return false;
  }
  dom::element err;
  if (chunk["error"].get(err) == SUCCESS && !err.is_null()) {
    std::string_view message;
    if (err.get_string().get(message) == SUCCESS) {
      emitError("api_error", message, out);
      return false;
    }
    GatewayError e;
    e.status = 0;  // mid-stream: no HTTP status, classify by type and code
    e.type = detail::stringOr(err, "type", "api_error");
    const std::string_view code = detail::stringOr(err, "code");
    if (!code.empty()) e.code = std::string(code);
    emitError(anthropicErrorType(e), detail::stringOr(err, "message", "Upstream stream error."),
              out);
    return false;
  }
  onData(chunk, out);
  return state_ == State::Open;
}

bool StreamEncoder::finish(std::string& out) {
  return state_ == State::Completed;
}

void StreamEncoder::fail(const GatewayError& err, std::string& out) {
  if (state_ != State::Open) return;
  emitError(anthropicErrorType(err), err.message, out);
}

void StreamEncoder::readUsage(dom::element usage) {
  // Values are cumulative: assign what is present.
  usageSeen_ = true;
  promptTokens_ = detail::readCount(usage, "prompt_tokens", promptTokens_);
  completionTokens_ = detail::readCount(usage, "completion_tokens", completionTokens_);
  dom::element details;
  if (usage["prompt_tokens_details"].get(details) == SUCCESS && details.is_object()) {
    cachedTokens_ = detail::readCount(details, "cached_tokens", cachedTokens_);
    cacheWriteTokens_ = detail::readCount(details, "cache_write_tokens", cacheWriteTokens_);
  }
}

int64_t StreamEncoder::inputTokens() const {
  const int64_t input = promptTokens_ - cachedTokens_ - cacheWriteTokens_;
  return input < 0 ? 0 : input;
}

void StreamEncoder::ensureStarted(std::string_view upstreamId, std::string& out) {
  if (started_) return;
  started_ = true;
  messageId_ = detail::messageIdFrom(upstreamId, idFallback_);
  scratch_ = R"({"type":"message_start","message":{"id":)";
  appendJsonString(scratch_, messageId_);
  scratch_ += R"(,"type":"message","role":"assistant","model":)";
  appendJsonString(scratch_, model_);
  fmt::format_to(std::back_inserter(scratch_),
                 R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{{)"
                 R"("input_tokens":{},"cache_creation_input_tokens":{},)"
                 R"("cache_read_input_tokens":{},"output_tokens":0}}}}}})",
                 inputTokens(), cacheWriteTokens_, cachedTokens_);
  appendEvent(out, "message_start", scratch_);
  appendEvent(out, "ping", R"({"type":"ping"})");
}

void StreamEncoder::onData(dom::element chunk, std::string& out) {
  dom::element usage;
  const bool hasUsage = chunk["usage"].get(usage) == SUCCESS && usage.is_object();
  if (hasUsage) readUsage(usage);
  ensureStarted(detail::stringOr(chunk, "id"), out);
  if (messageDeltaSent_) return;  // the message is final; nothing can be added to it

  dom::array choices;
  bool anyChoice = false;
  if (chunk["choices"].get_array().get(choices) == SUCCESS) {
    for (dom::element choice : choices) {
      if (!choice.is_object()) continue;
      int64_t idx = 0;
      if (choice["index"].get_int64().get(idx) != SUCCESS) idx = 0;
      if (idx != 0) continue;  // Messages clients get one answer: choice 0
      anyChoice = true;
      dom::element delta;
      if (choice["delta"].get(delta) == SUCCESS && delta.is_object()) {
        std::string_view reasoning = detail::stringOr(delta, "reasoning_content");
        if (reasoning.empty()) reasoning = detail::stringOr(delta, "reasoning");
        if (thinking_ && !reasoning.empty()) {
          if (open_ != Block::Thinking) openBlock(Block::Thinking, out);
          appendDelta(openIndex_, "thinking_delta", "thinking", reasoning, out);
        }
        std::string_view text = detail::stringOr(delta, "content");
        const std::string_view refusal = detail::stringOr(delta, "refusal");
        if (text.empty() && !refusal.empty()) {
          text = refusal;
          sawRefusal_ = true;
        }
        if (!text.empty()) {
          if (open_ != Block::Text) openBlock(Block::Text, out);
          appendDelta(openIndex_, "text_delta", "text", text, out);
        }
        dom::array calls;
        if (delta["tool_calls"].get_array().get(calls) == SUCCESS) {
          int64_t position = 0;
          for (dom::element call : calls) onToolCall(call, position++, out);
        }
      }
      std::string_view finish;
      if (choice["finish_reason"].get_string().get(finish) == SUCCESS && !finish.empty()) {
        finishReason_ = finish;
        closeBlock(out);
      }
    }
  }
  // The usage-only chunk after the finish: everything message_delta needs is known.
  if (!finishReason_.empty() && hasUsage && !anyChoice) emitMessageDelta(out);
}

void StreamEncoder::onToolCall(dom::element call, int64_t position, std::string& out) {
  if (!call.is_object()) return;
  int64_t idx = 0;
  if (call["index"].get_int64().get(idx) != SUCCESS) idx = position;
  const std::string_view id = detail::stringOr(call, "id");
  std::string_view name, args;
  dom::element fn;
  if (call["function"].get(fn) == SUCCESS && fn.is_object()) {
    name = detail::stringOr(fn, "name");
    args = detail::stringOr(fn, "arguments");
  }
  auto it = tools_.find(idx);
  const bool isNew = it == tools_.end() ||
                     (!id.empty() && !it->second.upstreamId.empty() && id != it->second.upstreamId);
  if (isNew) {
    closeBlock(out);
    ToolBlock& tb = tools_[idx];
    tb.upstreamId = id;
    tb.id = detail::toolIdFrom(id, messageId_, toolCount_++);
    tb.blockIndex = nextIndex_++;
    open_ = Block::Tool;
    openIndex_ = tb.blockIndex;
    scratch_ = R"({"type":"content_block_start","index":)";
    fmt::format_to(std::back_inserter(scratch_), "{}", tb.blockIndex);
    scratch_ += R"(,"content_block":{"type":"tool_use","id":)";
    appendJsonString(scratch_, tb.id);
    scratch_ += R"(,"name":)";
    appendJsonString(scratch_, name);
    scratch_ += R"(,"input":{}}})";
    appendEvent(out, "content_block_start", scratch_);
    it = tools_.find(idx);
  }
  if (!args.empty())
    appendDelta(it->second.blockIndex, "input_json_delta", "partial_json", args, out);
}

void StreamEncoder::onDone(std::string& out) {
  ensureStarted({}, out);
  if (!messageDeltaSent_) emitMessageDelta(out);
  appendEvent(out, "message_stop", R"({"type":"message_stop"})");
  state_ = State::Completed;
}

void StreamEncoder::openBlock(Block type, std::string& out) {
  closeBlock(out);
  open_ = type;
  openIndex_ = nextIndex_++;
  scratch_ = R"({"type":"content_block_start","index":)";
  fmt::format_to(std::back_inserter(scratch_), "{}", openIndex_);
  scratch_ += type == Block::Thinking
                  ? R"(,"content_block":{"type":"thinking","thinking":"","signature":""}})"
                  : R"(,"content_block":{"type":"text","text":""}})";
  appendEvent(out, "content_block_start", scratch_);
}

void StreamEncoder::closeBlock(std::string& out) {
  if (open_ == Block::None) return;
  scratch_ = R"({"type":"content_block_stop","index":)";
  fmt::format_to(std::back_inserter(scratch_), "{}}}", openIndex_);
  appendEvent(out, "content_block_stop", scratch_);
  open_ = Block::None;
}

void StreamEncoder::appendDelta(int64_t index, std::string_view type, std::string_view key,
                                std::string_view text, std::string& out) {
  scratch_ = R"({"type":"content_block_delta","index":)";
  fmt::format_to(std::back_inserter(scratch_), R"({},"delta":{{"type":"{}","{}":)", index, type,
                 key);
  appendJsonString(scratch_, text);
  scratch_ += "}}";
  appendEvent(out, "content_block_delta", scratch_);
}

void StreamEncoder::emitMessageDelta(std::string& out) {
  closeBlock(out);  // content that came after the finish chunk opened one
  messageDeltaSent_ = true;
  std::string_view stop = stopReasonFor(finishReason_, toolCount_ > 0);
  if (sawRefusal_ && stop == "end_turn") stop = "refusal";
  scratch_ = R"({"type":"message_delta","delta":{"stop_reason":")";
  scratch_ += stop;
  scratch_ += R"(","stop_sequence":null},"usage":)";
  if (usageSeen_) {
    fmt::format_to(std::back_inserter(scratch_),
                   R"({{"input_tokens":{},"cache_creation_input_tokens":{},)"
                   R"("cache_read_input_tokens":{},"output_tokens":{}}}}})",
                   inputTokens(), cacheWriteTokens_, cachedTokens_, completionTokens_);
  } else {
    scratch_ += R"({"output_tokens":0}})";
  }
  appendEvent(out, "message_delta", scratch_);
}

void StreamEncoder::emitError(std::string_view type, std::string_view message, std::string& out) {
  scratch_ = R"({"type":"error","error":{"type":)";
  appendJsonString(scratch_, type);
  scratch_ += R"(,"message":)";
  appendJsonString(scratch_, message);
  scratch_ += "}}";
  appendEvent(out, "error", scratch_);
  state_ = State::Failed;
}

}  // namespace llmux::messages_api
