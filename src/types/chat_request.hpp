#pragma once
// The canonical client request (OpenAI Chat Completions). The gateway does not rebuild the body: it
// validates it in one pass, remembers where the fields it may rewrite sit, and splices the upstream
// body from the original bytes, so every field it does not own reaches the provider untouched.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/error.hpp"

namespace llmux::types {

// A byte range [begin, end) inside the request body.
struct Span {
  size_t begin = 0;
  size_t end = 0;
  [[nodiscard]] bool empty() const { return begin == end; }
};

struct ChatRequestFields {
  // Value of "model": a view into the body, or into ChatRequest::modelStorage when the JSON token
  // had escapes (e.g. "openai\/gpt-4o", as PHP's json_encode writes it).
  std::string_view model;
  Span modelSpan;             // the JSON string token of "model", quotes included
  bool stream = false;        // "stream": true
  bool includeUsage = false;  // client asked for stream_options.include_usage: true
  Span streamOptionsMember;   // the whole `"stream_options": {...}` member if present (key..value)
  size_t objectEnd = 0;       // offset of the top-level closing '}'
  std::optional<std::string> mockResponse;  // "mock_response" (LiteLLM's testing switch), unescaped
  std::string lastUserText;  // text of the last user message (string or text parts joined)
  size_t messageCount = 0;
  bool modelOwned = false;     // `model` points into modelStorage
  bool hasDropParams = false;  // "drop_params" (LiteLLM's, for the gateway; never sent upstream)
  bool dropParams = false;     // its value
  // A top-level routing field for the gateway (LiteLLM's fallbacks / num_retries / timeout /
  // mock_testing_*, OpenRouter's models / provider): the engine reads them from a DOM and leaves
  // them out of the upstream body.
  bool hasRouterFields = false;
};

// Top-level request keys that steer the gateway's routing and are never sent upstream.
bool isRouterField(std::string_view key);

// Copies and moves keep `model` pointing at this object's own storage when it owns the name.
struct ChatRequest : ChatRequestFields {
  std::string modelStorage;

  ChatRequest() = default;
  ChatRequest(const ChatRequest& o) : ChatRequestFields(o), modelStorage(o.modelStorage) {
    rebind();
  }
  ChatRequest(ChatRequest&& o) noexcept
      : ChatRequestFields(std::move(o)), modelStorage(std::move(o.modelStorage)) {
    rebind();
  }
  ChatRequest& operator=(const ChatRequest& o) {
    if (this != &o) {
      ChatRequestFields::operator=(o);
      modelStorage = o.modelStorage;
      rebind();
    }
    return *this;
  }
  ChatRequest& operator=(ChatRequest&& o) noexcept {
    if (this != &o) {
      ChatRequestFields::operator=(std::move(o));
      modelStorage = std::move(o.modelStorage);
      rebind();
    }
    return *this;
  }
  ~ChatRequest() = default;

  // Clears every field for the next parse, keeping string capacity.
  void reset() {
    std::string keepText = std::move(lastUserText);
    std::string keepModel = std::move(modelStorage);
    ChatRequestFields::operator=(ChatRequestFields{});
    lastUserText = std::move(keepText);
    lastUserText.clear();
    modelStorage = std::move(keepModel);
    modelStorage.clear();
  }

 private:
  void rebind() {
    if (modelOwned) model = modelStorage;
  }
};

// Parses and validates a Chat Completions body. Checks: valid UTF-8 JSON object; "model" a
// non-empty string; "messages" a non-empty array of objects each with a string "role"; "stream" a
// bool if present; "stream_options" an object or null if present, its "include_usage" a bool if
// present. Errors are 400 invalid_request_error naming the field (param set to it). `body` gets
// spare capacity appended (simdjson padding); its contents are not changed.
std::variant<ChatRequest, GatewayError> parseChatRequest(std::string& body);
// The same into `out`, reusing its buffers (the request path keeps one per in-flight request).
std::optional<GatewayError> parseChatRequest(std::string& body, ChatRequest& out);

}  // namespace llmux::types
