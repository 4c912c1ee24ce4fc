// Anthropic Messages request → OpenAI chat request (wire_formats.md §2.2 → §1.2, §1.3).
//
// Decisions worth knowing:
// * system (string, or text blocks) becomes the first message. Text blocks are joined with a blank
//   line unless one carries cache_control; then they stay text parts with cache_control kept
//   (LiteLLM's convention), so an Anthropic-backed deployment can still place its cache breakpoint.
// * cache_control on text, image and document blocks is kept on the OpenAI part it becomes (and
//   on a tool message's text part), as LiteLLM does; Anthropic-backed deployments need it to cache.
// * A user turn's tool_result blocks become role "tool" messages, emitted before the rest of the
//   turn (OpenAI needs them right after the assistant's tool_calls). Their text blocks are joined
//   with "\n"; is_error adds an "Error: " prefix (OpenAI has no error flag); images and documents
//   in a result cannot live in a tool message, so they follow in the turn's user message behind a
//   short text part naming the tool_use_id.
// * thinking / redacted_thinking blocks in history are dropped: OpenAI messages have no place for
//   them and their signatures only mean something to Anthropic. Anthropic rejects a tool loop
//   whose last assistant turn lost its thinking blocks while thinking is on, so a request that
//   continues a tool loop (last message is a user turn with tool_result blocks) is sent without
//   the "thinking" member (RequestInfo::thinkingSuppressed). reasoning_effort stays: reasoning
//   models elsewhere keep their effort, and an Anthropic adapter meets the same history from
//   plain OpenAI clients, so it must already leave thinking off for such a loop.
// * thinking {enabled, budget_tokens} → reasoning_effort (effortForBudget) and the original object
//   as a "thinking" member (Anthropic-backed deployments honour the exact budget); adaptive →
//   "thinking" plus reasoning_effort only when output_config.effort names one.
// * Anthropic-defined tools (web_search_*, bash_*, text_editor_*, code_execution_*, ...) run on
//   Anthropic's side or need Anthropic's built-in schemas: a 400 names the tool type.
// * A URL or Files-API document source has no OpenAI equivalent (file parts take data only): 400.
// * Unknown top-level members (service_tier, container, context_management, ...) are ignored.
#include <simdjson.h>

#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "messages_api/request_internal.hpp"

