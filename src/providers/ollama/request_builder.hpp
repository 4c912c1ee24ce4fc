#pragma once
// The request translator's state (request.cpp: parameters and assembly; messages.cpp: the
// conversation). Private to src/providers/ollama.
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/ollama/internal.hpp"

namespace llmux::providers::ollama::detail {

using Err = std::optional<GatewayError>;

GatewayError invalidParam(std::string param, std::string_view message);
std::string indexed(std::string_view base, size_t i);

// One non-system message of a conversation flattened for /api/generate.
struct Turn {
  bool user = false;
  std::string text;   // the message's own text (the whole prompt for a lone user message)
  std::string block;  // its transcript block: "User: ...", "Assistant: ...", "Tool result ..."
};

class Builder {
 public:
  Builder(Api api, const RequestOptions& opts, UpstreamCall& out)
      : api_(api), opts_(opts), out_(out) {}

  Err run(simdjson::dom::object request);

 private:
  Err unsupported(std::string param, std::string_view detail = {});
  void setOption(std::string_view key, std::string raw);
  Err readNumber(std::string_view key, simdjson::dom::element v, std::string& dst, bool integer);
  Err readParam(std::string_view key, simdjson::dom::element v);
  Err readStop(simdjson::dom::element v);
  Err readResponseFormat(simdjson::dom::element v);
  Err readReasoningEffort(simdjson::dom::element v);
  Err readToolChoice(std::string_view key, simdjson::dom::element v);
  Err readMessages(simdjson::dom::element v);
  Err readContent(simdjson::dom::element content, const std::string& path, bool imagesAllowed,
                  std::string& text, std::vector<std::string_view>& images);
  Err readImage(simdjson::dom::element part, const std::string& path,
                std::vector<std::string_view>& images);
  Err readMessage(simdjson::dom::object msg, const std::string& path);
  Err readAssistantCalls(simdjson::dom::object msg, const std::string& path, std::string& json,
                         std::string& transcript);
  Err readCall(std::string_view id, simdjson::dom::object fn, const std::string& path,
               std::string& json, std::string& transcript);
  Err appendArguments(const simdjson::dom::element* args, const std::string& path,
                      std::string& json);
  Err readTools(std::string_view key, simdjson::dom::array arr);
  void assemble(std::string& body);

  Api api_;
  const RequestOptions& opts_;
  UpstreamCall& out_;
  simdjson::dom::parser argParser_;  // tool-call arguments; the request's own DOM must stay valid

  // messages
  std::string messages_;  // /api/chat: the array's members
  std::vector<std::pair<std::string_view, std::string_view>> calls_;  // id → name, in order
  std::string system_;                                                // /api/generate
  std::vector<Turn> turns_;                                           // /api/generate
  std::vector<std::string_view> images_;                              // /api/generate
  bool sawMessages_ = false;

  // OpenAI parameters mapped to options, emitted in this fixed order
  std::string temperature_, topP_, seed_, stop_, maxTokens_, maxCompletionTokens_, frequency_,
      presence_;
  std::vector<std::pair<std::string, std::string>> natives_;        // top-level option names
  std::vector<std::pair<std::string, std::string>> clientOptions_;  // "options" members
  std::vector<std::pair<std::string, std::string>> options_;        // assembled

  std::string tools_;      // the "tools" list's members, as sent
  std::string functions_;  // deprecated "functions", as tools
  bool toolsOff_ = false;  // tool_choice / function_call "none"
  std::string format_;
  std::string nativeFormat_;
  std::string think_;
  std::string nativeThink_;
  std::string keepAlive_;
  std::vector<std::pair<std::string_view, std::string>> generateNatives_;
};

}  // namespace llmux::providers::ollama::detail
