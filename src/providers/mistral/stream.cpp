// Mistral's chat completion SSE stream as OpenAI chat.completion.chunk events (wire_formats.md
// §1.6, §6.1). Mistral's chunks are OpenAI-shaped, but each one is re-emitted in the gateway's
// canonical form so clients see OpenAI's exact sequence:
//  * "model" is the client's name; the id is Mistral's (the first chunk's), else the engine's.
//  * A first chunk {"role":"assistant","content":""} per choice; content arrays (magistral and
//    reasoning models) are flattened: text chunks → "content", thinking chunks →
//    "reasoning_content".
//  * Tool calls (Mistral sends each one whole, arguments included, sometimes several in one delta)
//    become a start fragment (index, id, type, name, arguments "") and an arguments fragment;
//    indexes are the gateway's own, counted per choice, so several calls never share one.
//  * finish_reason is mapped (model_length → length, unknown → stop). Mistral's "error" finish
//    ends the stream with an error event instead: the answer was cut short.
//  * Mistral puts usage on the last content chunk without being asked; it is taken off the
//    content chunks and, when the client asked for include_usage, sent as the separate
//    "choices":[] chunk right before [DONE].
//  * {"object":"error",...} or {"error":...} payloads end the stream with one error event.
#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.hpp"
#include "providers/common/sse_parser.hpp"
#include "providers/mistral/internal.hpp"

