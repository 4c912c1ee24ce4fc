// Cohere v2 chat SSE streams as OpenAI chat.completion.chunk events (wire_formats.md §6.3, §1.6).
// Each Cohere event carries its kind in the JSON "type" (mirrored by the SSE event name):
//   message-start                      → the role chunk
//   content-start / content-delta      → content (text) or reasoning_content (thinking) deltas
//   tool-plan-delta                    → content deltas (the text before the tool calls)
//   tool-call-start / tool-call-delta  → tool_calls: id and name first, then argument fragments
//   message-end                        → finish_reason chunk, usage chunk, [DONE] (or an error)
//   content-end, tool-call-end, citation-*, debug and newer kinds carry nothing for OpenAI.
#include <simdjson.h>

#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "common/error.hpp"
#include "providers/cohere/cohere.hpp"
#include "providers/cohere/request_internal.hpp"
#include "providers/common/sse_parser.hpp"

namespace llmux::providers::cohere {
namespace {

namespace dom = simdjson::dom;

constexpr size_t kMaxEventBytes = size_t{8} << 20;

std::string_view stringOr(simdjson::simdjson_result<dom::element> v, std::string_view fallback) {
  std::string_view s;
  return v.get_string().get(s) == simdjson::SUCCESS ? s : fallback;
}

class Decoder final : public providers::StreamDecoder {
 public:
  explicit Decoder(const ResponseOptions& opts)
      : includeUsage_(opts.includeUsage), sse_(kMaxEventBytes) {
    prefix_ = R"(data: {"id":)";
    appendJsonString(prefix_, opts.id);
    fmt::format_to(std::back_inserter(prefix_),
                   R"(,"object":"chat.completion.chunk","created":{},"model":)", opts.created);
    appendJsonString(prefix_, opts.clientModel);
    prefix_ += R"(,"choices":)";
  }

  StreamStatus feed(std::string_view bytes, std::string& out) override {
    if (status_ != StreamStatus::Continue) return status_;
    const bool ok = sse_.feed(bytes, [&](const SseEvent& ev) {
      if (status_ == StreamStatus::Continue) onEvent(ev.event, ev.data, out);
    });
    if (!ok && status_ == StreamStatus::Continue) {
      fail("api_error", "Cohere sent a stream event larger than 8 MiB", out);
    }
    return status_;
  }

  StreamStatus finish(std::string& /*out*/) override {
    // Without message-end the answer is cut short; the engine reports the truncation itself.
    if (status_ == StreamStatus::Continue) status_ = StreamStatus::Failed;
    return status_;
  }

  [[nodiscard]] Usage usage() const override { return usage_; }

 private:
  void onEvent(std::string_view event, std::string_view data, std::string& out);
  void onMessageEnd(dom::element doc, std::string& out);
  void onToolCallStart(dom::element doc, std::string& out);
  void onToolCallDelta(dom::element doc, std::string& out);
  void appendTextDelta(std::string_view field, std::string_view text, std::string& out);
  void appendArguments(int64_t k, std::string_view fragment, std::string& out);
  void fail(std::string_view type, std::string_view message, std::string& out);
  void appendChunk(std::string& out, std::string_view delta, std::string_view finishReason);
  void ensureRoleChunk(std::string& out);

