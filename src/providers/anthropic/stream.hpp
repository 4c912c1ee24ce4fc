#pragma once
// Translates an Anthropic Messages event stream into OpenAI chat.completion.chunk SSE events
// (wire_formats.md §2.4, §2.6, §1.6). Pure and incremental: the caller parses SSE framing and feeds
// one event at a time; no I/O, clock or logging here. The adapters' StreamDecoder (adapter.cpp)
// pairs it with providers::SseParser.
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "providers/common/adapter.hpp"

namespace llmux::providers::anthropic {

class StreamTranslator {
 public:
  StreamTranslator(std::string clientModel, std::string id, int64_t created, bool includeUsage);

  // Appends zero or more complete OpenAI SSE events ("data: {...}\n\n") to `out` for one Anthropic
  // event. Returns false once the stream has ended with an error: an Anthropic `error` event (or a
  // malformed event we cannot translate) becomes one `data: {"error":{...}}` event and nothing is
  // emitted after it.
  bool onEvent(std::string_view event, std::string_view data, std::string& out);

  // After message_stop: the usage-only chunk (when includeUsage), then "data: [DONE]\n\n". Returns
  // false and appends nothing if message_stop never came (the caller reports truncation) or after
  // an error; a second call also returns false.
  bool finish(std::string& out);

  [[nodiscard]] int64_t promptTokens() const { return inputTokens_ + cacheCreation_ + cacheRead_; }
  [[nodiscard]] int64_t completionTokens() const { return outputTokens_; }
  // Usage in OpenAI's terms; present once message_start or message_delta carried a usage object.
  [[nodiscard]] providers::Usage usage() const;

  // message_stop arrived: finish() will succeed.
  [[nodiscard]] bool stopped() const { return state_ == State::Stopped; }

 private:
  enum class State { Open, Stopped, Finished, Failed };

  bool onMessageStart(simdjson::dom::element doc, std::string& out);
  bool onBlockStart(simdjson::dom::element doc, std::string& out);
  bool onBlockDelta(simdjson::dom::element doc, std::string& out);
  void onMessageDelta(simdjson::dom::element doc, std::string& out);
  void onMessageStop(std::string& out);
  bool fail(std::string_view type, std::string_view message, std::string& out);

  void readUsage(simdjson::dom::element usage);
  void appendChunk(std::string& out, std::string_view delta, std::string_view finishReason);
  void ensureRoleChunk(std::string& out);
  void appendFinishChunk(std::string& out, std::string_view finishReason);

  std::string prefix_;  // `data: {"id":..,"object":..,"created":..,"model":..,"choices":`
  bool includeUsage_;
  State state_ = State::Open;
  bool roleSent_ = false;
  bool finishSent_ = false;
  std::unordered_map<int64_t, int64_t> toolIndexByBlock_;  // Anthropic block index → OpenAI index
  int64_t nextToolIndex_ = 0;
  int64_t inputTokens_ = 0;
  int64_t cacheCreation_ = 0;
  int64_t cacheRead_ = 0;
  int64_t outputTokens_ = 0;
  int64_t reasoningTokens_ = 0;
  bool usageSeen_ = false;
  simdjson::dom::parser parser_;
  std::string scratch_;  // delta JSON under construction
};

}  // namespace llmux::providers::anthropic
