// OpenAI chat request → Bedrock Converse / ConverseStream call (wire_formats.md §4.3, §4.7).
//
// Parameter mapping:
//   max_completion_tokens / max_tokens → inferenceConfig.maxTokens (optional in Converse, so only
//       sent when the client set it, or when thinking needs room: see reasoning_effort)
//   temperature, top_p, stop           → inferenceConfig.temperature / topP / stopSequences
//   tools                              → toolConfig.tools[].toolSpec {name, description,
//                                        inputSchema:{json}} ("strict" is not forwarded: only some
//                                        Bedrock models accept toolSpec.strict)
//   tool_choice auto / required / named
//                                      → toolConfig.toolChoice {auto:{}} / {any:{}} / {tool:{name}}
//   tool_choice none                   → Converse has no "none": toolConfig is left out, which
//       forbids tool calls, unless the conversation already holds toolUse/toolResult blocks (then
//       Bedrock requires toolConfig, so "none" cannot be honoured: 400, or dropped with
//       drop_params, leaving the model free to call a tool)
//   response_format json_schema        → outputConfig.textFormat (Converse native structured
//       output: {type:"json_schema", structure:{jsonSchema:{schema:<schema as a JSON string>,
//       name, description}}}); the answer is ordinary text, so the response side needs nothing
//   response_format json_object        → unsupported (Converse has no schema-less JSON mode)
//   reasoning_effort (model id containing "anthropic.claude") →
//       additionalModelRequestFields.thinking {type:"enabled", budget_tokens}: minimal/low 1024,
//       medium 2048, high 4096, xhigh 8192, max 16384; "none" sends nothing. Claude counts the
//       budget inside maxTokens and needs budget < maxTokens: with a client limit the budget is
//       capped at max(1024, limit/2) (unsupported when even Claude's 1024 minimum does not fit
//       below the limit); without one maxTokens becomes budget + opts.defaultMaxTokens.
//       Other models: unsupported (they take native additionalModelRequestFields instead).
//   top_k                              → additionalModelRequestFields.top_k
//   n>1, seed, logprobs, top_logprobs, logit_bias, frequency/presence_penalty (non-zero),
//   parallel_tool_calls:false, audio, modalities other than text, prediction, web_search_options,
//   functions/function_call            → unsupported (dropped with drop_params)
//   additionalModelRequestFields, additionalModelResponseFieldPaths, guardrailConfig,
//   performanceConfig, promptVariables, requestMetadata → passed through (Bedrock-native); the
//       client's additionalModelRequestFields keys win over the ones derived above.
//   user, store, metadata, service_tier, stream_options, ... → ignored.
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/text.hpp"
#include "providers/bedrock/bedrock.hpp"
#include "providers/bedrock/request_internal.hpp"
#include "providers/common/sigv4.hpp"

