#include "providers/anthropic/stream.hpp"

#include "providers/anthropic/anthropic.hpp"

#include <fmt/format.h>

#include <iterator>
#include <utility>

#include "common/error.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::anthropic {
namespace {

using simdjson::dom::element;

// Keeps sums of hostile counts far from int64 overflow and exact in a JSON double.
constexpr int64_t kMaxTokens = int64_t{1} << 53;

// Reads a token count if present and numeric; leaves `dst` untouched otherwise.
void readCount(element obj, std::string_view key, int64_t& dst) {
  element v;
  if (obj[key].get(v) != simdjson::SUCCESS) return;
  int64_t i = 0;
  double d = 0;
  if (v.get_int64().get(i) == simdjson::SUCCESS) {
    dst = i < 0 ? 0 : (i > kMaxTokens ? kMaxTokens : i);
  } else if (v.is_uint64()) {
    dst = kMaxTokens;
  } else if (v.get_double().get(d) == simdjson::SUCCESS) {
    dst = !(d > 0) ? 0 : (d >= static_cast<double>(kMaxTokens) ? kMaxTokens : int64_t(d));
  }
}

std::string_view stringOr(simdjson::simdjson_result<element> v, std::string_view fallback) {
  std::string_view s;
  return v.get_string().get(s) == simdjson::SUCCESS ? s : fallback;
}

}  // namespace

StreamTranslator::StreamTranslator(std::string clientModel, std::string id, int64_t created,
                                   bool includeUsage)
    : includeUsage_(includeUsage) {
  prefix_ = R"(data: {"id":)";
  appendJsonString(prefix_, id);
  prefix_ += R"(,"object":"chat.completion.chunk","created":)";
  fmt::format_to(std::back_inserter(prefix_), "{}", created);
  prefix_ += R"(,"model":)";
  appendJsonString(prefix_, clientModel);
  prefix_ += R"(,"choices":)";
}

bool StreamTranslator::onEvent(std::string_view event, std::string_view data, std::string& out) {
  if (state_ == State::Failed) return false;
  // A completed stream has nothing left to say; late events (even errors) cannot change it.
  if (state_ != State::Open) return true;

  element doc;
  bool parsed = false;
  std::string_view name = event;
  if (name.empty()) {
    // Anthropic always names events, but `type` in the data is equivalent; honour it.
    parsed = parser_.parse(data).get(doc) == simdjson::SUCCESS;
    if (parsed) name = stringOr(doc["type"], "");
  }

  if (name == "ping" || name == "content_block_stop") return true;
  if (name == "message_stop") {
    onMessageStop(out);
    return true;
  }
  const bool known = name == "message_start" || name == "content_block_start" ||
                     name == "content_block_delta" || name == "message_delta" || name == "error";
  if (!known) return true;  // forward compatibility: new event types are additive

  if (!parsed) parsed = parser_.parse(data).get(doc) == simdjson::SUCCESS;
  if (name == "error") {
    element err;
    if (!parsed || doc["error"].get(err) != simdjson::SUCCESS) {
      return fail("api_error", "upstream stream error", out);
    }
    return fail(stringOr(err["type"], "api_error"), stringOr(err["message"], "upstream error"),
                out);
  }
  // Dropping a delta silently would corrupt the reply, so an unreadable one ends the stream.
  if (!parsed) {
    out += "data: ";
    out += malformedUpstream("anthropic", "a stream event is not valid JSON").toJson();
    out += "\n\n";
    state_ = State::Failed;
    return false;
  }

  if (name == "message_start") return onMessageStart(doc, out);
  if (name == "content_block_start") return onBlockStart(doc, out);
  if (name == "content_block_delta") return onBlockDelta(doc, out);
  onMessageDelta(doc, out);
  return true;
}

bool StreamTranslator::finish(std::string& out) {
  if (state_ != State::Stopped) return false;
  state_ = State::Finished;
  if (includeUsage_) {
    const int64_t prompt = promptTokens();
    out += prefix_;
    fmt::format_to(std::back_inserter(out),
                   R"([],"usage":{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{},)"
                   R"("prompt_tokens_details":{{"cached_tokens":{}}},)"
                   R"("completion_tokens_details":{{"reasoning_tokens":{}}}}}}})"
                   "\n\n",
                   prompt, outputTokens_, prompt + outputTokens_, cacheRead_, reasoningTokens_);
  }
  out += "data: [DONE]\n\n";
  return true;
}

bool StreamTranslator::onMessageStart(element doc, std::string& out) {
  element usage;
  if (doc["message"]["usage"].get(usage) == simdjson::SUCCESS) readUsage(usage);
  ensureRoleChunk(out);
  return true;
}