  std::string prefix_;  // `data: {"id":..,"object":..,"created":..,"model":..,"choices":`
  bool includeUsage_;
  SseParser sse_;
  StreamStatus status_ = StreamStatus::Continue;
  bool roleSent_ = false;
  std::unordered_map<int64_t, int64_t> toolIndex_;  // Cohere event index → OpenAI tool_calls index
  int64_t nextTool_ = 0;
  Usage usage_;
  dom::parser parser_;
  std::string scratch_;  // delta JSON under construction
};

void Decoder::onEvent(std::string_view event, std::string_view data, std::string& out) {
  // Cohere's SDKs accept a trailing [DONE]; the end that counts is message-end (its finish
  // reason and usage), so [DONE] alone ends nothing.
  if (data == "[DONE]") return;
  dom::element doc;
  const bool parsed = parser_.parse(data).get(doc) == simdjson::SUCCESS && doc.is_object();
  std::string_view type = parsed ? stringOr(doc["type"], event) : event;
  if (!parsed) {
    // Dropping an unreadable delta would corrupt the answer silently. Only an event named as
    // something we do not translate may be skipped.
    const bool skippable = !event.empty() && event != "message-start" && event != "message-end" &&
                           !event.starts_with("content-") && !event.starts_with("tool-") &&
                           event != "error";
    if (!skippable) fail("api_error", "Cohere sent a malformed stream event", out);
    return;
  }
  if (type == "content-start" || type == "content-delta") {
    dom::element content;
    if (doc["delta"]["message"]["content"].get(content) != simdjson::SUCCESS) return;
    // content-start may already carry text; thinking blocks stream their text under "thinking".
    std::string_view s;
    if (content["thinking"].get_string().get(s) == simdjson::SUCCESS) {
      appendTextDelta("reasoning_content", s, out);
    }
    if (content["text"].get_string().get(s) == simdjson::SUCCESS) {
      appendTextDelta("content", s, out);
    }
  } else if (type == "tool-plan-delta") {
    appendTextDelta("content", stringOr(doc["delta"]["message"]["tool_plan"], ""), out);
  } else if (type == "tool-call-start") {
    onToolCallStart(doc, out);
  } else if (type == "tool-call-delta") {
    onToolCallDelta(doc, out);
  } else if (type == "message-start") {
    ensureRoleChunk(out);
  } else if (type == "message-end") {
    onMessageEnd(doc, out);
  } else if (type == "error" || (type.empty() && doc["message"].is_string())) {
    // Not documented for /v2/chat streams; an error body mid-stream ends it as an error.
    fail("api_error", stringOr(doc["message"], "Cohere reported an error in the stream"), out);
  }
  // content-end, tool-call-end, citation-start/end, debug and newer kinds: nothing to send.
}

// The tool call of a tool-call event: delta.message.tool_calls is one object (an array is taken
// as its first element, for leniency). A missing one is an error result, which every lookup on it
// propagates (a default-constructed element must never be indexed).
simdjson::simdjson_result<dom::element> toolCallOf(dom::element doc) {
  auto call = doc["delta"]["message"]["tool_calls"];
  dom::array a;
  if (call.get_array().get(a) == simdjson::SUCCESS) return a.at(0);
  return call;
}

void Decoder::onToolCallStart(dom::element doc, std::string& out) {
  const auto call = toolCallOf(doc);
  std::string_view name;
  if (call["function"]["name"].get_string().get(name) != simdjson::SUCCESS) {
    // A call without a name cannot be answered; dropping it would leave the turn incoherent.
    fail("api_error", "Cohere sent a tool call without a function name", out);
    return;
  }
  int64_t index = -1;
  (void)doc["index"].get_int64().get(index);
  const int64_t k = nextTool_++;
  toolIndex_[index] = k;
  std::string_view id = stringOr(call["id"], "");
  scratch_ = R"({"tool_calls":[{"index":)";
  fmt::format_to(std::back_inserter(scratch_), "{}", k);
  scratch_ += R"(,"id":)";
  if (id.empty()) {
    appendJsonString(scratch_, fmt::format("call_{}", k));  // as in non-streamed answers
  } else {
    appendJsonString(scratch_, id);
  }
  scratch_ += R"(,"type":"function","function":{"name":)";
  appendJsonString(scratch_, name);
  scratch_ += R"(,"arguments":""}}]})";
  ensureRoleChunk(out);
  appendChunk(out, scratch_, "null");
  // The start usually carries "arguments":""; anything more is the first fragment.
  appendArguments(k, stringOr(call["function"]["arguments"], ""), out);
}

void Decoder::onToolCallDelta(dom::element doc, std::string& out) {
  int64_t index = -1;
  (void)doc["index"].get_int64().get(index);
  const auto it = toolIndex_.find(index);
  if (it == toolIndex_.end()) return;  // an orphan fragment has no call to extend
  appendArguments(it->second, stringOr(toolCallOf(doc)["function"]["arguments"], ""), out);
}

void Decoder::onMessageEnd(dom::element doc, std::string& out) {
  dom::element delta;
  if (doc["delta"].get(delta) != simdjson::SUCCESS) delta = doc;
  dom::element usage;
  if (delta["usage"].get(usage) == simdjson::SUCCESS) {
    const Usage u = readUsage(usage);
    if (u.present) usage_ = u;
  }
  std::string_view reason;
  const Finish finish = delta["finish_reason"].get_string().get(reason) == simdjson::SUCCESS
                            ? classifyFinishReason(reason)
                            : Finish::Stop;
  const std::string_view error = stringOr(delta["error"], "");
  if (finish == Finish::Error || !error.empty()) {
    fail("api_error",
         error.empty() ? "Cohere reported an error while generating the response" : error, out);
    return;
  }
  if (finish == Finish::Timeout) {
    fail("timeout_error", "Cohere timed out while generating the response", out);
    return;
  }
  std::string_view finishReason = openAIFinishReason(finish);
  // Clients look for calls when told "tool_calls" and stop looking otherwise; "length" stays (the
  // last call's arguments may be cut short).
  if (nextTool_ > 0 && finishReason == "stop") {
    finishReason = "tool_calls";
  } else if (nextTool_ == 0 && finishReason == "tool_calls") {
    finishReason = "stop";
  }
  ensureRoleChunk(out);
  appendChunk(out, "{}", fmt::format("\"{}\"", finishReason));
  if (includeUsage_) {
    out += prefix_;
    out += R"([],"usage":)";
    appendUsageJson(out, usage_);
    out += "}\n\n";
  }
  out += "data: [DONE]\n\n";
  status_ = StreamStatus::Done;
}

void Decoder::appendTextDelta(std::string_view field, std::string_view text, std::string& out) {
  if (text.empty()) return;
  scratch_ = "{\"";
  scratch_ += field;
  scratch_ += "\":";
  appendJsonString(scratch_, text);
  scratch_ += '}';
  ensureRoleChunk(out);
  appendChunk(out, scratch_, "null");
}

void Decoder::appendArguments(int64_t k, std::string_view fragment, std::string& out) {
  if (fragment.empty()) return;
  scratch_ = R"({"tool_calls":[{"index":)";
  fmt::format_to(std::back_inserter(scratch_), "{}", k);
  scratch_ += R"(,"function":{"arguments":)";
  appendJsonString(scratch_, fragment);
  scratch_ += "}}]}";
  ensureRoleChunk(out);
  appendChunk(out, scratch_, "null");
}

void Decoder::fail(std::string_view type, std::string_view message, std::string& out) {
  GatewayError err;
  err.type = std::string(type);
  err.message = std::string(message);
  out += "data: ";
  out += err.toJson();
  out += "\n\n";
  status_ = StreamStatus::Failed;
}

void Decoder::appendChunk(std::string& out, std::string_view delta, std::string_view finishReason) {
  out += prefix_;
  out += R"([{"index":0,"delta":)";
  out += delta;
  out += R"(,"logprobs":null,"finish_reason":)";
  out += finishReason;
  out += includeUsage_ ? R"(}],"usage":null})" : "}]}";
  out += "\n\n";
}

void Decoder::ensureRoleChunk(std::string& out) {
  if (roleSent_) return;
  roleSent_ = true;
  appendChunk(out, R"({"role":"assistant","content":""})", "null");
}

}  // namespace

std::unique_ptr<providers::StreamDecoder> makeStreamDecoder(const ResponseOptions& opts) {
  return std::make_unique<Decoder>(opts);
}

}  // namespace llmux::providers::cohere
