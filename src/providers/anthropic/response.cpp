// Non-streaming Anthropic messages as OpenAI chat.completion bodies (wire_formats.md §2.3, §2.6).
#include <simdjson.h>

#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "providers/anthropic/anthropic.hpp"

namespace llmux::providers::anthropic {
namespace {

namespace dom = simdjson::dom;

// Token counts above 2^53 cannot be real; clamping keeps the sums from overflowing.
constexpr int64_t kMaxTokens = int64_t{1} << 53;

GatewayError protocolError(std::string_view why) {
  return GatewayError::badGateway(
      fmt::format("Upstream sent an invalid Anthropic Messages response: {}.", why),
      "upstream_protocol_error");
}

// A token count member, clamped to [0, 2^53]; 0 when absent, null or not a number. Usage is
// bookkeeping, so an odd count must not cost the client an otherwise good answer.
int64_t readCount(dom::object obj, std::string_view key) {
  dom::element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS) return 0;
  switch (e.type()) {
    case dom::element_type::INT64: {
      int64_t v = 0;
      (void)e.get_int64().get(v);
      return v < 0 ? 0 : (v > kMaxTokens ? kMaxTokens : v);
    }
    case dom::element_type::UINT64:
      return kMaxTokens;  // above INT64_MAX
    case dom::element_type::DOUBLE: {
      double d = 0;
      (void)e.get_double().get(d);
      if (!(d > 0)) return 0;  // also NaN
      return d >= static_cast<double>(kMaxTokens) ? kMaxTokens : static_cast<int64_t>(d);
    }
    default:
      return 0;
  }
}

// `cacheWrite` is reported to the client but has no field in Usage.
Usage readUsage(dom::element usageElem, int64_t& cacheWrite) {
  Usage u;
  dom::object obj;
  if (usageElem.get_object().get(obj) != simdjson::SUCCESS) return u;
  u.present = true;
  // Anthropic's input_tokens excludes cache reads and writes; OpenAI's prompt_tokens includes them.
  cacheWrite = readCount(obj, "cache_creation_input_tokens");
  u.cachedTokens = readCount(obj, "cache_read_input_tokens");
  u.promptTokens = readCount(obj, "input_tokens") + cacheWrite + u.cachedTokens;
  u.completionTokens = readCount(obj, "output_tokens");
  u.totalTokens = u.promptTokens + u.completionTokens;
  dom::object details;
  if (obj.at_key("output_tokens_details").get_object().get(details) == simdjson::SUCCESS) {
    u.reasoningTokens = readCount(details, "thinking_tokens");
  }
  return u;
}

void appendUsage(std::string& out, const Usage& u, int64_t cacheWrite) {
  fmt::format_to(std::back_inserter(out),
                 R"({{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{},)"
                 R"("prompt_tokens_details":{{"cached_tokens":{},"cache_write_tokens":{}}},)"
                 R"("completion_tokens_details":{{"reasoning_tokens":{}}}}})",
                 u.promptTokens, u.completionTokens, u.totalTokens, u.cachedTokens, cacheWrite,
                 u.reasoningTokens);
}

// A required string member; false when absent or not a string.
bool readString(dom::object obj, std::string_view key, std::string_view& out) {
  return obj.at_key(key).get_string().get(out) == simdjson::SUCCESS;
}

}  // namespace

