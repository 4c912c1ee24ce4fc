// OpenAI tools and tool_choice → Converse toolConfig (wire_formats.md §4.3, §4.7).
//
//   tools[].function {name, description, parameters} → toolSpec {name, description (omitted when
//       empty), inputSchema:{json: parameters, or an empty object schema}}; other tool types are
//       unsupported. "strict" is not forwarded (only some Bedrock models accept toolSpec.strict).
//   tool_choice "auto" / "required" / {"type":"function"} → {auto:{}} / {any:{}} / {tool:{name}}
//   tool_choice "none" → no toolConfig at all (Converse has no "none"), which only works while the
//       conversation holds no toolUse/toolResult blocks; with them Bedrock requires toolConfig, so
//       "none" is unsupported (dropped with drop_params, leaving the model free to call a tool).
#include <simdjson.h>

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "providers/bedrock/request_internal.hpp"

namespace llmux::providers::bedrock::detail {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

std::optional<GatewayError> readTools(dom::element v, const DropContext& ctx, std::string& out) {
  if (v.is_null()) return std::nullopt;
  dom::array arr;
  if (v.get_array().get(arr) != SUCCESS) return badValue("tools", "must be an array");
  size_t i = 0;
  for (dom::element tool : arr) {
    const std::string path = fmt::format("tools[{}]", i++);
    std::string_view type = "function";
    dom::element typeElem;
    if (tool["type"].get(typeElem) == SUCCESS && typeElem.get_string().get(type) != SUCCESS) {
      return badValue(path + ".type", "must be a string");
    }
    if (type != "function") {
      if (auto err = ctx.unsupported(path, fmt::format("tools of type '{}' have no Converse form; "
                                                       "only function tools are supported",
                                                       type))) {
        return err;
      }
      continue;
    }
    dom::element fn;
    std::string_view name;
    if (tool["function"].get(fn) != SUCCESS || !fn.is_object() ||
        fn["name"].get_string().get(name) != SUCCESS || name.empty()) {
      return badValue(path + ".function.name", "a function tool needs a non-empty name");
    }
    if (!out.empty()) out.push_back(',');
    out += R"({"toolSpec":{"name":)";
    appendJsonString(out, name);
    std::string_view description;
    if (fn["description"].get_string().get(description) == SUCCESS && !description.empty()) {
      out += R"(,"description":)";
      appendJsonString(out, description);
    }
    out += R"(,"inputSchema":{"json":)";
    dom::element params;
    if (fn["parameters"].get(params) == SUCCESS && !params.is_null()) {
      if (!params.is_object()) return badValue(path + ".function.parameters", "must be an object");
      out += simdjson::to_string(params);
    } else {
      out += R"({"type":"object","properties":{}})";  // Converse requires a schema
    }
    out += "}}}";
  }
  return std::nullopt;
}

std::optional<GatewayError> readToolChoice(dom::element v, const DropContext& ctx, bool toolHistory,
                                           ToolChoice& tc) {
  if (v.is_null()) return std::nullopt;
  std::string_view s;
  if (v.get_string().get(s) == SUCCESS) {
    if (s == "auto") {
      tc.json = R"({"auto":{}})";
    } else if (s == "required") {
      tc.json = R"({"any":{}})";
      tc.needsTools = true;
    } else if (s == "none") {
      if (!toolHistory) {
        tc.none = true;  // no toolConfig at all: the model cannot call a tool
        return std::nullopt;
      }
      return ctx.unsupported("tool_choice",
                             "Converse has no 'none' tool choice, and it requires the tool "
                             "definitions whenever the conversation holds tool calls or results, "
                             "so the model could not be kept from calling a tool");
    } else {
      return badValue("tool_choice", "must be 'none', 'auto', 'required' or a function choice");
    }
    return std::nullopt;
  }
  std::string_view type;
  if (v["type"].get_string().get(type) != SUCCESS) {
    return badValue("tool_choice", "an object choice needs a string 'type'");
  }
  if (type != "function") {
    return ctx.unsupported("tool_choice",
                           fmt::format("tool_choice type '{}' has no Converse form", type));
  }
  std::string_view name;
  if (v["function"]["name"].get_string().get(name) != SUCCESS || name.empty()) {
    return badValue("tool_choice.function.name", "must be a non-empty string");
  }
  tc.json = R"({"tool":{"name":)";
  appendJsonString(tc.json, name);
  tc.json += "}}";
  tc.needsTools = true;
  return std::nullopt;
}

}  // namespace llmux::providers::bedrock::detail
