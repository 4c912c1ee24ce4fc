// Non-streaming Cohere v2 chat responses as OpenAI chat.completion bodies (wire_formats.md §6.3,
// §7), plus the finish-reason and usage helpers the stream decoder shares.
#include <simdjson.h>

#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/error.hpp"
#include "providers/cohere/cohere.hpp"
#include "providers/cohere/request_internal.hpp"

namespace llmux::providers::cohere {
namespace {

namespace dom = simdjson::dom;

// Token counts above 2^53 cannot be real; clamping keeps the sums from overflowing.
constexpr int64_t kMaxTokens = int64_t{1} << 53;

// A token count member, clamped to [0, 2^53]; nullopt when absent, null or not a number. Usage is
// bookkeeping, so an odd count must not cost the client an otherwise good answer.
std::optional<int64_t> readCount(dom::element obj, std::string_view key) {
  dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS) return std::nullopt;
  int64_t i = 0;
  double d = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS)
    return i < 0 ? 0 : (i > kMaxTokens ? kMaxTokens : i);
  if (e.is_uint64()) return kMaxTokens;  // above INT64_MAX
  if (e.get_double().get(d) == simdjson::SUCCESS) {
    if (!(d > 0)) return 0;  // also NaN
    return d >= static_cast<double>(kMaxTokens) ? kMaxTokens : static_cast<int64_t>(d);
  }
  return std::nullopt;
}

}  // namespace

Finish classifyFinishReason(std::string_view r) {
  if (r == "MAX_TOKENS") return Finish::Length;
  if (r == "TOOL_CALL") return Finish::ToolCalls;
  if (r == "ERROR") return Finish::Error;
  if (r == "TIMEOUT") return Finish::Timeout;
  return Finish::Stop;  // COMPLETE, STOP_SEQUENCE and anything newer
}

std::string_view openAIFinishReason(Finish finish) {
  switch (finish) {
    case Finish::Length:
      return "length";
    case Finish::ToolCalls:
      return "tool_calls";
    default:
      return "stop";
  }
}

Usage readUsage(dom::element usage) {
  Usage u;
  if (!usage.is_object()) return u;
  // tokens counts everything the model processed; billed_units can be lower (Cohere does not bill
  // its own prompt template), so it is only the fallback.
  for (std::string_view group : {"tokens", "billed_units"}) {
    dom::element counts;
    if (usage[group].get(counts) != simdjson::SUCCESS || !counts.is_object()) continue;
    const auto in = readCount(counts, "input_tokens");
    const auto outTokens = readCount(counts, "output_tokens");
    if (!in && !outTokens) continue;
    u.present = true;
    u.promptTokens = in.value_or(0);
    u.completionTokens = outTokens.value_or(0);
    break;
  }
  if (!u.present) return u;
  // cached_tokens: "prompt tokens that hit the inference cache", a part of the input tokens.
  const int64_t cached = readCount(usage, "cached_tokens").value_or(0);
  u.cachedTokens = cached > u.promptTokens ? u.promptTokens : cached;
  u.totalTokens = u.promptTokens + u.completionTokens;
  return u;
}

void appendUsageJson(std::string& out, const Usage& u) {
  fmt::format_to(std::back_inserter(out),
                 R"({{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{},)"
                 R"("prompt_tokens_details":{{"cached_tokens":{}}},)"
                 R"("completion_tokens_details":{{"reasoning_tokens":{}}}}})",
                 u.promptTokens, u.completionTokens, u.totalTokens, u.cachedTokens,
                 u.reasoningTokens);
}