namespace llmux::messages_api {
namespace {

using namespace detail;  // NOLINT: the request translator's own helpers

MaybeError appendNumber(std::string& out, dom::element req, std::string_view key,
                        std::string_view outKey, bool integerOnly) {
  dom::element v;
  if (!member(req, key, v)) return std::nullopt;
  const bool ok = integerOnly ? (v.is_int64() || v.is_uint64()) : v.is_number();
  if (!ok) {
    return bad(std::string(key),
               integerOnly ? "Input should be a valid integer" : "Input should be a valid number");
  }
  fmt::format_to(std::back_inserter(out), R"(,"{}":)", outKey);
  appendRaw(out, v);
  return std::nullopt;
}

MaybeError appendTools(dom::element req, std::string& out, size_t& toolCount) {
  dom::element v;
  toolCount = 0;
  if (!member(req, "tools", v)) return std::nullopt;
  dom::array tools;
  if (v.get_array().get(tools) != SUCCESS) return bad("tools", "Input should be a valid list");
  std::string list;
  size_t i = 0;
  for (dom::element tool : tools) {
    const std::string p = at("tools", i++);
    if (!tool.is_object()) return bad(p, "Input should be an object");
    dom::element t;
    std::string_view type;
    if (member(tool, "type", t) && (t.get_string().get(type) != SUCCESS || type != "custom")) {
      return bad(p + ".type",
                 fmt::format("tool type '{}' is an Anthropic-defined tool; only custom tools "
                             "(name, description, input_schema) can be served through this "
                             "endpoint",
                             type.empty() ? simdjson::to_string(t) : std::string(type)));
    }
    std::string_view name;
    if (auto e = requireString(tool, "name", p, name)) return e;
    if (name.empty()) return bad(p + ".name", "String should have at least 1 character");
    dom::element schema;
    if (!member(tool, "input_schema", schema)) return bad(p + ".input_schema", "Field required");
    if (!schema.is_object()) return bad(p + ".input_schema", "Input should be an object");
    comma(list);
    list += R"({"type":"function","function":{"name":)";
    appendJsonString(list, name);
    std::string_view description;
    if (tool["description"].get_string().get(description) == SUCCESS) {
      list += R"(,"description":)";
      appendJsonString(list, description);
    }
    list += R"(,"parameters":)";
    appendRaw(list, schema);
    bool strict = false;
    if (tool["strict"].get_bool().get(strict) == SUCCESS) {
      list += strict ? R"(,"strict":true)" : R"(,"strict":false)";
    }
    list += "}}";
    ++toolCount;
  }
  if (toolCount > 0) out += R"(,"tools":[)" + list + "]";
  return std::nullopt;
}

MaybeError appendToolChoice(dom::element req, std::string& out, size_t toolCount) {
  dom::element v;
  if (!member(req, "tool_choice", v)) return std::nullopt;
  if (!v.is_object()) return bad("tool_choice", "Input should be an object");
  const std::string_view type = detail::stringOr(v, "type");
  bool disableParallel = false;
  dom::element dp;
  if (member(v, "disable_parallel_tool_use", dp) && dp.get_bool().get(disableParallel) != SUCCESS) {
    return bad("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean");
  }
  std::string choice;
  if (type == "auto") {
    choice = R"("auto")";
  } else if (type == "any") {
    choice = R"("required")";
  } else if (type == "none") {
    choice = R"("none")";
    disableParallel = false;
  } else if (type == "tool") {
    std::string_view name;
    if (auto e = requireString(v, "name", "tool_choice", name)) return e;
    choice = R"({"type":"function","function":{"name":)";
    appendJsonString(choice, name);
    choice += "}}";
  } else {
    return bad("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'");
  }
  // OpenAI rejects tool_choice and parallel_tool_calls without tools; a forced choice without
  // tools cannot be honoured at all.
  if (toolCount == 0) {
    if (type == "any" || type == "tool") {
      return bad("tool_choice", "tool_choice requires tools to be defined");
    }
    return std::nullopt;
  }
  out += R"(,"tool_choice":)" + choice;
  if (disableParallel) out += R"(,"parallel_tool_calls":false)";
  return std::nullopt;
}

std::string_view effortFromOutputConfig(std::string_view effort) {
  if (effort == "low" || effort == "medium" || effort == "high") return effort;
  if (effort == "xhigh" || effort == "max") return "high";  // the common ceiling across hosts
  return {};
}

// thinking + output_config → reasoning_effort, "thinking", response_format.
MaybeError appendReasoning(dom::element req, std::string& out, RequestInfo& info,
                           bool suppressThinking) {
  std::string_view effort;
  std::string thinkingRaw;
  dom::element v;
  if (member(req, "thinking", v)) {
    if (!v.is_object()) return bad("thinking", "Input should be an object");
    const std::string_view type = detail::stringOr(v, "type");
    if (type == "enabled") {
      dom::element b;
      int64_t budget = 0;
      if (!member(v, "budget_tokens", b)) return bad("thinking.budget_tokens", "Field required");
      if (b.get_int64().get(budget) != SUCCESS || budget < 1) {
        return bad("thinking.budget_tokens", "Input should be a positive integer");
      }
      info.thinking = true;
      info.thinkingBudget = budget;
      effort = effortForBudget(budget);
      thinkingRaw = simdjson::to_string(v);
    } else if (type == "adaptive") {
      info.thinking = true;
      thinkingRaw = simdjson::to_string(v);
    } else if (type != "disabled") {
      return bad("thinking.type", "Input should be 'enabled', 'disabled' or 'adaptive'");
    }
  }
  std::string format;
  dom::element oc;
  if (member(req, "output_config", oc)) {
    if (!oc.is_object()) return bad("output_config", "Input should be an object");
    dom::element e;
    if (member(oc, "effort", e)) {
      std::string_view s;
      if (e.get_string().get(s) != SUCCESS || effortFromOutputConfig(s).empty()) {
        return bad("output_config.effort",
                   "Input should be 'low', 'medium', 'high', 'xhigh' or "
                   "'max'");
      }
      if (effort.empty()) effort = effortFromOutputConfig(s);
    }
    dom::element f;
    if (member(oc, "format", f)) {
      dom::element schema;
      if (!f.is_object() || detail::stringOr(f, "type") != "json_schema") {
        return bad("output_config.format.type", "Input should be 'json_schema'");
      }
      if (!member(f, "schema", schema) || !schema.is_object()) {
        return bad("output_config.format.schema", "Field required");
      }
      format = R"(,"response_format":{"type":"json_schema","json_schema":{"name":"output",)"
               R"("strict":true,"schema":)" +
               simdjson::to_string(schema) + "}}";
    }
  }
  if (!effort.empty())
    fmt::format_to(std::back_inserter(out), R"(,"reasoning_effort":"{}")", effort);
  if (suppressThinking && info.thinking) {
    info.thinkingSuppressed = true;
  } else if (!thinkingRaw.empty()) {
    out += R"(,"thinking":)" + thinkingRaw;
  }
  out += format;
  return std::nullopt;
}

MaybeError translate(dom::element req, std::string& out, RequestInfo& info) {
  if (!req.is_object()) return bad("body", "Input should be a JSON object");
  std::string_view model;
  if (req["model"].get_string().get(model) != SUCCESS || model.empty()) {
    return bad("model", "Field required");
  }
  info.model = model;

  dom::element v;
  int64_t maxTokens = 0;
  if (!member(req, "max_tokens", v)) return bad("max_tokens", "Field required");
  if (v.get_int64().get(maxTokens) != SUCCESS) {
    return bad("max_tokens", "Input should be a valid integer");
  }
  if (maxTokens < 1) return bad("max_tokens", "Input should be greater than or equal to 1");
  info.maxTokens = maxTokens;

  if (member(req, "stream", v) && v.get_bool().get(info.stream) != SUCCESS) {
    return bad("stream", "Input should be a valid boolean");
  }

  dom::array messages;
  if (!member(req, "messages", v)) return bad("messages", "Field required");
  if (v.get_array().get(messages) != SUCCESS)
    return bad("messages", "Input should be a valid list");
  if (messages.size() == 0) return bad("messages", "at least one message is required");

  out += R"({"model":)";
  appendJsonString(out, model);
  out += R"(,"messages":[)";
  std::string body;
  Ctx ctx{body, info};
  if (member(req, "system", v)) {
    if (auto e = convertSystem(v, "system", ctx)) return e;
  }
  const size_t systemCount = ctx.count;
  size_t i = 0;
  for (dom::element m : messages) {
    if (auto e = convertMessage(m, at("messages", i++), ctx)) return e;
  }
  if (ctx.count == systemCount) {
    return bad("messages", "no message has content the model can read");
  }
  out += body;
  out += "]";
  fmt::format_to(std::back_inserter(out), R"(,"max_tokens":{})", maxTokens);

  if (member(req, "stop_sequences", v)) {
    dom::array stops;
    if (v.get_array().get(stops) != SUCCESS) {
      return bad("stop_sequences", "Input should be a valid list");
    }
    std::string list;
    size_t k = 0;
    for (dom::element s : stops) {
      std::string_view str;
      if (s.get_string().get(str) != SUCCESS) {
        return bad(at("stop_sequences", k), "Input should be a valid string");
      }
      ++k;
      comma(list);
      appendJsonString(list, str);
    }
    if (!list.empty()) out += R"(,"stop":[)" + list + "]";
  }
  if (auto e = appendNumber(out, req, "temperature", "temperature", false)) return e;
  if (auto e = appendNumber(out, req, "top_p", "top_p", false)) return e;
  if (auto e = appendNumber(out, req, "top_k", "top_k", true)) return e;

  if (member(req, "metadata", v)) {
    if (!v.is_object()) return bad("metadata", "Input should be an object");
    dom::element u;
    std::string_view user;
    if (member(v, "user_id", u)) {
      if (u.get_string().get(user) != SUCCESS) {
        return bad("metadata.user_id", "Input should be a valid string");
      }
      if (!user.empty()) {
        out += R"(,"user":)";
        appendJsonString(out, user);
      }
    }
  }

  size_t toolCount = 0;
  if (auto e = appendTools(req, out, toolCount)) return e;
  if (auto e = appendToolChoice(req, out, toolCount)) return e;

  if (member(req, "mcp_servers", v)) {
    dom::array arr;
    if (v.get_array().get(arr) != SUCCESS || arr.size() > 0) {
      return bad("mcp_servers", "MCP connectors are not supported on this endpoint");
    }
  }

  if (auto e = appendReasoning(req, out, info, continuesToolLoop(messages))) return e;

  if (info.stream) out += R"(,"stream":true,"stream_options":{"include_usage":true})";
  out += "}";
  return std::nullopt;
}

}  // namespace

std::string_view effortForBudget(int64_t budgetTokens) {
  if (budgetTokens < 2048) return "low";
  if (budgetTokens < 4096) return "medium";
  return "high";
}

std::optional<GatewayError> toOpenAIRequest(simdjson::dom::element anthropicReq, std::string& out,
                                            RequestInfo& info) {
  out.clear();
  std::string idFallback = std::move(info.idFallback);
  info = RequestInfo{};
  if (!idFallback.empty()) info.idFallback = std::move(idFallback);
  auto err = translate(anthropicReq, out, info);
  if (err) out.clear();
  return err;
}

}  // namespace llmux::messages_api