bool StreamTranslator::onBlockStart(element doc, std::string& out) {
  element block;
  if (doc["content_block"].get(block) != simdjson::SUCCESS) return true;
  // Text and thinking blocks start empty; only tool_use announces something (id and name).
  if (stringOr(block["type"], "") != "tool_use") return true;
  int64_t blockIndex = 0;
  if (doc["index"].get_int64().get(blockIndex) != simdjson::SUCCESS) blockIndex = -1;
  const int64_t k = nextToolIndex_++;
  toolIndexByBlock_[blockIndex] = k;

  scratch_ = R"({"tool_calls":[{"index":)";
  fmt::format_to(std::back_inserter(scratch_), "{}", k);
  scratch_ += R"(,"id":)";
  appendJsonString(scratch_, stringOr(block["id"], ""));
  scratch_ += R"(,"type":"function","function":{"name":)";
  appendJsonString(scratch_, stringOr(block["name"], ""));
  scratch_ += R"(,"arguments":""}}]})";
  ensureRoleChunk(out);
  appendChunk(out, scratch_, "null");
  return true;
}

bool StreamTranslator::onBlockDelta(element doc, std::string& out) {
  element delta;
  if (doc["delta"].get(delta) != simdjson::SUCCESS) return true;
  const std::string_view type = stringOr(delta["type"], "");
  std::string_view text;
  if (type == "text_delta") {
    text = stringOr(delta["text"], "");
    if (text.empty()) return true;
    scratch_ = R"({"content":)";
  } else if (type == "thinking_delta") {
    text = stringOr(delta["thinking"], "");
    if (text.empty()) return true;
    // Non-standard but widely understood (DeepSeek-style) reasoning extension.
    scratch_ = R"({"reasoning_content":)";
  } else if (type == "input_json_delta") {
    text = stringOr(delta["partial_json"], "");
    int64_t blockIndex = 0;
    if (doc["index"].get_int64().get(blockIndex) != simdjson::SUCCESS) blockIndex = -1;
    const auto it = toolIndexByBlock_.find(blockIndex);
    // Empty fragments (Anthropic sends one first) carry nothing; orphans have no call to extend.
    if (text.empty() || it == toolIndexByBlock_.end()) return true;
    scratch_ = R"({"tool_calls":[{"index":)";
    fmt::format_to(std::back_inserter(scratch_), "{}", it->second);
    scratch_ += R"(,"function":{"arguments":)";
    appendJsonString(scratch_, text);
    scratch_ += "}}]}";
    ensureRoleChunk(out);
    appendChunk(out, scratch_, "null");
    return true;
  } else {
    return true;  // signature_delta, citations_delta, ...: nothing in the OpenAI schema
  }
  appendJsonString(scratch_, text);
  scratch_ += "}";
  ensureRoleChunk(out);
  appendChunk(out, scratch_, "null");
  return true;
}

void StreamTranslator::onMessageDelta(element doc, std::string& out) {
  element usage;
  if (doc["usage"].get(usage) == simdjson::SUCCESS) readUsage(usage);
  std::string_view reason;
  if (doc["delta"]["stop_reason"].get_string().get(reason) == simdjson::SUCCESS) {
    appendFinishChunk(out, toOpenAIFinishReason(reason));
  }
}

void StreamTranslator::onMessageStop(std::string& out) {
  // Clients wait for a finish_reason; supply one if message_delta never carried a stop_reason.
  appendFinishChunk(out, "stop");
  state_ = State::Stopped;
}

bool StreamTranslator::fail(std::string_view type, std::string_view message, std::string& out) {
  GatewayError err;
  err.type = std::string(type);
  err.message = std::string(message);
  out += "data: ";
  out += err.toJson();
  out += "\n\n";
  state_ = State::Failed;
  return false;
}

providers::Usage StreamTranslator::usage() const {
  providers::Usage u;
  u.present = usageSeen_;
  u.promptTokens = promptTokens();
  u.completionTokens = outputTokens_;
  u.totalTokens = u.promptTokens + u.completionTokens;
  u.cachedTokens = cacheRead_;
  u.reasoningTokens = reasoningTokens_;
  return u;
}

void StreamTranslator::readUsage(element usage) {
  if (!usage.is_object()) return;
  usageSeen_ = true;
  // Values are cumulative (§2.4): assign whatever is present, never add.
  readCount(usage, "input_tokens", inputTokens_);
  readCount(usage, "cache_creation_input_tokens", cacheCreation_);
  readCount(usage, "cache_read_input_tokens", cacheRead_);
  readCount(usage, "output_tokens", outputTokens_);
  element details;
  if (usage["output_tokens_details"].get(details) == simdjson::SUCCESS) {
    readCount(details, "thinking_tokens", reasoningTokens_);
  }
}

void StreamTranslator::appendChunk(std::string& out, std::string_view delta,
                                   std::string_view finishReason) {
  out += prefix_;
  out += R"([{"index":0,"delta":)";
  out += delta;
  out += R"(,"logprobs":null,"finish_reason":)";
  out += finishReason;
  out += includeUsage_ ? R"(}],"usage":null})" : "}]}";
  out += "\n\n";
}

void StreamTranslator::ensureRoleChunk(std::string& out) {
  if (roleSent_) return;
  roleSent_ = true;
  appendChunk(out, R"({"role":"assistant","content":""})", "null");
}

void StreamTranslator::appendFinishChunk(std::string& out, std::string_view finishReason) {
  if (finishSent_) return;
  finishSent_ = true;
  ensureRoleChunk(out);
  const std::string quoted = "\"" + std::string(finishReason) + "\"";  // once per stream
  appendChunk(out, "{}", quoted);
}

}  // namespace llmux::providers::anthropic
