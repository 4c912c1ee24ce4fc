// OpenAI tools / functions and tool_choice / function_call as Gemini "tools" and "toolConfig"
// (wire_formats.md §3.2, §3.7). See request.cpp for the mapping decisions; in short:
// * function tools → functionDeclarations {name, description, parametersJsonSchema} (JSON Schema
//   as sent, minus a top-level "$schema"; an empty {} schema means no parameters and is omitted);
// * tool_choice auto/none/required → mode AUTO/NONE/ANY; {"type":"function"} → ANY +
//   allowedFunctionNames [name]; allowed_tools → the declarations narrowed to the listed functions,
//   mode AUTO ("auto") or ANY ("required");
// * native Gemini tool objects (entries without "type") are passed through as they are;
// * other tool types (custom) have no Gemini form: dropped under drop_params, else a 400.
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"
#include "providers/gemini/internal.hpp"

namespace llmux::providers::gemini::detail {
namespace {

bool isNull(const std::optional<dom::element>& e) {
  return !e || e->is_null();
}

// Native Gemini tool objects a client may put in `tools` (LiteLLM accepts these too).
bool isNativeToolKey(std::string_view k) {
  return k == "googleSearch" || k == "google_search" || k == "googleSearchRetrieval" ||
         k == "google_search_retrieval" || k == "codeExecution" || k == "code_execution" ||
         k == "urlContext" || k == "url_context" || k == "googleMaps" || k == "google_maps";
}

}  // namespace

void appendSchema(std::string& out, dom::object schema) {
  out.push_back('{');
  bool first = true;
  for (dom::key_value_pair field : schema) {
    if (field.key == "$schema") continue;
    if (!first) out.push_back(',');
    first = false;
    appendJsonString(out, field.key);
    out.push_back(':');
    out += simdjson::to_string(field.value);
  }
  out.push_back('}');
}

namespace {

class Tools {
 public:
  Tools(Api api, bool dropParams, const ToolParams& in, ToolsBody& out,
        std::vector<std::string>& dropped)
      : api_(api), dropParams_(dropParams), p_(in), out_(out), dropped_(dropped) {}

  std::optional<GatewayError> run() {
    // tool_choice first: allowed_tools narrows the declarations.
    if (auto e = buildToolChoice()) return e;
    return buildTools();
  }

 private:
  std::optional<GatewayError> unsupported(std::string_view param, std::string_view detail = {}) {
    if (dropParams_) {
      dropped_.emplace_back(param);
      return std::nullopt;
    }
    return unsupportedParam(param, providerName(api_), detail);
  }
  std::optional<GatewayError> addFunction(dom::element fn, std::string_view param);
  std::optional<GatewayError> buildTools();
  std::optional<GatewayError> buildToolChoice();

