// OpenAI tools and tool_choice as Anthropic's (wire_formats.md §2.2, §2.6); the mapping is
// summarised at the top of request.cpp.
#include <fmt/format.h>
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "providers/anthropic/request_internal.hpp"

namespace llmux::providers::anthropic::detail {
namespace {

namespace dom = simdjson::dom;

GatewayError invalid(std::string message, std::string param) {
  return GatewayError::invalidRequest(std::move(message), std::move(param));
}

}  // namespace

// One OpenAI tool (or deprecated function definition when `legacy`) as an Anthropic tool.
std::optional<GatewayError> appendTool(std::string& out, dom::element toolElem, bool legacy,
                                       size_t k, std::string_view provider) {
  const std::string path = fmt::format("{}[{}]", legacy ? "functions" : "tools", k);
  dom::object tool;
  if (toolElem.get_object().get(tool) != simdjson::SUCCESS) {
    return invalid("Each tool must be an object.", path);
  }
  dom::object fn = tool;
  if (!legacy) {
    std::string_view type = "function";
    (void)tool.at_key("type").get_string().get(type);
    if (type == "custom") {
      return GatewayError::invalidRequest(
          fmt::format("Parameter '{}' is not supported by provider '{}': custom (free-form) "
                      "tools.",
                      path, provider),
          path, "unsupported_parameter");
    }
    if (type != "function") {  // an Anthropic tool definition (server tools etc.)
      appendRaw(out, toolElem);
      return std::nullopt;
    }
    if (tool.at_key("function").get_object().get(fn) != simdjson::SUCCESS) {
      return invalid("A function tool needs a 'function' object.", path + ".function");
    }
  }
  std::string_view name;
  if (fn.at_key("name").get_string().get(name) != simdjson::SUCCESS) {
    return invalid("A tool needs a string name.", path + (legacy ? ".name" : ".function.name"));
  }
  out += R"({"name":)";
  appendJsonString(out, name);
  std::string_view description;
  if (fn.at_key("description").get_string().get(description) == simdjson::SUCCESS) {
    out += R"(,"description":)";
    appendJsonString(out, description);
  }
  out += R"(,"input_schema":)";
  dom::element params;
  if (fn.at_key("parameters").get(params) == simdjson::SUCCESS && !params.is_null()) {
    if (!params.is_object()) {
      return invalid("Tool parameters must be a JSON Schema object.",
                     path + (legacy ? ".parameters" : ".function.parameters"));
    }
    appendRaw(out, params);
  } else {
    out += R"({"type":"object","properties":{}})";
  }
  if (!appendCacheControl(out, tool) && !legacy) appendCacheControl(out, fn);
  out.push_back('}');
  return std::nullopt;
}

// tool_choice / function_call as Anthropic's object (empty when nothing is to be sent).
std::optional<GatewayError> toolChoiceOf(const std::optional<dom::element>& toolChoice,
                                         const std::optional<dom::element>& functionCall,
                                         const std::optional<dom::element>& parallelToolCalls,
                                         std::string& out) {
  std::string_view type;
  std::string_view name;
  const std::optional<dom::element>& choice = toolChoice ? toolChoice : functionCall;
  const char* param = toolChoice ? "tool_choice" : "function_call";
  if (choice) {
    std::string_view s;
    if (choice->get_string().get(s) == simdjson::SUCCESS) {
      if (s == "auto") {
        type = "auto";
      } else if (s == "none") {
        type = "none";
      } else if (s == "required" && toolChoice) {
        type = "any";
      } else {
        return invalid(fmt::format("Unknown {} '{}'.", param, s), param);
      }
    } else if (toolChoice) {
      if ((*choice)["function"]["name"].get_string().get(name) != simdjson::SUCCESS) {
        return invalid("tool_choice must be auto, none, required or a named function.", param);
      }
      type = "tool";
    } else if ((*choice)["name"].get_string().get(name) == simdjson::SUCCESS) {
      type = "tool";
    } else {
      return invalid("function_call must be auto, none or {\"name\": ...}.", param);
    }
  }
  bool parallel = true;
  if (parallelToolCalls && parallelToolCalls->get_bool().get(parallel) != simdjson::SUCCESS) {
    return invalid("parallel_tool_calls must be a boolean.", "parallel_tool_calls");
  }
  if (type.empty() && parallel) return std::nullopt;
  if (type.empty()) type = "auto";
  out = R"({"type":")";
  out += type;
  out.push_back('"');
  if (type == "tool") {
    out += R"(,"name":)";
    appendJsonString(out, name);
  }
  // "none" takes no disable_parallel_tool_use.
  if (!parallel && type != "none") out += R"(,"disable_parallel_tool_use":true)";
  out.push_back('}');
  return std::nullopt;
}

}  // namespace llmux::providers::anthropic::detail