namespace llmux::providers::bedrock {
namespace {

namespace dom = simdjson::dom;
using detail::badValue;
using detail::DropContext;
using simdjson::SUCCESS;

constexpr int64_t kMinThinkingBudget = 1024;  // Claude's minimum budget_tokens

// Everything the body needs, gathered in one pass over the request's members.
struct Parts {
  detail::Conversation conv;
  std::optional<int64_t> maxTokens;
  std::string temperature;  // JSON numbers as the client wrote them (re-serialised)
  std::string topP;
  std::string stop;   // comma-separated JSON strings
  std::string tools;  // comma-separated {"toolSpec":...}
  detail::ToolChoice toolChoice;
  std::string outputConfig;
  int64_t thinkingBudget = 0;  // 0: no thinking
  std::string topK;
  dom::element nativeAdditional;  // the client's additionalModelRequestFields
  bool haveNativeAdditional = false;
  std::vector<std::pair<std::string_view, dom::element>> passthrough;
};

bool isNonZeroNumber(dom::element v) {
  double d = 0;
  return v.is_number() && v.get_double().get(d) == SUCCESS && d != 0;
}

std::optional<GatewayError> readNumber(dom::element v, std::string_view key, std::string& out) {
  if (v.is_null()) return std::nullopt;
  if (!v.is_number()) return badValue(std::string(key), "must be a number");
  out = simdjson::to_string(v);
  return std::nullopt;
}

// max_completion_tokens wins over the deprecated max_tokens.
std::optional<GatewayError> readMaxTokens(dom::object root, std::optional<int64_t>& out) {
  for (std::string_view key : {"max_tokens", "max_completion_tokens"}) {
    dom::element v;
    if (root.at_key(key).get(v) != SUCCESS || v.is_null()) continue;
    int64_t n = 0;
    if (v.get_int64().get(n) != SUCCESS || n < 1) {
      return badValue(std::string(key), "must be a positive integer");
    }
    out = n;
  }
  return std::nullopt;
}

std::optional<GatewayError> readStop(dom::element v, std::string& out) {
  std::string_view s;
  if (v.is_null()) return std::nullopt;
  if (v.get_string().get(s) == SUCCESS) {
    if (!s.empty()) appendJsonString(out, s);
    return std::nullopt;
  }
  dom::array arr;
  if (v.get_array().get(arr) != SUCCESS) return badValue("stop", "must be a string or an array");
  for (dom::element e : arr) {
    if (e.get_string().get(s) != SUCCESS) return badValue("stop", "must contain strings only");
    if (s.empty()) continue;
    if (!out.empty()) out.push_back(',');
    appendJsonString(out, s);
  }
  return std::nullopt;
}

std::optional<GatewayError> readResponseFormat(dom::element v, const DropContext& ctx,
                                               std::string& out) {
  if (v.is_null()) return std::nullopt;
  std::string_view type;
  if (v["type"].get_string().get(type) != SUCCESS) {
    return badValue("response_format", "needs a string 'type'");
  }
  if (type == "text") return std::nullopt;
  if (type == "json_object") {
    return ctx.unsupported("response_format",
                           "Converse has no schema-less JSON mode; use response_format type "
                           "'json_schema' (Bedrock structured output)");
  }
  if (type != "json_schema") {
    return badValue("response_format.type", "must be 'text', 'json_object' or 'json_schema'");
  }
  dom::element js;
  dom::element schema;
  if (v["json_schema"].get(js) != SUCCESS || !js.is_object()) {
    return badValue("response_format.json_schema", "must be an object");
  }
  if (js["schema"].get(schema) != SUCCESS || !schema.is_object()) {
    return badValue("response_format.json_schema.schema",
                    "Bedrock structured output needs the JSON schema object");
  }
  // Structured output is always enforced by Bedrock, so "strict" has nothing to map to.
  out = R"({"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"schema":)";
  appendJsonString(out, simdjson::to_string(schema));
  std::string_view s;
  if (js["name"].get_string().get(s) == SUCCESS && !s.empty()) {
    out += R"(,"name":)";
    appendJsonString(out, s);
  }
  if (js["description"].get_string().get(s) == SUCCESS && !s.empty()) {
    out += R"(,"description":)";
    appendJsonString(out, s);
  }
  out += "}}}}";
  return std::nullopt;
}

// Claude's thinking budget for an OpenAI reasoning_effort (see the table at the top).
std::optional<GatewayError> readReasoningEffort(dom::element v, const DropContext& ctx,
                                                std::optional<int64_t> maxTokens, Parts& p) {
  if (v.is_null()) return std::nullopt;
  static constexpr std::array<std::pair<std::string_view, int64_t>, 7> kBudgets = {{
      {"none", 0},
      {"minimal", 1024},
      {"low", 1024},
      {"medium", 2048},
      {"high", 4096},
      {"xhigh", 8192},
      {"max", 16384},
  }};
  std::string_view effort;
  if (v.get_string().get(effort) != SUCCESS)
    return badValue("reasoning_effort", "must be a string");
  int64_t budget = -1;
  for (const auto& [name, b] : kBudgets) {
    if (name == effort) budget = b;
  }
  if (budget < 0) {
    return badValue("reasoning_effort",
                    "must be one of none, minimal, low, medium, high, xhigh, max");
  }
  if (budget == 0) return std::nullopt;
  if (ctx.opts.upstreamModel.find("anthropic.claude") == std::string_view::npos) {
    return ctx.unsupported("reasoning_effort",
                           "llmux maps it to a thinking budget for Anthropic Claude models only; "
                           "other Bedrock models take their native additionalModelRequestFields");
  }
  if (maxTokens) {
    // Keep at least half of the client's limit for the answer where Claude's minimum allows.
    budget = std::min(budget, std::max(kMinThinkingBudget, *maxTokens / 2));
    if (budget >= *maxTokens) {
      return ctx.unsupported(
          "reasoning_effort",
          fmt::format("a max token limit of {} leaves no room for Claude's minimum thinking "
                      "budget of {} tokens",
                      *maxTokens, kMinThinkingBudget));
    }
  }
  p.thinkingBudget = budget;
  return std::nullopt;
}

// Handles one top-level member of the OpenAI request.
std::optional<GatewayError> readMember(std::string_view key, dom::element v, const DropContext& ctx,
                                       bool toolHistory, Parts& p) {
  const bool isClaude = ctx.opts.upstreamModel.find("anthropic.claude") != std::string_view::npos;
  const bool isNova = ctx.opts.upstreamModel.find("amazon.nova") != std::string_view::npos;
  if (key == "messages") return detail::translateMessages(v, ctx, isClaude || isNova, p.conv);
  if (key == "temperature") return readNumber(v, key, p.temperature);
  if (key == "top_p") return readNumber(v, key, p.topP);
  if (key == "stop") return readStop(v, p.stop);
  if (key == "tools") return detail::readTools(v, ctx, p.tools);
  if (key == "tool_choice") return detail::readToolChoice(v, ctx, toolHistory, p.toolChoice);
  if (key == "response_format") return readResponseFormat(v, ctx, p.outputConfig);
  if (key == "reasoning_effort") return readReasoningEffort(v, ctx, p.maxTokens, p);
  if (key == "top_k") {
    if (v.is_null()) return std::nullopt;
    if (!v.is_number()) return badValue("top_k", "must be a number");
    p.topK = simdjson::to_string(v);
    return std::nullopt;
  }
  if (key == "n") {
    int64_t n = 1;
    if (v.is_null()) return std::nullopt;
    if (v.get_int64().get(n) != SUCCESS || n < 1)
      return badValue("n", "must be a positive integer");
    if (n > 1) return ctx.unsupported("n", "Converse returns a single choice");
    return std::nullopt;
  }
  if (key == "seed") {
    if (v.is_null()) return std::nullopt;
    return ctx.unsupported("seed", "Converse has no sampling seed");
  }
  if (key == "logprobs") {
    bool b = false;
    if (v.get_bool().get(b) == SUCCESS && b) {
      return ctx.unsupported("logprobs", "Converse returns no log probabilities");
    }
    return std::nullopt;
  }
  if (key == "top_logprobs") {
    if (!isNonZeroNumber(v)) return std::nullopt;
    return ctx.unsupported("top_logprobs", "Converse returns no log probabilities");
  }
  if (key == "logit_bias") {
    dom::object o;
    if (v.get_object().get(o) == SUCCESS && o.size() > 0) {
      return ctx.unsupported("logit_bias", "Converse has no token biasing");
    }
    return std::nullopt;
  }
  if (key == "frequency_penalty" || key == "presence_penalty") {
    if (!isNonZeroNumber(v)) return std::nullopt;
    return ctx.unsupported(std::string(key), "Converse has no repetition penalties");
  }
  if (key == "parallel_tool_calls") {
    bool b = true;
    if (v.get_bool().get(b) == SUCCESS && !b) {
      return ctx.unsupported("parallel_tool_calls", "Converse cannot forbid parallel tool calls");
    }
    return std::nullopt;
  }
  if (key == "modalities") {
    dom::array arr;
    std::string_view only;
    if (v.is_null() || (v.get_array().get(arr) == SUCCESS && arr.size() == 1 &&
                        arr.at(0).get_string().get(only) == SUCCESS && only == "text")) {
      return std::nullopt;
    }
    return ctx.unsupported("modalities", "Converse answers with text only");
  }
  if (key == "audio" || key == "prediction" || key == "web_search_options" || key == "functions" ||
      key == "function_call") {
    if (v.is_null()) return std::nullopt;
    return ctx.unsupported(std::string(key), key == "functions" || key == "function_call"
                                                 ? "the deprecated functions API is not "
                                                   "translated; use tools and tool_choice"
                                                 : "Converse has no equivalent");
  }
  if (key == "additionalModelRequestFields") {
    if (!v.is_object()) return badValue(std::string(key), "must be an object");
    p.nativeAdditional = v;
    p.haveNativeAdditional = true;
    return std::nullopt;
  }
  if (key == "guardrailConfig" || key == "performanceConfig" || key == "promptVariables" ||
      key == "requestMetadata") {
    if (!v.is_object()) return badValue(std::string(key), "must be an object");
    p.passthrough.emplace_back(key, v);
    return std::nullopt;
  }
  if (key == "additionalModelResponseFieldPaths") {
    if (!v.is_array()) return badValue(std::string(key), "must be an array");
    p.passthrough.emplace_back(key, v);
    return std::nullopt;
  }
  // model, stream, stream_options, user, store, metadata, service_tier, ... and unknown keys.
  return std::nullopt;
}

// additionalModelRequestFields: the client's own members first (they win), then ours.
void appendAdditional(std::string& body, const Parts& p) {
  std::string fields;
  bool clientThinking = false;
  bool clientTopK = false;
  if (p.haveNativeAdditional) {
    dom::object o;
    if (p.nativeAdditional.get_object().get(o) == SUCCESS) {
      for (auto [k, val] : o) {
        if (k == "thinking") clientThinking = true;
        if (k == "top_k") clientTopK = true;
        if (!fields.empty()) fields.push_back(',');
        appendJsonString(fields, k);
        fields.push_back(':');
        fields += simdjson::to_string(val);
      }
    }
  }
  if (p.thinkingBudget > 0 && !clientThinking) {
    if (!fields.empty()) fields.push_back(',');
    fields += R"("thinking":{"type":"enabled","budget_tokens":)";
    appendDecimal(fields, p.thinkingBudget);
    fields.push_back('}');
  }
  if (!p.topK.empty() && !clientTopK) {
    if (!fields.empty()) fields.push_back(',');
    fields += R"("top_k":)";
    fields += p.topK;
  }
  if (fields.empty() && !p.haveNativeAdditional) return;
  body += R"(,"additionalModelRequestFields":{)";
  body += fields;
  body.push_back('}');
}

// A comma before every member but the first of an object being built.
void member(std::string& out, std::string_view key) {
  if (out.back() != '{') out.push_back(',');
  out.push_back('"');
  out += key;
  out += "\":";
}

}  // namespace