  Api api_;
  bool dropParams_;
  const ToolParams& p_;
  ToolsBody& out_;
  std::vector<std::string>& dropped_;
  // Function names tool_choice allowed_tools restricts the declarations to.
  std::vector<std::string_view> allowed_;
  bool restrictToAllowed_ = false;
};

std::optional<GatewayError> Tools::addFunction(dom::element fnElem, std::string_view param) {
  dom::object fn;
  if (fnElem.get(fn) != simdjson::SUCCESS) return badType(param, "an object");
  std::string_view name;
  if (fn["name"].get(name) != simdjson::SUCCESS || name.empty()) {
    return badValue(std::string(param) + ".name", "a function name is required");
  }
  if (restrictToAllowed_) {
    bool found = false;
    for (std::string_view a : allowed_) found = found || a == name;
    if (!found) return std::nullopt;
  }
  if (!out_.declarations.empty()) out_.declarations.push_back(',');
  out_.declarations += R"({"name":)";
  appendJsonString(out_.declarations, name);
  dom::element descElem;
  std::string_view desc;
  if (fn["description"].get(descElem) == simdjson::SUCCESS && !descElem.is_null()) {
    if (descElem.get(desc) != simdjson::SUCCESS) {
      return badType(std::string(param) + ".description", "a string");
    }
    out_.declarations += R"(,"description":)";
    appendJsonString(out_.declarations, desc);
  }
  dom::element paramsElem;
  if (fn["parameters"].get(paramsElem) == simdjson::SUCCESS && !paramsElem.is_null()) {
    dom::object schema;
    if (paramsElem.get(schema) != simdjson::SUCCESS) {
      return badType(std::string(param) + ".parameters", "a JSON Schema object");
    }
    if (schema.size() > 0) {  // {} means "no parameters", which Gemini spells by omission
      out_.declarations += R"(,"parametersJsonSchema":)";
      appendSchema(out_.declarations, schema);
    }
  }
  out_.declarations.push_back('}');
  return std::nullopt;
}

std::optional<GatewayError> Tools::buildTools() {
  if (!isNull(p_.tools)) {
    dom::array tools;
    if (p_.tools->get(tools) != simdjson::SUCCESS) return badType("tools", "an array");
    size_t i = 0;
    for (dom::element toolElem : tools) {
      const std::string param = fmt::format("tools[{}]", i++);
      dom::object tool;
      if (toolElem.get(tool) != simdjson::SUCCESS) return badType(param, "an object");
      std::string_view type;
      dom::element typeElem;
      if (tool["type"].get(typeElem) != simdjson::SUCCESS) {
        // No "type": a native Gemini tool object ({"googleSearch":{}}), passed through.
        bool native = tool.size() == 1;
        for (dom::key_value_pair f : tool) native = native && isNativeToolKey(f.key);
        if (!native) return badValue(param + ".type", "a tool type is required");
        if (!out_.nativeTools.empty()) out_.nativeTools.push_back(',');
        out_.nativeTools += simdjson::to_string(toolElem);
        continue;
      }
      if (typeElem.get(type) != simdjson::SUCCESS) return badType(param + ".type", "a string");
      if (type != "function") {
        if (auto e = unsupported(param, fmt::format("tool type '{}' has no Gemini form", type))) {
          return e;
        }
        continue;
      }
      dom::element fn;
      if (tool["function"].get(fn) != simdjson::SUCCESS) {
        return badValue(param + ".function", "a function definition is required");
      }
      if (auto e = addFunction(fn, param + ".function")) return e;
    }
  }
  if (!isNull(p_.functions)) {  // the deprecated predecessor of tools
    dom::array fns;
    if (p_.functions->get(fns) != simdjson::SUCCESS) return badType("functions", "an array");
    size_t i = 0;
    for (dom::element fn : fns) {
      if (auto e = addFunction(fn, fmt::format("functions[{}]", i++))) return e;
    }
  }
  return std::nullopt;
}

// tool_choice (or the deprecated function_call) → toolConfig.functionCallingConfig. Runs before
// buildTools because allowed_tools narrows the declarations.
std::optional<GatewayError> Tools::buildToolChoice() {
  const bool legacy = isNull(p_.toolChoice) && !isNull(p_.functionCall);
  const std::optional<dom::element>& choice = legacy ? p_.functionCall : p_.toolChoice;
  const std::string_view param = legacy ? "function_call" : "tool_choice";
  if (isNull(choice)) return std::nullopt;
  auto config = [&](std::string_view mode, const std::vector<std::string_view>& names) {
    out_.toolConfig = R"({"mode":")";
    out_.toolConfig += mode;
    out_.toolConfig.push_back('"');
    if (!names.empty()) {
      out_.toolConfig += R"(,"allowedFunctionNames":[)";
      for (size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out_.toolConfig.push_back(',');
        appendJsonString(out_.toolConfig, names[i]);
      }
      out_.toolConfig.push_back(']');
    }
    out_.toolConfig.push_back('}');
  };
  std::string_view s;
  if (choice->get(s) == simdjson::SUCCESS) {
    if (s == "auto") {
      config("AUTO", {});
    } else if (s == "none") {
      config("NONE", {});
    } else if (s == "required" && !legacy) {
      config("ANY", {});
    } else {
      return badValue(param, legacy ? R"(expected "none", "auto" or {"name": ...})"
                                    : R"(expected "none", "auto", "required" or an object)");
    }
    return std::nullopt;
  }
  dom::object obj;
  if (choice->get(obj) != simdjson::SUCCESS) return badType(param, "a string or an object");
  std::string_view name;
  if (legacy) {
    if (obj["name"].get(name) != simdjson::SUCCESS) return badValue(param, "a name is required");
    config("ANY", {name});
    return std::nullopt;
  }
  std::string_view type;
  if (obj["type"].get(type) != simdjson::SUCCESS) return badValue(param, "a type is required");
  if (type == "function") {
    if (obj["function"]["name"].get(name) != simdjson::SUCCESS) {
      return badValue("tool_choice.function.name", "a function name is required");
    }
    config("ANY", {name});
    return std::nullopt;
  }
  if (type == "allowed_tools") {
    dom::object allowed;
    std::string_view mode = "auto";
    if (obj["allowed_tools"].get(allowed) != simdjson::SUCCESS) {
      return badValue("tool_choice.allowed_tools", "an object is required");
    }
    dom::element modeElem;
    if (allowed["mode"].get(modeElem) == simdjson::SUCCESS &&
        (modeElem.get(mode) != simdjson::SUCCESS || (mode != "auto" && mode != "required"))) {
      return badValue("tool_choice.allowed_tools.mode", R"(expected "auto" or "required")");
    }
    dom::array list;
    if (allowed["tools"].get(list) != simdjson::SUCCESS) {
      return badValue("tool_choice.allowed_tools.tools", "an array is required");
    }
    for (dom::element t : list) {
      if (t["function"]["name"].get(name) == simdjson::SUCCESS) allowed_.push_back(name);
    }
    // The declarations are narrowed to the allowed functions; "required" also forces a call.
    restrictToAllowed_ = true;
    config(mode == "required" ? "ANY" : "AUTO", {});
    return std::nullopt;
  }
  return unsupported("tool_choice", fmt::format("tool_choice type '{}' has no Gemini form", type));
}

}  // namespace

std::optional<GatewayError> buildTools(Api api, bool dropParams, const ToolParams& in,
                                       ToolsBody& out, std::vector<std::string>& dropped) {
  Tools t(api, dropParams, in, out, dropped);
  return t.run();
}

}  // namespace llmux::providers::gemini::detail