std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              dom::parser& parser, std::string& out, Usage& usage) {
  out.clear();
  usage = Usage{};
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return malformedUpstream(kProvider, "the body is not valid JSON");
  }
  dom::object msgResp;
  if (root.get_object().get(msgResp) != simdjson::SUCCESS) {
    return malformedUpstream(kProvider, "the body is not a JSON object");
  }
  dom::object message;
  if (msgResp["message"].get_object().get(message) != simdjson::SUCCESS) {
    // An error body relayed with a 2xx status must not pass as an empty answer.
    return malformedUpstream(kProvider, R"("message" is missing or not an object)");
  }

  std::string text;       // tool_plan, then the text blocks, in generation order
  std::string reasoning;  // thinking blocks
  bool haveText = false;
  bool haveReasoning = false;
  std::string_view s;
  if (message["tool_plan"].get_string().get(s) == simdjson::SUCCESS && !s.empty()) {
    text.append(s);
    haveText = true;
  }
  dom::element content;
  if (message["content"].get(content) == simdjson::SUCCESS && !content.is_null()) {
    dom::array blocks;
    if (content.get_string().get(s) == simdjson::SUCCESS) {  // lenient: a bare string
      text.append(s);
      haveText = true;
    } else if (content.get_array().get(blocks) == simdjson::SUCCESS) {
      for (dom::element block : blocks) {
        std::string_view type;
        if (block["type"].get_string().get(type) != simdjson::SUCCESS) {
          return malformedUpstream(kProvider, "a content block has no type");
        }
        if (type == "text") {
          if (block["text"].get_string().get(s) != simdjson::SUCCESS) {
            return malformedUpstream(kProvider, "a text block has no text");
          }
          text.append(s);
          haveText = true;
        } else if (type == "thinking") {
          if (block["thinking"].get_string().get(s) != simdjson::SUCCESS) {
            return malformedUpstream(kProvider, "a thinking block has no text");
          }
          reasoning.append(s);
          haveReasoning = true;
        }
        // Other (future) blocks have no OpenAI form.
      }
    } else {
      return malformedUpstream(kProvider, R"("message.content" is not an array)");
    }
  }

  std::string toolCalls;
  dom::array calls;
  if (message["tool_calls"].get_array().get(calls) == simdjson::SUCCESS) {
    size_t k = 0;
    for (dom::element call : calls) {
      std::string_view id;
      std::string_view name;
      dom::element fn;
      if (call["function"].get(fn) != simdjson::SUCCESS ||
          fn["name"].get_string().get(name) != simdjson::SUCCESS) {
        return malformedUpstream(kProvider, "a tool call has no function name");
      }
      if (!toolCalls.empty()) toolCalls += ',';
      toolCalls += R"({"id":)";
      if (call["id"].get_string().get(id) == simdjson::SUCCESS && !id.empty()) {
        appendJsonString(toolCalls, id);
      } else {
        appendJsonString(toolCalls, fmt::format("call_{}", k));
      }
      toolCalls += R"(,"type":"function","function":{"name":)";
      appendJsonString(toolCalls, name);
      toolCalls += R"(,"arguments":)";
      dom::element args;
      if (fn["arguments"].get(args) != simdjson::SUCCESS || args.is_null()) {
        toolCalls += R"("{}")";
      } else if (args.get_string().get(s) == simdjson::SUCCESS) {
        appendJsonString(toolCalls, s);
      } else {
        appendJsonString(toolCalls, simdjson::to_string(args));
      }
      toolCalls += "}}";
      ++k;
    }
  }

  std::string_view reason;
  const Finish finish = msgResp["finish_reason"].get_string().get(reason) == simdjson::SUCCESS
                            ? classifyFinishReason(reason)
                            : Finish::Stop;
  dom::element usageElem;
  if (msgResp["usage"].get(usageElem) == simdjson::SUCCESS) usage = readUsage(usageElem);
  // A generation Cohere reports as failed is not an answer, whatever text it produced; the usage
  // stays available for accounting.
  if (finish == Finish::Error) {
    return GatewayError::badGateway("Cohere reported an error while generating the response.",
                                    "upstream_error");
  }
  if (finish == Finish::Timeout) {
    return GatewayError::gatewayTimeout("Cohere timed out while generating the response.");
  }
  std::string_view finishReason = openAIFinishReason(finish);
  // Clients look for calls when told "tool_calls" and stop looking otherwise; "length" stays (the
  // last call's arguments may be cut short).
  if (!toolCalls.empty() && finishReason == "stop") {
    finishReason = "tool_calls";
  } else if (toolCalls.empty() && finishReason == "tool_calls") {
    finishReason = "stop";
  }

  std::string_view id;
  if (msgResp["id"].get_string().get(id) != simdjson::SUCCESS || id.empty()) id = opts.id;
  out.reserve(text.size() + reasoning.size() + toolCalls.size() + 512);
  out += R"({"id":)";
  appendJsonString(out, id);
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
    out += ']';
  }
  if (haveReasoning) {
    out += R"(,"reasoning_content":)";
    appendJsonString(out, reasoning);
  }
  out += R"(},"logprobs":null,"finish_reason":)";
  appendJsonString(out, finishReason);
  out += "}]";
  if (usage.present) {
    out += R"(,"usage":)";
    appendUsageJson(out, usage);
  }
  out += '}';
  return std::nullopt;
}

}  // namespace llmux::providers::cohere