namespace llmux::providers::mistral::detail {
namespace {

namespace dom = simdjson::dom;

constexpr int64_t kMaxChoices = 128;    // OpenAI's upper bound for n
constexpr size_t kMaxToolCalls = 4096;  // per choice; bounds the decoder's memory

std::string_view stringOr(simdjson::simdjson_result<dom::element> v, std::string_view fallback) {
  std::string_view s;
  return v.get_string().get(s) == simdjson::SUCCESS ? s : fallback;
}
std::string_view stringOr(dom::element v, std::string_view fallback) {
  std::string_view s;
  return v.get_string().get(s) == simdjson::SUCCESS ? s : fallback;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

class Decoder final : public StreamDecoder {
 public:
  explicit Decoder(const ResponseOptions& opts)
      : clientModel_(opts.clientModel),
        id_(opts.id),
        created_(opts.created),
        includeUsage_(opts.includeUsage),
        sse_(kMaxEventBytes) {}

  StreamStatus feed(std::string_view bytes, std::string& out) override {
    if (status_ != StreamStatus::Continue) return status_;
    const bool ok = sse_.feed(bytes, [&](const SseEvent& ev) {
      if (status_ == StreamStatus::Continue) onData(ev.data, out);
    });
    if (!ok && status_ == StreamStatus::Continue) {
      fail("api_error", "Mistral sent a stream event larger than 8 MiB.", {}, out);
    }
    return status_;
  }

  StreamStatus finish(std::string& /*out*/) override {
    // Without [DONE] the stream was cut: the engine reports the truncation.
    if (status_ == StreamStatus::Continue) status_ = StreamStatus::Failed;
    return status_;
  }

  [[nodiscard]] Usage usage() const override { return usage_; }

 private:
  struct Call {
    std::string id;
    int64_t upstreamIndex = -1;
  };
  struct Choice {
    bool seen = false;      // its role chunk went out
    bool finished = false;  // its finish chunk went out
    std::vector<Call> calls;
  };

  void onData(std::string_view data, std::string& out);
  void onChoice(dom::element choice, int64_t position, std::string& out);
  void onContent(dom::element content, int64_t index, std::string& out);
  void onToolCall(dom::element call, int64_t index, std::string& out);
  void onDone(std::string& out);
  void fail(std::string_view type, std::string_view message, std::optional<std::string> code,
            std::string& out);
  void failFromPayload(dom::element doc, std::string& out);

  void ensurePrefix(std::string_view id);
  Choice& ensureChoice(int64_t index, std::string& out);
  void appendChunk(std::string& out, int64_t index, std::string_view delta,
                   std::string_view finish);
  void appendText(std::string& out, int64_t index, std::string_view field, std::string_view text);
  void appendFinish(std::string& out, int64_t index, std::string_view finish);

  std::string clientModel_;
  std::string id_;
  int64_t created_;
  bool includeUsage_;
  SseParser sse_;
  dom::parser parser_;
  StreamStatus status_ = StreamStatus::Continue;
  std::string prefix_;  // `data: {"id":..,"object":..,"created":..,"model":..,"choices":`
  std::vector<Choice> choices_;
  Usage usage_;
  std::string scratch_;  // delta JSON under construction
};

void Decoder::onData(std::string_view data, std::string& out) {
  const std::string_view trimmed = trim(data);
  if (trimmed == "[DONE]") {
    onDone(out);
    return;
  }
  if (trimmed.empty()) return;  // an empty data line carries nothing (keep-alive)
  dom::element doc;
  if (parser_.parse(data.data(), data.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    // Dropping a delta silently would corrupt the reply, so an unreadable one ends the stream.
    fail("api_error", "Mistral sent a malformed stream event.", {}, out);
    return;
  }
  dom::element err;
  if ((doc["error"].get(err) == simdjson::SUCCESS && !err.is_null()) ||
      stringOr(doc["object"], "") == "error") {
    failFromPayload(doc, out);
    return;
  }
  ensurePrefix(stringOr(doc["id"], id_));
  dom::element usage;
  if (doc["usage"].get(usage) == simdjson::SUCCESS && usage.is_object()) usage_ = readUsage(usage);
  dom::array choices;
  if (doc["choices"].get_array().get(choices) != simdjson::SUCCESS) return;
  int64_t position = 0;
  for (dom::element choice : choices) {
    onChoice(choice, position++, out);
    if (status_ != StreamStatus::Continue) return;
  }
}

void Decoder::onChoice(dom::element choice, int64_t position, std::string& out) {
  if (!choice.is_object()) {
    fail("api_error", "Mistral sent a malformed stream choice.", {}, out);
    return;
  }
  int64_t index = position;
  if (choice["index"].get_int64().get(index) != simdjson::SUCCESS) index = position;
  if (index < 0 || index >= kMaxChoices) {
    fail("api_error", "Mistral sent a stream choice index out of range.", {}, out);
    return;
  }
  // Nothing may follow a choice's finish chunk (a late delta has no place in OpenAI's sequence).
  if (ensureChoice(index, out).finished) return;
  dom::element delta;
  if (choice["delta"].get(delta) == simdjson::SUCCESS && delta.is_object()) {
    dom::element content;
    if (delta["content"].get(content) == simdjson::SUCCESS) onContent(content, index, out);
    if (status_ != StreamStatus::Continue) return;
    dom::array calls;
    if (delta["tool_calls"].get_array().get(calls) == simdjson::SUCCESS) {
      for (dom::element call : calls) {
        onToolCall(call, index, out);
        if (status_ != StreamStatus::Continue) return;
      }
    }
  }
  std::string_view reason;
  if (choice["finish_reason"].get_string().get(reason) != simdjson::SUCCESS) return;
  if (isErrorFinish(reason)) {
    fail("api_error", "Mistral ended the generation with finish_reason \"error\".",
         "upstream_generation_error", out);
    return;
  }
  std::string_view finish = finishReason(reason);
  // "tool_calls" without any tool call would send clients looking for calls that are not there.
  if (finish == "tool_calls" && choices_[static_cast<size_t>(index)].calls.empty()) {
    finish = "stop";
  }
  appendFinish(out, index, finish);
}

void Decoder::onContent(dom::element content, int64_t index, std::string& out) {
  std::string_view s;
  switch (content.type()) {
    case dom::element_type::NULL_VALUE:
      return;
    case dom::element_type::STRING:
      (void)content.get_string().get(s);
      appendText(out, index, "content", s);
      return;
    case dom::element_type::ARRAY:
      break;
    default:
      fail("api_error", "Mistral sent stream content that is neither text nor chunks.", {}, out);
      return;
  }
  dom::array chunks;
  (void)content.get_array().get(chunks);
  // One chunk at a time, so thinking and text keep their order within a delta.
  for (dom::element chunk : chunks) {
    const std::string_view type = stringOr(chunk["type"], "");
    if (type == "text") {
      appendText(out, index, "content", stringOr(chunk["text"], ""));
    } else if (type == "thinking") {
      dom::element thinking;
      if (chunk["thinking"].get(thinking) != simdjson::SUCCESS) continue;
      if (thinking.get_string().get(s) == simdjson::SUCCESS) {
        appendText(out, index, "reasoning_content", s);
        continue;
      }
      dom::array parts;
      if (thinking.get_array().get(parts) != simdjson::SUCCESS) continue;
      for (dom::element part : parts) {
        if (stringOr(part["type"], "text") != "text") continue;  // reference chunks
        appendText(out, index, "reasoning_content", stringOr(part["text"], ""));
      }
    }
    // reference and future chunk types have no OpenAI delta.
  }
}

void Decoder::onToolCall(dom::element call, int64_t index, std::string& out) {
  if (!call.is_object()) return;
  Choice& choice = choices_[static_cast<size_t>(index)];
  std::string_view id = stringOr(call["id"], "");
  if (id == "null") id = {};  // Mistral's schema default for a missing id
  int64_t upstreamIndex = -1;
  if (call["index"].get_int64().get(upstreamIndex) != simdjson::SUCCESS) upstreamIndex = -1;
  dom::element fn;
  const bool hasFn = call["function"].get(fn) == simdjson::SUCCESS && fn.is_object();
  const std::string args = hasFn ? argumentsText(fn["arguments"], "") : std::string();

  // A fragment continues the call with its id, or (without an id) the last call at its index.
  size_t k = choice.calls.size();
  for (size_t j = choice.calls.size(); j-- > 0;) {
    const Call& c = choice.calls[j];
    if (id.empty() ? c.upstreamIndex == upstreamIndex : c.id == id) {
      k = j;
      break;
    }
  }
  if (k == choice.calls.size()) {
    if (k >= kMaxToolCalls) {
      fail("api_error", "Mistral sent too many tool calls in one stream.", {}, out);
      return;
    }
    Call c;
    c.upstreamIndex = upstreamIndex;
    if (id.empty()) {
      c.id = "call_";
      appendDecimal(c.id, index);
      c.id += '_';
      appendDecimal(c.id, static_cast<int64_t>(k));
    } else {
      c.id = std::string(id);
    }
    scratch_ = R"({"tool_calls":[{"index":)";
    appendDecimal(scratch_, static_cast<int64_t>(k));
    scratch_ += R"(,"id":)";
    appendJsonString(scratch_, c.id);
    scratch_ += R"(,"type":"function","function":{"name":)";
    appendJsonString(scratch_, hasFn ? stringOr(fn["name"], "") : "");
    scratch_ += R"(,"arguments":""}}]})";
    appendChunk(out, index, scratch_, "null");
    choice.calls.push_back(std::move(c));
  }
  if (args.empty()) return;
  scratch_ = R"({"tool_calls":[{"index":)";
  appendDecimal(scratch_, static_cast<int64_t>(k));
  scratch_ += R"(,"function":{"arguments":)";
  appendJsonString(scratch_, args);
  scratch_ += "}}]}";
  appendChunk(out, index, scratch_, "null");
}

void Decoder::onDone(std::string& out) {
  ensurePrefix(id_);
  // Clients wait for a finish_reason; supply one for every choice that never got its own.
  if (choices_.empty()) ensureChoice(0, out);
  for (size_t i = 0; i < choices_.size(); ++i) {
    if (choices_[i].seen) appendFinish(out, static_cast<int64_t>(i), "stop");
  }
  if (includeUsage_) {
    out += prefix_;
    out += R"([],"usage":)";
    appendUsageJson(out, usage_);
    out += "}\n\n";
  }
  out += "data: [DONE]\n\n";
  status_ = StreamStatus::Done;
}

void Decoder::fail(std::string_view type, std::string_view message, std::optional<std::string> code,
                   std::string& out) {
  GatewayError err;
  err.type = std::string(type);
  err.message = std::string(message);
  err.code = std::move(code);
  out += "data: ";
  out += err.toJson();
  out += "\n\n";
  status_ = StreamStatus::Failed;
}

// {"object":"error","message","type","code"} (Mistral's flat form) or {"error":{...}|"..."}.
void Decoder::failFromPayload(dom::element doc, std::string& out) {
  dom::element src = doc;
  dom::element inner;
  std::string_view message;
  if (doc["error"].get(inner) == simdjson::SUCCESS) {
    if (inner.is_object()) {
      src = inner;
    } else {
      message = stringOr(inner, "");
    }
  }
  if (message.empty()) message = stringOr(src["message"], "");
  if (message.empty()) message = "Mistral reported an error in the stream.";
  std::string_view type = stringOr(src["type"], "");
  if (type.empty() || type == "error" || type == "Error") type = "api_error";
  std::optional<std::string> code;
  dom::element c;
  if (src["code"].get(c) == simdjson::SUCCESS && !c.is_null()) {
    code = c.is_string() ? std::string(stringOr(c, "")) : simdjson::to_string(c);
  }
  fail(type, message, std::move(code), out);
}

void Decoder::ensurePrefix(std::string_view id) {
  if (!prefix_.empty()) return;
  prefix_ = R"(data: {"id":)";
  appendJsonString(prefix_, id.empty() ? std::string_view(id_) : id);
  prefix_ += R"(,"object":"chat.completion.chunk","created":)";
  appendDecimal(prefix_, created_);
  prefix_ += R"(,"model":)";
  appendJsonString(prefix_, clientModel_);
  prefix_ += R"(,"choices":)";
}

Decoder::Choice& Decoder::ensureChoice(int64_t index, std::string& out) {
  const auto i = static_cast<size_t>(index);
  if (choices_.size() <= i) choices_.resize(i + 1);
  if (!choices_[i].seen) {
    choices_[i].seen = true;
    appendChunk(out, index, R"({"role":"assistant","content":""})", "null");
  }
  return choices_[i];
}

void Decoder::appendChunk(std::string& out, int64_t index, std::string_view delta,
                          std::string_view finish) {
  out += prefix_;
  out += R"([{"index":)";
  appendDecimal(out, index);
  out += R"(,"delta":)";
  out += delta;
  out += R"(,"logprobs":null,"finish_reason":)";
  out += finish;
  out += includeUsage_ ? R"(}],"usage":null})" : "}]}";
  out += "\n\n";
}

void Decoder::appendText(std::string& out, int64_t index, std::string_view field,
                         std::string_view text) {
  if (text.empty()) return;
  scratch_ = "{";
  appendJsonString(scratch_, field);
  scratch_.push_back(':');
  appendJsonString(scratch_, text);
  scratch_.push_back('}');
  appendChunk(out, index, scratch_, "null");
}

void Decoder::appendFinish(std::string& out, int64_t index, std::string_view finish) {
  Choice& c = choices_[static_cast<size_t>(index)];
  if (c.finished) return;
  c.finished = true;
  std::string quoted;
  appendJsonString(quoted, finish);
  appendChunk(out, index, "{}", quoted);
}

}  // namespace

std::unique_ptr<StreamDecoder> makeStreamDecoder(const ResponseOptions& opts) {
  return std::make_unique<Decoder>(opts);
}

}  // namespace llmux::providers::mistral::detail
