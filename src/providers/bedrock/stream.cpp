// ConverseStream (application/vnd.amazon.eventstream) → OpenAI chat.completion.chunk SSE events
// (wire_formats.md §4.5, §4.7, §1.6).
//
//   messageStart                   → the role chunk {"role":"assistant","content":""}
//   contentBlockStart start.toolUse → tool-call start chunk (id, name, arguments "")
//   contentBlockDelta delta.text   → {"content":...}
//   contentBlockDelta delta.toolUse.input
//                                  → {"tool_calls":[{"index":i,"function":{"arguments":...}}]}
//   contentBlockDelta delta.reasoningContent.text
//                                  → {"reasoning_content":...}
//   messageStop stopReason         → the finish_reason chunk
//   metadata usage                 → kept for the usage chunk (metadata follows messageStop)
//   exception / error frames       → one final `data: {"error":...}` event, Failed
//   CRC or framing errors          → the same, with code upstream_protocol_error
// The stream is Done when messageStop arrived and the body ended on a frame boundary; the usage
// chunk (include_usage) and [DONE] are written by finish(), after any trailing metadata.
#include <simdjson.h>

#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "common/text.hpp"
#include "providers/bedrock/bedrock.hpp"
#include "providers/common/aws_eventstream.hpp"

namespace llmux::providers::bedrock {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

constexpr size_t kMaxFrameBytes = 8u << 20;
constexpr int64_t kMaxTokens = int64_t{1} << 53;

// Reads a token count if present and numeric, clamped to [0, 2^53]; leaves `dst` otherwise.
void readCount(dom::element obj, std::string_view key, int64_t& dst) {
  dom::element v;
  if (obj[key].get(v) != SUCCESS) return;
  int64_t i = 0;
  double d = 0;
  if (v.get_int64().get(i) == SUCCESS) {
    dst = i < 0 ? 0 : (i > kMaxTokens ? kMaxTokens : i);
  } else if (v.is_uint64()) {
    dst = kMaxTokens;
  } else if (v.get_double().get(d) == SUCCESS) {
    dst = !(d > 0) ? 0 : (d >= static_cast<double>(kMaxTokens) ? kMaxTokens : int64_t(d));
  }
}

std::string_view framingProblem(aws::Status s) {
  switch (s) {
    case aws::Status::BadPreludeCrc:
      return "an event-stream frame failed its prelude CRC check";
    case aws::Status::BadMessageCrc:
      return "an event-stream frame failed its message CRC check";
    case aws::Status::BadLength:
      return "an event-stream frame has an impossible length";
    case aws::Status::BadHeader:
      return "an event-stream frame has malformed headers";
    case aws::Status::TooLarge:
      return "an event-stream frame exceeds 8 MiB";
    case aws::Status::Truncated:
      return "the event stream ended inside a frame";
    case aws::Status::Ok:
      break;
  }
  return "the event stream is malformed";
}

// Header values are raw bytes (payload JSON is validated by simdjson, headers are not): invalid
// UTF-8 becomes U+FFFD so the error event stays valid JSON.
std::string validUtf8(std::string_view s) {
  if (simdjson::validate_utf8(s.data(), s.size())) return std::string(s);
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    // The sequence length its lead byte announces; 0 for a byte that cannot lead one.
    size_t len = 0;
    if (c < 0x80) {
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
    }
    if (len != 0 && i + len <= s.size() && simdjson::validate_utf8(s.data() + i, len)) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

class ConverseStreamDecoder final : public StreamDecoder {
 public:
  explicit ConverseStreamDecoder(const ResponseOptions& opts)
      : includeUsage_(opts.includeUsage), frames_(kMaxFrameBytes) {
    prefix_ = R"(data: {"id":)";
    appendJsonString(prefix_, opts.id);
    prefix_ += R"(,"object":"chat.completion.chunk","created":)";
    appendDecimal(prefix_, opts.created);
    prefix_ += R"(,"model":)";
    appendJsonString(prefix_, opts.clientModel);
    prefix_ += R"(,"choices":)";
  }

  StreamStatus feed(std::string_view bytes, std::string& out) override {
    if (state_ == State::Done) return StreamStatus::Done;
    if (state_ == State::Failed) return StreamStatus::Failed;
    const aws::Status st = frames_.feed(bytes, [&](const aws::EventStreamMessage& m) {
      if (state_ != State::Failed) onMessage(m, out);
    });
    if (st != aws::Status::Ok && state_ != State::Failed) {
      fail(malformedUpstream("bedrock", framingProblem(st)), out);
    }
    return state_ == State::Failed ? StreamStatus::Failed : StreamStatus::Continue;
  }

  StreamStatus finish(std::string& out) override {
    if (state_ == State::Done) return StreamStatus::Done;
    if (state_ == State::Failed) return StreamStatus::Failed;
    // A body cut inside a frame, or before messageStop, is a truncation the engine reports.
    if (frames_.finish() != aws::Status::Ok || state_ != State::Stopped) {
      state_ = State::Failed;
      return StreamStatus::Failed;
    }
    state_ = State::Done;
    if (includeUsage_) {
      const Usage u = usage();
      out += prefix_;
      fmt::format_to(std::back_inserter(out),
                     R"([],"usage":{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{},)"
                     R"("prompt_tokens_details":{{"cached_tokens":{}}},)"
                     R"("completion_tokens_details":{{"reasoning_tokens":{}}}}}}})"
                     "\n\n",
                     u.promptTokens, u.completionTokens, u.totalTokens, u.cachedTokens,
                     u.reasoningTokens);
    }
    out += "data: [DONE]\n\n";
    return StreamStatus::Done;
  }

  [[nodiscard]] Usage usage() const override {
    Usage u;
    u.present = usageSeen_;
    u.cachedTokens = cacheRead_;
    u.promptTokens = inputTokens_ + cacheRead_ + cacheWrite_;
    u.completionTokens = outputTokens_;
    u.totalTokens = u.promptTokens + u.completionTokens;
    return u;
  }

 private:
  enum class State { Open, Stopped, Done, Failed };

  void onMessage(const aws::EventStreamMessage& m, std::string& out) {
    const std::string_view type = m.header(":message-type");
    if (type == "exception") {
      std::string_view message;
      dom::element doc;
      if (parser_.parse(m.payload.data(), m.payload.size()).get(doc) == SUCCESS) {
        (void)doc["message"].get_string().get(message);
      }
      fail(errorFromException(validUtf8(m.header(":exception-type")), message, 0), out);
      return;
    }
    if (type == "error") {
      fail(errorFromException(validUtf8(m.header(":error-code")),
                              validUtf8(m.header(":error-message")), 0),
           out);
      return;
    }
    if (type.empty()) {
      fail(malformedUpstream("bedrock", "an event-stream frame has no :message-type"), out);
      return;
    }
    if (type != "event") return;  // nothing else is documented; new kinds are additive

    const std::string_view event = m.header(":event-type");
    const bool known = event == "messageStart" || event == "contentBlockStart" ||
                       event == "contentBlockDelta" || event == "messageStop" ||
                       event == "metadata";
    if (!known) return;  // contentBlockStop and future events carry nothing to translate
    // After messageStop only the usage (metadata) is still of interest.
    if (state_ == State::Stopped && event != "metadata") return;
    dom::element doc;
    if (parser_.parse(m.payload.data(), m.payload.size()).get(doc) != SUCCESS || !doc.is_object()) {
      fail(malformedUpstream("bedrock", fmt::format("a {} event is not a JSON object", event)),
           out);
      return;
    }
    if (event == "messageStart") {
      ensureRoleChunk(out);
    } else if (event == "contentBlockStart") {
      onBlockStart(doc, out);
    } else if (event == "contentBlockDelta") {
      onBlockDelta(doc, out);
    } else if (event == "messageStop") {
      std::string_view reason;
      std::string_view finish = doc["stopReason"].get_string().get(reason) == SUCCESS
                                    ? toOpenAIFinishReason(reason)
                                    : "stop";
      if (finish == "tool_calls" && nextToolIndex_ == 0) finish = "stop";
      ensureRoleChunk(out);
      appendChunk(out, "{}", fmt::format("\"{}\"", finish));
      state_ = State::Stopped;
    } else {
      dom::element u;
      if (doc["usage"].get(u) == SUCCESS && u.is_object()) {
        usageSeen_ = true;
        readCount(u, "inputTokens", inputTokens_);
        readCount(u, "outputTokens", outputTokens_);
        readCount(u, "cacheReadInputTokens", cacheRead_);
        readCount(u, "cacheWriteInputTokens", cacheWrite_);
      }
    }
  }

  void onBlockStart(dom::element doc, std::string& out) {
    dom::element tool;
    if (doc["start"]["toolUse"].get(tool) != SUCCESS) return;  // only toolUse announces anything
    int64_t block = -1;
    (void)doc["contentBlockIndex"].get_int64().get(block);
    std::string_view id;
    std::string_view name;
    (void)tool["toolUseId"].get_string().get(id);
    (void)tool["name"].get_string().get(name);
    const int64_t k = nextToolIndex_++;
    toolIndexByBlock_[block] = k;
    scratch_ = R"({"tool_calls":[{"index":)";
    appendDecimal(scratch_, k);
    scratch_ += R"(,"id":)";
    appendJsonString(scratch_, id);
    scratch_ += R"(,"type":"function","function":{"name":)";
    appendJsonString(scratch_, name);
    scratch_ += R"(,"arguments":""}}]})";
    ensureRoleChunk(out);
    appendChunk(out, scratch_, "null");
  }

  void onBlockDelta(dom::element doc, std::string& out) {
    dom::element delta;
    if (doc["delta"].get(delta) != SUCCESS) return;
    std::string_view text;
    if (delta["text"].get_string().get(text) == SUCCESS) {
      scratch_ = R"({"content":)";
    } else if (delta["reasoningContent"]["text"].get_string().get(text) == SUCCESS) {
      // Non-standard but widely understood (DeepSeek-style) reasoning extension.
      scratch_ = R"({"reasoning_content":)";
    } else if (delta["toolUse"]["input"].get_string().get(text) == SUCCESS) {
      int64_t block = -1;
      (void)doc["contentBlockIndex"].get_int64().get(block);
      const auto it = toolIndexByBlock_.find(block);
      // Without its start event a fragment has no call (id, name) to extend.
      if (text.empty() || it == toolIndexByBlock_.end()) return;
      scratch_ = R"({"tool_calls":[{"index":)";
      appendDecimal(scratch_, it->second);
      scratch_ += R"(,"function":{"arguments":)";
      appendJsonString(scratch_, text);
      scratch_ += "}}]}";
      ensureRoleChunk(out);
      appendChunk(out, scratch_, "null");
      return;
    } else {
      return;  // reasoning signature / redactedContent, citations, ...: no OpenAI form
    }
    if (text.empty()) return;
    appendJsonString(scratch_, text);
    scratch_.push_back('}');
    ensureRoleChunk(out);
    appendChunk(out, scratch_, "null");
  }

  void fail(const GatewayError& err, std::string& out) {
    out += "data: ";
    out += err.toJson();
    out += "\n\n";
    state_ = State::Failed;
  }

  void appendChunk(std::string& out, std::string_view delta, std::string_view finishReason) {
    out += prefix_;
    out += R"([{"index":0,"delta":)";
    out += delta;
    out += R"(,"logprobs":null,"finish_reason":)";
    out += finishReason;
    out += includeUsage_ ? R"(}],"usage":null})" : "}]}";
    out += "\n\n";
  }

  void ensureRoleChunk(std::string& out) {
    if (roleSent_) return;
    roleSent_ = true;
    appendChunk(out, R"({"role":"assistant","content":""})", "null");
  }

  std::string prefix_;  // `data: {"id":..,"object":..,"created":..,"model":..,"choices":`
  bool includeUsage_;
  State state_ = State::Open;
  bool roleSent_ = false;
  bool usageSeen_ = false;
  aws::EventStreamDecoder frames_;
  dom::parser parser_;
  std::unordered_map<int64_t, int64_t> toolIndexByBlock_;  // contentBlockIndex → OpenAI index
  int64_t nextToolIndex_ = 0;
  int64_t inputTokens_ = 0;
  int64_t outputTokens_ = 0;
  int64_t cacheRead_ = 0;
  int64_t cacheWrite_ = 0;
  std::string scratch_;  // delta JSON under construction
};

}  // namespace

std::unique_ptr<StreamDecoder> makeStreamDecoder(const ResponseOptions& opts) {
  return std::make_unique<ConverseStreamDecoder>(opts);
}

}  // namespace llmux::providers::bedrock
