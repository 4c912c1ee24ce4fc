// Converse response → OpenAI chat.completion (wire_formats.md §4.4, §4.7, §7).
//
//   output.message.content[].text                      → message.content (joined)
//   output.message.content[].toolUse                   → message.tool_calls (arguments = the
//                                                        minified JSON of input)
//   output.message.content[].reasoningContent.reasoningText.text → message.reasoning_content
//   stopReason                                         → finish_reason (toOpenAIFinishReason)
//   usage: prompt_tokens = inputTokens + cacheReadInputTokens + cacheWriteInputTokens,
//          completion_tokens = outputTokens, cached_tokens = cacheReadInputTokens
// Bedrock gives no response id, so "id" is opts.id. Other blocks (redacted reasoning, citations,
// images, ...) have no OpenAI form and are skipped.
#include <simdjson.h>

#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "providers/bedrock/bedrock.hpp"

namespace llmux::providers::bedrock {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

// Token counts above 2^53 cannot be real; clamping keeps the sums from overflowing.
constexpr int64_t kMaxTokens = int64_t{1} << 53;

GatewayError protocolError(std::string_view why) {
  return malformedUpstream("bedrock", why);
}

// A token count member clamped to [0, 2^53]; 0 when absent or not a number.
int64_t readCount(dom::element obj, std::string_view key) {
  dom::element e;
  if (obj[key].get(e) != SUCCESS) return 0;
  int64_t i = 0;
  double d = 0;
  if (e.get_int64().get(i) == SUCCESS) return i < 0 ? 0 : (i > kMaxTokens ? kMaxTokens : i);
  if (e.is_uint64()) return kMaxTokens;
  if (e.get_double().get(d) == SUCCESS) {
    if (!(d > 0)) return 0;
    return d >= static_cast<double>(kMaxTokens) ? kMaxTokens : static_cast<int64_t>(d);
  }
  return 0;
}

}  // namespace

std::string_view toOpenAIFinishReason(std::string_view stopReason) {
  if (stopReason == "max_tokens" || stopReason == "model_context_window_exceeded") return "length";
  if (stopReason == "tool_use") return "tool_calls";
  if (stopReason == "guardrail_intervened" || stopReason == "content_filtered") {
    return "content_filter";
  }
  // end_turn, stop_sequence, malformed_model_output, malformed_tool_use and anything newer.
  return "stop";
}

std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              dom::parser& parser, std::string& out, Usage& usage) {
  out.clear();
  usage = Usage{};
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != SUCCESS) {
    return protocolError("the body is not valid JSON");
  }
  if (!root.is_object()) return protocolError("the body is not a JSON object");
  dom::array content;
  if (root["output"]["message"]["content"].get_array().get(content) != SUCCESS) {
    return protocolError("output.message.content is missing or not an array");
  }

  std::string text;
  std::string reasoning;
  std::string toolCalls;
  bool haveText = false;
  bool haveReasoning = false;
  for (dom::element block : content) {
    if (!block.is_object()) return protocolError("a content block is not an object");
    std::string_view s;
    dom::element tool;
    dom::element reasoningBlock;
    if (block["text"].get(tool) == SUCCESS) {
      if (tool.get_string().get(s) != SUCCESS) return protocolError("a text block is not a string");
      text.append(s);
      haveText = true;
    } else if (block["toolUse"].get(tool) == SUCCESS) {
      std::string_view id;
      std::string_view name;
      if (tool["toolUseId"].get_string().get(id) != SUCCESS ||
          tool["name"].get_string().get(name) != SUCCESS) {
        return protocolError("a toolUse block lacks its toolUseId or name");
      }
      dom::element input;
      const std::string arguments =
          tool["input"].get(input) == SUCCESS ? simdjson::to_string(input) : std::string("{}");
      if (!toolCalls.empty()) toolCalls.push_back(',');
      toolCalls += R"({"id":)";
      appendJsonString(toolCalls, id);
      toolCalls += R"(,"type":"function","function":{"name":)";
      appendJsonString(toolCalls, name);
      toolCalls += R"(,"arguments":)";
      appendJsonString(toolCalls, arguments);
      toolCalls += "}}";
    } else if (block["reasoningContent"]["reasoningText"]["text"].get_string().get(s) == SUCCESS) {
      reasoning.append(s);
      haveReasoning = true;
    }
    // redactedContent, citationsContent, image, document, guardContent, ...: no OpenAI form.
  }

  std::string_view stopReason;
  std::string_view finish = root["stopReason"].get_string().get(stopReason) == SUCCESS
                                ? toOpenAIFinishReason(stopReason)
                                : "stop";
  // "tool_calls" without a call would send clients looking for calls that are not there.
  if (finish == "tool_calls" && toolCalls.empty()) finish = "stop";

  int64_t cacheWrite = 0;
  dom::element u;
  if (root["usage"].get(u) == SUCCESS && u.is_object()) {
    usage.present = true;
    // Converse's inputTokens excludes cache reads and writes; OpenAI's prompt_tokens includes them.
    usage.cachedTokens = readCount(u, "cacheReadInputTokens");
    cacheWrite = readCount(u, "cacheWriteInputTokens");
    usage.promptTokens = readCount(u, "inputTokens") + usage.cachedTokens + cacheWrite;
    usage.completionTokens = readCount(u, "outputTokens");
    usage.totalTokens = usage.promptTokens + usage.completionTokens;
  }

  out.reserve(text.size() + reasoning.size() + toolCalls.size() + opts.clientModel.size() + 512);
  out += R"({"id":)";
  appendJsonString(out, opts.id);
  fmt::format_to(std::back_inserter(out), R"(,"object":"chat.completion","created":{},"model":)",
                 opts.created);
  appendJsonString(out, opts.clientModel);
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
    fmt::format_to(std::back_inserter(out),
                   R"(,"usage":{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{},)"
                   R"("prompt_tokens_details":{{"cached_tokens":{},"cache_write_tokens":{}}},)"
                   R"("completion_tokens_details":{{"reasoning_tokens":{}}}}})",
                   usage.promptTokens, usage.completionTokens, usage.totalTokens,
                   usage.cachedTokens, cacheWrite, usage.reasoningTokens);
  }
  out.push_back('}');
  return std::nullopt;
}

}  // namespace llmux::providers::bedrock
