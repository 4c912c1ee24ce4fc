// OpenAI chat.completion → Anthropic Message (wire_formats.md §1.4 → §2.3, §2.6 reverse direction).
//
//   id                      → "msg_" + the id without "chatcmpl-" (bytes outside [A-Za-z0-9_-]
//                             become '_'; RequestInfo::idFallback when there is none)
//   reasoning_content       → a thinking block {thinking, signature:""} first, only when the client
//     (or "reasoning")        enabled thinking (a client that did not ask expects text first)
//   content (or refusal)    → one text block {"type":"text","text":..,"citations":null}
//   tool_calls[]            → tool_use blocks; arguments parsed into "input". Arguments that are
//                             empty, not JSON, or not an object give input {}: Anthropic's input is
//                             an object and a made-up key would reach the tool as a parameter. The
//                             tool then reports the missing parameters and the model retries.
//   finish_reason           → stop_reason (stopReasonFor; a refusal with "stop" → "refusal")
//   usage                   → input_tokens = prompt − cached − cache_write, output_tokens =
//                             completion, cache_read_input_tokens = cached,
//                             cache_creation_input_tokens =
//                             prompt_tokens_details.cache_write_tokens (0 when absent). The
//                             gateway's own Anthropic adapter reports cache writes there, so
//                             Anthropic usage survives the round trip.
// stop_sequence is always null: OpenAI does not say which stop sequence matched (nor whether one
// did), so a stop is reported as end_turn.
#include <simdjson.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "messages_api/internal.hpp"
#include "messages_api/messages_api.hpp"

namespace llmux::messages_api {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

GatewayError protocolError(std::string_view why) {
  return GatewayError::badGateway(fmt::format("Upstream sent an invalid chat completion: {}.", why),
                                  "upstream_protocol_error");
}

// Text of a message's content: a string, or (lenient) an array of text parts.
std::string contentText(dom::element message) {
  dom::element c;
  if (message["content"].get(c) != SUCCESS) return {};
  std::string_view s;
  if (c.get_string().get(s) == SUCCESS) return std::string(s);
  std::string text;
  dom::array parts;
  if (c.get_array().get(parts) == SUCCESS) {
    for (dom::element p : parts) {
      if (p.is_object() && detail::stringOr(p, "type") == "text")
        text += detail::stringOr(p, "text");
    }
  }
  return text;
}

void appendUsage(std::string& out, dom::element doc) {
  int64_t prompt = 0, completion = 0, cached = 0, cacheWrite = 0;
  dom::element usage;
  if (doc["usage"].get(usage) == SUCCESS && usage.is_object()) {
    prompt = detail::readCount(usage, "prompt_tokens");
    completion = detail::readCount(usage, "completion_tokens");
    dom::element details;
    if (usage["prompt_tokens_details"].get(details) == SUCCESS && details.is_object()) {
      cached = detail::readCount(details, "cached_tokens");
      cacheWrite = detail::readCount(details, "cache_write_tokens");
    }
  }
  const int64_t input = std::max<int64_t>(0, prompt - cached - cacheWrite);
  fmt::format_to(std::back_inserter(out),
                 R"({{"input_tokens":{},"output_tokens":{},"cache_read_input_tokens":{},)"
                 R"("cache_creation_input_tokens":{}}})",
                 input, completion, cached, cacheWrite);
}

}  // namespace

std::string_view stopReasonFor(std::string_view finishReason, bool hadToolUse) {
  if (finishReason == "length") return "max_tokens";
  if (finishReason == "tool_calls" || finishReason == "function_call") return "tool_use";
  if (finishReason == "content_filter") return "refusal";
  // "stop", null and unknown reasons: the turn ended. Some hosts say "stop" after tool calls.
  return hadToolUse ? "tool_use" : "end_turn";
}

