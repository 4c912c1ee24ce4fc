// Non-streaming Mistral chat completions as OpenAI chat.completion bodies, and the reading helpers
// the stream translator shares (wire_formats.md §6.1, §1.4, §7).
#include <simdjson.h>

#include <string>
#include <string_view>

#include "common/text.hpp"
#include "providers/mistral/internal.hpp"

namespace llmux::providers::mistral::detail {
namespace {

namespace dom = simdjson::dom;

// Token counts above 2^53 cannot be real; clamping keeps the sums from overflowing.
constexpr int64_t kMaxTokens = int64_t{1} << 53;

GatewayError protocolError(std::string_view why) {
  return malformedUpstream(kProvider, why);
}

// translateResponse's body; `out` may hold a partial answer when this fails.
std::optional<GatewayError> translate(std::string_view body, const ResponseOptions& opts,
                                      simdjson::dom::parser& parser, std::string& out,
                                      Usage& usage);

std::string_view stringOr(simdjson::simdjson_result<dom::element> v, std::string_view fallback) {
  std::string_view s;
  return v.get_string().get(s) == simdjson::SUCCESS ? s : fallback;
}

// Thinking chunks hold a list of text (and reference) chunks; older servers may send a string.
void appendThinking(dom::element thinking, ContentParts& out) {
  std::string_view s;
  if (thinking.get_string().get(s) == simdjson::SUCCESS) {
    out.reasoning.append(s);
    out.haveReasoning = true;
    return;
  }
  dom::array parts;
  if (thinking.get_array().get(parts) != simdjson::SUCCESS) return;
  for (dom::element part : parts) {
    if (stringOr(part["type"], "text") != "text") continue;
    if (part["text"].get_string().get(s) != simdjson::SUCCESS) continue;
    out.reasoning.append(s);
    out.haveReasoning = true;
  }
}

// One OpenAI tool call for a Mistral one; false when it has no function name. A call without an
// id (Mistral's schema default is the string "null") gets "call_<choice>_<position>", as the
// stream translator names it.
bool appendToolCall(dom::element call, int64_t choice, int64_t position, std::string& out) {
  dom::element fn;
  std::string_view name;
  if (call["function"].get(fn) != simdjson::SUCCESS ||
      fn["name"].get_string().get(name) != simdjson::SUCCESS) {
    return false;
  }
  if (!out.empty()) out.push_back(',');
  out += R"({"id":)";
  const std::string_view id = stringOr(call["id"], "");
  if (id.empty() || id == "null") {
    std::string made = "call_";
    appendDecimal(made, choice);
    made.push_back('_');
    appendDecimal(made, position);
    appendJsonString(out, made);
  } else {
    appendJsonString(out, id);
  }
  out += R"(,"type":"function","function":{"name":)";
  appendJsonString(out, name);
  out += R"(,"arguments":)";
  appendJsonString(out, argumentsText(fn["arguments"], "{}"));
  out += "}}";
  return true;
}

}  // namespace

std::string_view finishReason(std::string_view mistralReason) {
  if (mistralReason == "length" || mistralReason == "model_length") return "length";
  if (mistralReason == "tool_calls") return "tool_calls";
  if (mistralReason == "content_filter") return "content_filter";
  return "stop";
}

std::optional<int64_t> readCount(dom::element obj, std::string_view key) {
  dom::element v;
  if (obj[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  int64_t i = 0;
  double d = 0;
  switch (v.type()) {
    case dom::element_type::INT64:
      (void)v.get_int64().get(i);
      return i < 0 ? 0 : (i > kMaxTokens ? kMaxTokens : i);
    case dom::element_type::UINT64:
      return kMaxTokens;  // above INT64_MAX
    case dom::element_type::DOUBLE:
      (void)v.get_double().get(d);
      if (!(d > 0)) return 0;  // also NaN
      return d >= static_cast<double>(kMaxTokens) ? kMaxTokens : static_cast<int64_t>(d);
    default:
      return std::nullopt;
  }
}

Usage readUsage(dom::element usage) {
  Usage u;
  if (!usage.is_object()) return u;
  u.present = true;
  u.promptTokens = readCount(usage, "prompt_tokens").value_or(0);
  u.completionTokens = readCount(usage, "completion_tokens").value_or(0);
  u.totalTokens = readCount(usage, "total_tokens").value_or(u.promptTokens + u.completionTokens);
  dom::element details;
  if (usage["prompt_tokens_details"].get(details) == simdjson::SUCCESS && details.is_object()) {
    u.cachedTokens = readCount(details, "cached_tokens").value_or(0);
  }
  if (usage["completion_tokens_details"].get(details) == simdjson::SUCCESS && details.is_object()) {
    u.reasoningTokens = readCount(details, "reasoning_tokens").value_or(0);
  }
  return u;
}

void appendUsageJson(std::string& out, const Usage& u) {
  out += R"({"prompt_tokens":)";
  appendDecimal(out, u.promptTokens);
  out += R"(,"completion_tokens":)";
  appendDecimal(out, u.completionTokens);
  out += R"(,"total_tokens":)";
  appendDecimal(out, u.totalTokens);
  out += R"(,"prompt_tokens_details":{"cached_tokens":)";
  appendDecimal(out, u.cachedTokens);
  out += R"(},"completion_tokens_details":{"reasoning_tokens":)";
  appendDecimal(out, u.reasoningTokens);
  out += "}}";
}

bool splitContent(dom::element content, ContentParts& out) {
  std::string_view s;
  switch (content.type()) {
    case dom::element_type::NULL_VALUE:
      return true;
    case dom::element_type::STRING:
      (void)content.get_string().get(s);
      out.text.append(s);
      out.haveText = true;
      return true;
    case dom::element_type::ARRAY:
      break;
    default:
      return false;
  }
  dom::array chunks;
  (void)content.get_array().get(chunks);
  for (dom::element chunk : chunks) {
    const std::string_view type = stringOr(chunk["type"], "");
    if (type == "text") {
      if (chunk["text"].get_string().get(s) != simdjson::SUCCESS) continue;
      out.text.append(s);
      out.haveText = true;
    } else if (type == "thinking") {
      dom::element thinking;
      if (chunk["thinking"].get(thinking) == simdjson::SUCCESS) appendThinking(thinking, out);
    }
    // reference, image_url, ... chunks have no place in an OpenAI assistant message.
  }
  return true;
}

std::string argumentsText(simdjson::simdjson_result<dom::element> args, std::string_view fallback) {
  dom::element v;
  if (args.get(v) != simdjson::SUCCESS || v.is_null()) return std::string(fallback);
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  return simdjson::to_string(v);
}

std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              dom::parser& parser, std::string& out, Usage& usage) {
  out.clear();
  usage = Usage{};
  auto err = translate(body, opts, parser, out, usage);
  if (err) {
    out.clear();
    usage = Usage{};
  }
  return err;
}

namespace {

std::optional<GatewayError> translate(std::string_view body, const ResponseOptions& opts,
                                      dom::parser& parser, std::string& out, Usage& usage) {
  dom::element root;
  if (body.empty() || parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return protocolError("the body is not valid JSON");
  }
  if (!root.is_object()) return protocolError("the body is not a JSON object");
  // An error relayed with a 2xx status must not pass as an empty answer.
  if (stringOr(root["object"], "") == "error" || root["error"].error() == simdjson::SUCCESS) {
    return protocolError("a 2xx answer carried an error object");
  }
  dom::array choices;
  if (root["choices"].get_array().get(choices) != simdjson::SUCCESS) {
    return protocolError(R"("choices" is missing or not an array)");
  }

  const std::string_view id = stringOr(root["id"], opts.id);
  out += R"({"id":)";
  appendJsonString(out, id.empty() ? opts.id : id);
  out += R"(,"object":"chat.completion","created":)";
  appendDecimal(out, opts.created);
  out += R"(,"model":)";
  appendJsonString(out, opts.clientModel);
  out += R"(,"choices":[)";

  int64_t position = 0;
  std::string toolCalls;
  for (dom::element choice : choices) {
    if (!choice.is_object()) return protocolError("a choice is not an object");
    int64_t index = position;
    if (choice["index"].get_int64().get(index) != simdjson::SUCCESS) index = position;
    ++position;

    dom::element message;
    ContentParts parts;
    toolCalls.clear();
    if (choice["message"].get(message) == simdjson::SUCCESS && !message.is_null()) {
      if (!message.is_object()) return protocolError("a choice's message is not an object");
      dom::element content;
      if (message["content"].get(content) == simdjson::SUCCESS && !splitContent(content, parts)) {
        return protocolError("a message's content is neither a string nor a chunk array");
      }
      dom::array calls;
      if (message["tool_calls"].get_array().get(calls) == simdjson::SUCCESS) {
        int64_t k = 0;
        for (dom::element call : calls) {
          if (!appendToolCall(call, index, k++, toolCalls)) {
            return protocolError("a tool call has no function name");
          }
        }
      }
    }

    const std::string_view reason = stringOr(choice["finish_reason"], "stop");
    if (isErrorFinish(reason)) {
      // Mistral's generation failed part-way; a truncated answer must not pass as complete. A
      // 502 lets the router retry or fall back.
      return GatewayError::badGateway(
          "Provider 'mistral' ended the generation with finish_reason \"error\".",
          "upstream_generation_error");
    }
    std::string_view finish = finishReason(reason);
    // "tool_calls" without any tool call would send clients looking for calls that are not there.
    if (finish == "tool_calls" && toolCalls.empty()) finish = "stop";

    if (position > 1) out.push_back(',');
    out += R"({"index":)";
    appendDecimal(out, index);
    out += R"(,"message":{"role":"assistant","content":)";
    // Mistral sends "" beside tool calls where OpenAI sends null.
    if (parts.haveText && !(parts.text.empty() && !toolCalls.empty())) {
      appendJsonString(out, parts.text);
    } else {
      out += "null";
    }
    out += R"(,"refusal":null)";
    if (!toolCalls.empty()) {
      out += R"(,"tool_calls":[)";
      out += toolCalls;
      out.push_back(']');
    }
    if (parts.haveReasoning) {
      out += R"(,"reasoning_content":)";
      appendJsonString(out, parts.reasoning);
    }
    out += R"(},"logprobs":null,"finish_reason":)";
    appendJsonString(out, finish);
    out.push_back('}');
  }
  out.push_back(']');

  dom::element usageElem;
  if (root["usage"].get(usageElem) == simdjson::SUCCESS) usage = readUsage(usageElem);
  if (usage.present) {
    out += R"(,"usage":)";
    appendUsageJson(out, usage);
  }
  out.push_back('}');
  return std::nullopt;
}

}  // namespace

}  // namespace llmux::providers::mistral::detail