std::optional<GatewayError> buildRequest(dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out) {
  out.clear();
  dom::object root;
  if (request.get_object().get(root) != SUCCESS) {
    return GatewayError::invalidRequest("The request body must be a JSON object.");
  }
  dom::element messages;
  if (root.at_key("messages").get(messages) != SUCCESS) {
    return badValue("messages", "is required");
  }
  const DropContext ctx{opts, out};
  Parts p;
  if (auto err = readMaxTokens(root, p.maxTokens)) return err;
  const bool toolHistory = detail::hasToolHistory(messages);
  for (auto [key, value] : root) {
    if (auto err = readMember(key, value, ctx, toolHistory, p)) return err;
  }
  if (p.toolChoice.needsTools && p.tools.empty()) {
    return badValue("tool_choice", "a required or named tool choice needs 'tools'");
  }
  if (toolHistory && p.tools.empty()) {
    return badValue("tools",
                    "Bedrock Converse requires the tool definitions whenever the conversation "
                    "contains tool calls or tool results; send the 'tools' used earlier");
  }
  // With thinking, maxTokens must exceed the budget (unless the client set thinking natively).
  bool clientThinking = false;
  if (p.haveNativeAdditional) {
    dom::element t;
    clientThinking = p.nativeAdditional["thinking"].get(t) == SUCCESS;
  }
  if (p.thinkingBudget > 0 && !clientThinking && !p.maxTokens) {
    p.maxTokens = p.thinkingBudget + std::max<int64_t>(opts.defaultMaxTokens, 1);
  }

  std::string& body = out.body;
  body.reserve(p.conv.messages.size() + p.conv.system.size() + p.tools.size() + 512);
  body = "{";
  if (!p.conv.system.empty()) {
    body += R"("system":[)";
    body += p.conv.system;
    body += "],";
  }
  body += R"("messages":[)";
  body += p.conv.messages;
  body.push_back(']');

  std::string inference = "{";
  if (p.maxTokens) {
    member(inference, "maxTokens");
    appendDecimal(inference, *p.maxTokens);
  }
  if (!p.temperature.empty()) {
    member(inference, "temperature");
    inference += p.temperature;
  }
  if (!p.topP.empty()) {
    member(inference, "topP");
    inference += p.topP;
  }
  if (!p.stop.empty()) {
    member(inference, "stopSequences");
    inference += '[' + p.stop + ']';
  }
  if (inference.size() > 1) {
    body += R"(,"inferenceConfig":)";
    body += inference;
    body.push_back('}');
  }

  if (!p.tools.empty() && !p.toolChoice.none) {
    body += R"(,"toolConfig":{"tools":[)";
    body += p.tools;
    body.push_back(']');
    if (!p.toolChoice.json.empty()) {
      body += R"(,"toolChoice":)";
      body += p.toolChoice.json;
    }
    body.push_back('}');
  }
  if (!p.outputConfig.empty()) {
    body += R"(,"outputConfig":)";
    body += p.outputConfig;
  }
  appendAdditional(body, p);
  for (const auto& [key, value] : p.passthrough) {
    body.push_back(',');
    appendJsonString(body, key);
    body.push_back(':');
    body += simdjson::to_string(value);
  }
  body.push_back('}');

  out.path =
      aws::bedrockModelPath(opts.upstreamModel, opts.stream ? "converse-stream" : "converse");
  return std::nullopt;
}

}  // namespace llmux::providers::bedrock
