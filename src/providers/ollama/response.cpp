// Non-streaming Ollama answers (/api/chat and /api/generate with "stream":false) as OpenAI
// chat.completion bodies (wire_formats.md §6.2, §7), plus the pieces the stream translator shares.
//
//   /api/chat      message.content → content, message.thinking → reasoning_content,
//                  message.tool_calls [{function:{name, arguments:<object>}}] → tool_calls with
//                  generated ids (toolCallId) and the arguments minified into a JSON string.
//   /api/generate  response → content, thinking → reasoning_content.
//   Both           done_reason → finish_reason (finishReason), prompt_eval_count / eval_count →
//                  usage. Ollama sends no id: opts.id is used; "created" is opts.created.
#include <simdjson.h>

#include <fmt/format.h>

#include <iterator>
#include <string>
#include <string_view>

#include "providers/ollama/internal.hpp"

namespace llmux::providers::ollama::detail {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

// Token counts above 2^53 cannot be real; clamping keeps the sums from overflowing.
constexpr int64_t kMaxTokens = int64_t{1} << 53;

// A count member, clamped to [0, 2^53]; false when absent or not a number.
bool readCount(dom::object obj, std::string_view key, int64_t& dst) {
  dom::element e;
  if (obj[key].get(e) != SUCCESS) return false;
  int64_t i = 0;
  double d = 0;
  if (e.get_int64().get(i) == SUCCESS) {
    dst = i < 0 ? 0 : (i > kMaxTokens ? kMaxTokens : i);
  } else if (e.is_uint64()) {
    dst = kMaxTokens;  // above INT64_MAX
  } else if (e.get_double().get(d) == SUCCESS) {
    dst = !(d > 0) ? 0 : (d >= static_cast<double>(kMaxTokens) ? kMaxTokens : int64_t(d));
  } else {
    return false;
  }
  return true;
}

// A string member: 1 when present, 0 when absent or null, -1 when of another type.
int textMember(dom::object obj, std::string_view key, std::string_view& out) {
  dom::element e;
  if (obj[key].get(e) != SUCCESS || e.is_null()) return 0;
  return e.get_string().get(out) == SUCCESS ? 1 : -1;
}

bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

void readCounts(dom::object obj, Usage& usage) {
  bool any = readCount(obj, "prompt_eval_count", usage.promptTokens);
  any = readCount(obj, "eval_count", usage.completionTokens) || any;
  if (any) usage.present = true;
  usage.totalTokens = usage.promptTokens + usage.completionTokens;
}

void appendUsageJson(std::string& out, const Usage& u) {
  fmt::format_to(std::back_inserter(out),
                 R"({{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{},)"
                 R"("prompt_tokens_details":{{"cached_tokens":{}}},)"
                 R"("completion_tokens_details":{{"reasoning_tokens":{}}}}})",
                 u.promptTokens, u.completionTokens, u.totalTokens, u.cachedTokens,
                 u.reasoningTokens);
}

std::string_view finishReason(std::string_view doneReason, bool sawToolCalls) {
  if (sawToolCalls) return "tool_calls";
  if (doneReason == "length") return "length";
  return "stop";  // stop, load, unload and anything newer
}

bool readToolCall(dom::element call, ToolCall& out) {
  dom::object fn;
  if (call["function"].get_object().get(fn) != SUCCESS) return false;
  if (fn["name"].get_string().get(out.name) != SUCCESS) return false;
  out.id = {};
  (void)call["id"].get_string().get(out.id);
  dom::element args;
  std::string_view s;
  if (fn["arguments"].get(args) != SUCCESS || args.is_null()) {
    out.arguments = "{}";
  } else if (args.get_string().get(s) == SUCCESS) {
    out.arguments = std::string(s);  // already a string (OpenAI-style servers)
  } else {
    out.arguments = simdjson::to_string(args);  // the documented object, minified
  }
  return true;
}

std::string toolCallId(std::string_view responseId, int64_t index) {
  constexpr std::string_view kPrefix = "chatcmpl-";
  constexpr size_t kMaxSuffix = 40;  // keeps ids within OpenAI's 64 characters
  if (responseId.starts_with(kPrefix)) responseId.remove_prefix(kPrefix.size());
  std::string id = "call_";
  for (size_t i = 0; i < responseId.size() && i < kMaxSuffix; ++i) {
    id.push_back(isIdChar(responseId[i]) ? responseId[i] : '_');
  }
  if (!responseId.empty()) id.push_back('_');
  fmt::format_to(std::back_inserter(id), "{}", index);
  return id;
}

std::optional<GatewayError> translateResponse(Api api, std::string_view body,
                                              const ResponseOptions& opts, dom::parser& parser,
                                              std::string& out, Usage& usage) {
  out.clear();
  usage = Usage{};
  const std::string_view provider = providerName(api);
  dom::element root;
  if (parser.parse(body.data(), body.size(), true).get(root) != SUCCESS) {
    return malformedUpstream(provider, "the body is not valid JSON");
  }
  dom::object obj;
  if (root.get_object().get(obj) != SUCCESS) {
    return malformedUpstream(provider, "the body is not a JSON object");
  }
  // An error relayed with a 2xx status must not pass as an empty answer.
  dom::element errElem;
  if (obj["error"].get(errElem) == SUCCESS && !errElem.is_null()) {
    std::string_view message;
    if (errElem.get_string().get(message) != SUCCESS) {
      (void)errElem["message"].get_string().get(message);
    }
    GatewayError err = errorFromMessage(
        502, message.empty() ? std::string("Ollama reported an error") : std::string(message));
    classifyUpstreamError(err);
    return err;
  }

  std::string_view text;
  std::string_view thinking;
  std::string toolCalls;
  int64_t calls = 0;
  if (api == Api::Chat) {
    dom::object msg;
    if (obj["message"].get_object().get(msg) != SUCCESS) {
      return malformedUpstream(provider, R"("message" is missing or not an object)");
    }
    if (textMember(msg, "content", text) < 0) {
      return malformedUpstream(provider, R"("message.content" is not a string)");
    }
    if (textMember(msg, "thinking", thinking) < 0) {
      return malformedUpstream(provider, R"("message.thinking" is not a string)");
    }
    dom::element list;
    if (msg["tool_calls"].get(list) == SUCCESS && !list.is_null()) {
      dom::array arr;
      if (list.get_array().get(arr) != SUCCESS) {
        return malformedUpstream(provider, R"("message.tool_calls" is not an array)");
      }
      for (dom::element c : arr) {
        ToolCall call;
        if (!readToolCall(c, call)) {
          return malformedUpstream(provider, "a tool call has no function name");
        }
        if (!toolCalls.empty()) toolCalls += ',';
        toolCalls += R"({"id":)";
        appendJsonString(toolCalls, call.id.empty() ? toolCallId(opts.id, calls) : call.id);
        toolCalls += R"(,"type":"function","function":{"name":)";
        appendJsonString(toolCalls, call.name);
        toolCalls += R"(,"arguments":)";
        appendJsonString(toolCalls, call.arguments);
        toolCalls += "}}";
        ++calls;
      }
    }
  } else {
    if (textMember(obj, "response", text) < 0) {
      return malformedUpstream(provider, R"("response" is not a string)");
    }
    if (textMember(obj, "thinking", thinking) < 0) {
      return malformedUpstream(provider, R"("thinking" is not a string)");
    }
  }
  std::string_view doneReason;
  (void)obj["done_reason"].get_string().get(doneReason);
  readCounts(obj, usage);

  out.reserve(text.size() + thinking.size() + toolCalls.size() + 512);
  out += R"({"id":)";
  appendJsonString(out, opts.id);
  fmt::format_to(std::back_inserter(out), R"(,"object":"chat.completion","created":{},"model":)",
                 opts.created);
  appendJsonString(out, opts.clientModel);
  out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
  if (text.empty() && calls > 0) {
    out += "null";
  } else {
    appendJsonString(out, text);
  }
  out += R"(,"refusal":null)";
  if (calls > 0) {
    out += R"(,"tool_calls":[)";
    out += toolCalls;
    out += ']';
  }
  if (!thinking.empty()) {
    out += R"(,"reasoning_content":)";
    appendJsonString(out, thinking);
  }
  out += R"(},"logprobs":null,"finish_reason":)";
  appendJsonString(out, finishReason(doneReason, calls > 0));
  out += "}]";
  if (usage.present) {
    out += R"(,"usage":)";
    appendUsageJson(out, usage);
  }
  out += '}';
  return std::nullopt;
}

}  // namespace llmux::providers::ollama::detail