std::string_view toOpenAIFinishReason(std::string_view stopReason) {
  if (stopReason == "max_tokens" || stopReason == "model_context_window_exceeded") return "length";
  if (stopReason == "tool_use") return "tool_calls";
  if (stopReason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn and anything newer
}

std::variant<std::string, GatewayError> toOpenAICompletion(std::string_view anthropicBody,
                                                           std::string_view clientModel,
                                                           int64_t created, Usage* usageOut) {
  dom::parser parser;
  std::string out;
  if (auto err = toOpenAICompletion(anthropicBody, clientModel, created, parser, out, usageOut)) {
    return std::move(*err);
  }
  return out;
}

std::optional<GatewayError> toOpenAICompletion(std::string_view anthropicBody,
                                               std::string_view clientModel, int64_t created,
                                               dom::parser& parser, std::string& out,
                                               Usage* usageOut) {
  out.clear();
  if (usageOut != nullptr) *usageOut = Usage{};
  dom::element root;
  if (parser.parse(anthropicBody.data(), anthropicBody.size()).get(root) != simdjson::SUCCESS) {
    return protocolError("body is not valid JSON");
  }
  dom::object msg;
  if (root.get_object().get(msg) != simdjson::SUCCESS) {
    return protocolError("body is not a JSON object");
  }
  // "type" is optional for leniency towards compatible hosts, but an error body relayed with a 2xx
  // status must not pass as an empty answer.
  dom::element typeElem;
  std::string_view type;
  if (msg.at_key("type").get(typeElem) == simdjson::SUCCESS &&
      (typeElem.get_string().get(type) != simdjson::SUCCESS || type != "message")) {
    return protocolError(R"("type" is not "message")");
  }
  std::string_view id;
  if (!readString(msg, "id", id)) return protocolError(R"("id" is missing or not a string)");
  dom::array content;
  if (msg.at_key("content").get_array().get(content) != simdjson::SUCCESS) {
    return protocolError(R"("content" is missing or not an array)");
  }

  std::string text;
  std::string reasoning;
  std::string toolCalls;
  bool haveText = false;
  bool haveReasoning = false;
  for (dom::element blockElem : content) {
    dom::object block;
    std::string_view blockType;
    if (blockElem.get_object().get(block) != simdjson::SUCCESS ||
        !readString(block, "type", blockType)) {
      return protocolError("a content block has no type");
    }
    if (blockType == "text") {
      std::string_view t;
      if (!readString(block, "text", t)) return protocolError("a text block has no text");
      text.append(t);
      haveText = true;
    } else if (blockType == "thinking") {
      std::string_view t;
      if (!readString(block, "thinking", t)) return protocolError("a thinking block has no text");
      reasoning.append(t);
      haveReasoning = true;
    } else if (blockType == "tool_use") {
      std::string_view toolId;
      std::string_view name;
      if (!readString(block, "id", toolId) || !readString(block, "name", name)) {
        return protocolError("a tool_use block lacks its id or name");
      }
      dom::element input;
      // simdjson re-serialises compactly, which is the arguments string clients expect.
      const std::string arguments = block.at_key("input").get(input) == simdjson::SUCCESS
                                        ? simdjson::to_string(input)
                                        : std::string("{}");
      if (!toolCalls.empty()) toolCalls.push_back(',');
      toolCalls += R"({"id":)";
      appendJsonString(toolCalls, toolId);
      toolCalls += R"(,"type":"function","function":{"name":)";
      appendJsonString(toolCalls, name);
      toolCalls += R"(,"arguments":)";
      appendJsonString(toolCalls, arguments);
      toolCalls += "}}";
    }
    // redacted_thinking, server_tool_use, *_tool_result and future blocks have no OpenAI form.
  }

  std::string_view stopReason;
  std::string_view finish =
      readString(msg, "stop_reason", stopReason) ? toOpenAIFinishReason(stopReason) : "stop";
  // "tool_calls" without any tool call would send clients looking for calls that are not there.
  if (finish == "tool_calls" && toolCalls.empty()) finish = "stop";

  Usage usage;
  int64_t cacheWrite = 0;
  dom::element usageElem;
  if (msg.at_key("usage").get(usageElem) == simdjson::SUCCESS) {
    usage = readUsage(usageElem, cacheWrite);
  }

  out.reserve(text.size() + reasoning.size() + toolCalls.size() + clientModel.size() + 512);
  out += R"({"id":)";
  appendJsonString(out, id);
  fmt::format_to(std::back_inserter(out), R"(,"object":"chat.completion","created":{},"model":)",
                 created);
  appendJsonString(out, clientModel);
  out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
  if (haveText) {
    appendJsonString(out, text);
  } else {
    out += "null";
  }
  out += R"(,"refusal":null)";
  if (!toolCalls.empty()) {
    out += R"(,"tool_calls":[)";
    out += toolCalls;
    out.push_back(']');
  }
  if (haveReasoning) {
    out += R"(,"reasoning_content":)";
    appendJsonString(out, reasoning);
  }
  out += R"(},"logprobs":null,"finish_reason":)";
  appendJsonString(out, finish);
  out += "}]";
  if (usage.present) {
    out += R"(,"usage":)";
    appendUsage(out, usage, cacheWrite);
  }
  out.push_back('}');
  if (usageOut != nullptr) *usageOut = usage;
  return std::nullopt;
}

}  // namespace llmux::providers::anthropic