std::optional<GatewayError> fromOpenAIResponse(std::string_view openaiBody, const RequestInfo& info,
                                               simdjson::dom::parser& parser, std::string& out) {
  out.clear();
  dom::element doc;
  if (parser.parse(openaiBody).get(doc) != SUCCESS) return protocolError("the body is not JSON");
  if (!doc.is_object()) return protocolError("the body is not a JSON object");

  dom::element err;
  if (doc["error"].get(err) == SUCCESS && !err.is_null()) {
    GatewayError e = GatewayError::badGateway("", "upstream_error");
    std::string_view s;
    if (err.get_string().get(s) == SUCCESS) {
      e.message = s;
    } else {
      e.message = detail::stringOr(err, "message", "Upstream returned an error.");
      const std::string_view type = detail::stringOr(err, "type");
      if (!type.empty()) e.type = type;
      const std::string_view code = detail::stringOr(err, "code");
      if (!code.empty()) e.code = std::string(code);
    }
    return e;
  }

  dom::array choices;
  if (doc["choices"].get_array().get(choices) != SUCCESS) {
    return protocolError("\"choices\" is missing");
  }
  // The first choice with index 0 (or without an index); clients of Messages get one answer.
  dom::element choice;
  bool found = false;
  for (dom::element c : choices) {
    int64_t idx = 0;
    if (!c.is_object()) continue;
    if (c["index"].get_int64().get(idx) != SUCCESS) idx = 0;
    if (idx == 0) {
      choice = c;
      found = true;
      break;
    }
  }
  if (!found) return protocolError("no choice with index 0");
  dom::element message;
  if (choice["message"].get(message) != SUCCESS || !message.is_object()) {
    return protocolError("the choice has no message");
  }

  const std::string id = detail::messageIdFrom(detail::stringOr(doc, "id"), info.idFallback);
  out.reserve(openaiBody.size() + 256);
  out += R"({"id":)";
  appendJsonString(out, id);
  out += R"(,"type":"message","role":"assistant","model":)";
  appendJsonString(out, info.model);
  out += R"(,"content":[)";
  bool first = true;
  auto beginBlock = [&] {
    if (!first) out.push_back(',');
    first = false;
  };

  if (info.thinking) {
    std::string_view reasoning = detail::stringOr(message, "reasoning_content");
    if (reasoning.empty()) reasoning = detail::stringOr(message, "reasoning");
    if (!reasoning.empty()) {
      beginBlock();
      out += R"({"type":"thinking","thinking":)";
      appendJsonString(out, reasoning);
      out += R"(,"signature":""})";
    }
  }

  std::string text = contentText(message);
  const std::string_view refusal = detail::stringOr(message, "refusal");
  const bool refused = text.empty() && !refusal.empty();
  if (refused) text = refusal;
  if (!text.empty()) {
    beginBlock();
    out += R"({"type":"text","text":)";
    appendJsonString(out, text);
    out += R"(,"citations":null})";
  }

  int64_t toolCount = 0;
  dom::array calls;
  if (message["tool_calls"].get_array().get(calls) == SUCCESS) {
    dom::parser argParser;
    for (dom::element call : calls) {
      if (!call.is_object()) continue;
      dom::element fn;
      if (call["function"].get(fn) != SUCCESS || !fn.is_object()) continue;
      beginBlock();
      out += R"({"type":"tool_use","id":)";
      appendJsonString(out, detail::toolIdFrom(detail::stringOr(call, "id"), id, toolCount));
      out += R"(,"name":)";
      appendJsonString(out, detail::stringOr(fn, "name"));
      out += R"(,"input":)";
      dom::element input;
      const std::string_view args = detail::stringOr(fn, "arguments");
      if (!args.empty() && argParser.parse(args).get(input) == SUCCESS && input.is_object()) {
        out += simdjson::to_string(input);
      } else {
        out += "{}";
      }
      out.push_back('}');
      ++toolCount;
    }
  }
  out += "]";

  const std::string_view finish = detail::stringOr(choice, "finish_reason");
  std::string_view stop = stopReasonFor(finish, toolCount > 0);
  if (refused && stop == "end_turn") stop = "refusal";
  fmt::format_to(std::back_inserter(out), R"(,"stop_reason":"{}","stop_sequence":null,"usage":)",
                 stop);
  appendUsage(out, doc);
  out += "}";
  return std::nullopt;
}

}  // namespace llmux::messages_api
