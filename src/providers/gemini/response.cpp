// Non-streaming GenerateContentResponse bodies as OpenAI chat.completion bodies (wire_formats.md
// §3.3, §3.7, §7).
//
// * One choice per candidate (choices[].index = the candidate's index, defaulting to its position:
//   protobuf JSON omits index 0). Text parts are joined into content; thought:true parts into the
//   non-standard reasoning_content; functionCall parts become tool_calls with generated ids
//   (appendToolCallId) and JSON-string arguments. Other parts (inlineData, executableCode...) have
//   no chat.completion form and are dropped.
// * finish_reason: "tool_calls" when the candidate called a function (Gemini says STOP then), else
//   finishReason mapped per §7.
// * A prompt blocked before generation (HTTP 200, promptFeedback.blockReason, no candidates) is
//   answered as one choice with finish_reason "content_filter", content null and the block reason
//   in message.refusal: the call did succeed, and that is how OpenAI reports filtered output.
//   (content_policy_fallbacks still see finish_reason; a 400 would hide the reason from clients
//   that only read errors.)
// * id: responseId when present, else the engine's id. usage from usageMetadata (readUsage).
// * An {"error":{...}} body under a 2xx status is mapped like an error answer.
#include <simdjson.h>

#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "providers/gemini/internal.hpp"

namespace llmux::providers::gemini::detail {
namespace {

GatewayError malformed(std::string_view why) {
  return malformedUpstream("gemini", why);
}

// One candidate as a choice; `position` is its place in the array.
std::optional<GatewayError> appendChoice(std::string& out, dom::element candElem, size_t position,
                                         std::string_view seed) {
  dom::object cand;
  if (candElem.get(cand) != simdjson::SUCCESS) return malformed("a candidate is not an object");
  int64_t index = static_cast<int64_t>(position);
  (void)cand["index"].get(index);
  dom::array parts;
  dom::element partsElem;
  const bool hasParts = cand["content"]["parts"].get(partsElem) == simdjson::SUCCESS;
  if (hasParts && partsElem.get(parts) != simdjson::SUCCESS) {
    return malformed("candidate content.parts is not an array");
  }
  std::string text;
  std::string reasoning;
  std::string toolCalls;
  bool haveText = false;
  bool haveReasoning = false;
  int64_t ordinal = 0;
  if (hasParts) {
    for (dom::element partElem : parts) {
      dom::object part;
      if (partElem.get(part) != simdjson::SUCCESS) return malformed("a part is not an object");
      dom::object call;
      std::string_view t;
      if (part["functionCall"].get(call) == simdjson::SUCCESS) {
        std::string_view name;
        if (call["name"].get(name) != simdjson::SUCCESS) {
          return malformed("a functionCall has no name");
        }
        std::string_view signature;
        (void)part["thoughtSignature"].get(signature);
        if (!toolCalls.empty()) toolCalls.push_back(',');
        toolCalls += R"({"id":)";
        appendToolCallId(toolCalls, seed, index, ordinal++, signature);
        toolCalls += R"(,"type":"function","function":{"name":)";
        appendJsonString(toolCalls, name);
        toolCalls += R"(,"arguments":)";
        appendJsonString(toolCalls, argumentsJson(call));
        toolCalls += "}}";
      } else if (part["text"].get(t) == simdjson::SUCCESS) {
        bool thought = false;
        (void)part["thought"].get(thought);
        (thought ? reasoning : text).append(t);
        (thought ? haveReasoning : haveText) = true;
      }
    }
  }
  std::string_view reason;
  std::string_view finish =
      cand["finishReason"].get(reason) == simdjson::SUCCESS ? finishReason(reason) : "stop";
  if (!toolCalls.empty()) finish = "tool_calls";

  out += R"({"index":)";
  fmt::format_to(std::back_inserter(out), "{}", index);
  out += R"(,"message":{"role":"assistant","content":)";
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
  out += R"(},"logprobs":)";
  dom::element lp;
  if (cand["logprobsResult"].get(lp) != simdjson::SUCCESS || !appendLogprobs(out, lp)) {
    out += "null";
  }
  out += R"(,"finish_reason":)";
  appendJsonString(out, finish);
  out.push_back('}');
  return std::nullopt;
}

}  // namespace

std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              dom::parser& parser, std::string& out, Usage& usage) {
  out.clear();
  usage = Usage{};
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return malformed("the body is not valid JSON");
  }
  dom::object resp;
  if (root.get(resp) != simdjson::SUCCESS) {
    // The streaming endpoint without alt=sse answers a JSON array of chunks; one is a response.
    dom::array arr;
    if (root.get(arr) != simdjson::SUCCESS || arr.size() != 1 ||
        arr.at(0).get(resp) != simdjson::SUCCESS) {
      return malformed("the body is not a JSON object");
    }
  }
  dom::object error;
  if (resp["error"].get(error) == simdjson::SUCCESS) return errorFromObject(0, error, std::nullopt);

  std::string_view id;
  if (resp["responseId"].get(id) != simdjson::SUCCESS || id.empty()) id = opts.id;
  dom::element usageElem;
  Usage u;
  if (resp["usageMetadata"].get(usageElem) == simdjson::SUCCESS) u = readUsage(usageElem);

  dom::element candsElem;
  dom::array cands;
  const bool hasCands = resp["candidates"].get(candsElem) == simdjson::SUCCESS;
  if (hasCands && candsElem.get(cands) != simdjson::SUCCESS) {
    return malformed("\"candidates\" is not an array");
  }
  std::string choices;
  if (!hasCands || cands.size() == 0) {
    const std::string blocked = blockedPromptMessage(resp);
    if (blocked.empty()) return malformed("the response has no candidates");
    choices = R"({"index":0,"message":{"role":"assistant","content":null,"refusal":)";
    appendJsonString(choices, blocked);
    choices += R"(},"logprobs":null,"finish_reason":"content_filter"})";
  } else {
    size_t position = 0;
    for (dom::element c : cands) {
      if (position > 0) choices.push_back(',');
      if (auto e = appendChoice(choices, c, position++, id)) return e;
    }
  }

  out.reserve(choices.size() + 384);
  out += R"({"id":)";
  appendJsonString(out, id);
  fmt::format_to(std::back_inserter(out), R"(,"object":"chat.completion","created":{},"model":)",
                 opts.created);
  appendJsonString(out, opts.clientModel);
  out += R"(,"choices":[)";
  out += choices;
  out.push_back(']');
  if (u.present) {
    out += R"(,"usage":)";
    appendUsage(out, u);
  }
  out.push_back('}');
  usage = u;
  return std::nullopt;
}

}  // namespace llmux::providers::gemini::detail
