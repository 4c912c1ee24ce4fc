// OpenAI messages and tools in Cohere v2 form (wire_formats.md §1.3, §6.3).
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "common/error.hpp"
#include "providers/cohere/request_internal.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::cohere {
namespace {

namespace dom = simdjson::dom;

// What a message's content parts may hold in Cohere: every role takes text; only user messages
// take images.
enum class Parts { Text, TextAndImages };

GatewayError badShape(std::string path, std::string_view what) {
  std::string message = fmt::format("'{}' {}.", path, what);
  return GatewayError::invalidRequest(std::move(message), std::move(path));
}

GatewayError noCohereForm(const std::string& path, std::string_view type) {
  return unsupportedParam(path, kProvider,
                          fmt::format("content part type '{}' has no Cohere form", type));
}

// Appends {"type":"image_url","image_url":{"url":...,"detail":...}}. Cohere takes base64 data URLs
// and http(s) URLs alike in image_url.url (and fetches the latter itself), so both pass as they
// are.
std::optional<GatewayError> appendImagePart(std::string& body, dom::element part,
                                            const std::string& path) {
  dom::element image;
  if (part["image_url"].get(image) != simdjson::SUCCESS) {
    return badShape(path + ".image_url", "is required");
  }
  std::string_view url;
  std::string_view detail;
  bool haveDetail = false;
  if (image.get_string().get(url) != simdjson::SUCCESS) {  // some clients send the bare URL
    if (image["url"].get_string().get(url) != simdjson::SUCCESS) {
      return badShape(path + ".image_url.url", "must be a string");
    }
    haveDetail = image["detail"].get_string().get(detail) == simdjson::SUCCESS;
  }
  if (url.empty()) return badShape(path + ".image_url.url", "must not be empty");
  body += R"({"type":"image_url","image_url":{"url":)";
  appendJsonString(body, url);
  if (haveDetail && (detail == "auto" || detail == "low" || detail == "high")) {
    body += R"(,"detail":)";
    appendJsonString(body, detail);
  }
  body += "}}";
  return std::nullopt;
}

// Appends a message's content: a string stays a string; an array of parts becomes Cohere content
// items. Assistant refusal parts are text the assistant said.
std::optional<GatewayError> appendContent(std::string& body, dom::element content,
                                          const std::string& path, Parts allowed) {
  std::string_view text;
  if (content.get_string().get(text) == simdjson::SUCCESS) {
    appendJsonString(body, text);
    return std::nullopt;
  }
  dom::array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) {
    return badShape(path, "must be a string or an array of content parts");
  }
  body += '[';
  size_t j = 0;
  for (dom::element part : parts) {
    const std::string partPath = fmt::format("{}[{}]", path, j);
    std::string_view type;
    if (part["type"].get_string().get(type) != simdjson::SUCCESS) {
      return badShape(partPath + ".type", "must be a string");
    }
    if (j > 0) body += ',';
    if (type == "text" || type == "refusal") {
      if (part[type].get_string().get(text) != simdjson::SUCCESS) {
        return badShape(fmt::format("{}.{}", partPath, type), "must be a string");
      }
      body += R"({"type":"text","text":)";
      appendJsonString(body, text);
      body += '}';
    } else if (type == "image_url" && allowed == Parts::TextAndImages) {
      if (auto err = appendImagePart(body, part, partPath)) return err;
    } else {
      return noCohereForm(partPath, type);
    }
    ++j;
  }
  body += ']';
  return std::nullopt;
}

// The text of an assistant message's content (string or text/refusal parts), for tool_plan.
std::optional<GatewayError> collectText(dom::element content, const std::string& path,
                                        std::string& text) {
  std::string_view s;
  if (content.get_string().get(s) == simdjson::SUCCESS) {
    text.assign(s);
    return std::nullopt;
  }
  dom::array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) {
    return badShape(path, "must be a string or an array of content parts");
  }
  size_t j = 0;
  for (dom::element part : parts) {
    const std::string partPath = fmt::format("{}[{}]", path, j++);
    std::string_view type;
    if (part["type"].get_string().get(type) != simdjson::SUCCESS) {
      return badShape(partPath + ".type", "must be a string");
    }
    if (type != "text" && type != "refusal") return noCohereForm(partPath, type);
    if (part[type].get_string().get(s) != simdjson::SUCCESS) {
      return badShape(fmt::format("{}.{}", partPath, type), "must be a string");
    }
    text.append(s);
  }
  return std::nullopt;
}

// Appends one assistant tool call in Cohere's (OpenAI-shaped) form.
std::optional<GatewayError> appendToolCall(std::string& body, dom::element call,
                                           const std::string& path) {
  std::string_view id;
  std::string_view type;
  std::string_view name;
  if (call["id"].get_string().get(id) != simdjson::SUCCESS) {
    return badShape(path + ".id", "must be a string");
  }
  if (call["type"].get_string().get(type) == simdjson::SUCCESS && type != "function") {
    return unsupportedParam(path, kProvider, "Cohere takes function tool calls only");
  }
  dom::element fn;
  if (call["function"].get(fn) != simdjson::SUCCESS ||
      fn["name"].get_string().get(name) != simdjson::SUCCESS) {
    return badShape(path + ".function.name", "must be a string");
  }
  body += R"({"id":)";
  appendJsonString(body, id);
  body += R"(,"type":"function","function":{"name":)";
  appendJsonString(body, name);
  body += R"(,"arguments":)";
  dom::element args;
  std::string_view argText;
  if (fn["arguments"].get(args) != simdjson::SUCCESS || args.is_null()) {
    body += R"("{}")";
  } else if (args.get_string().get(argText) == simdjson::SUCCESS) {
    appendJsonString(body, argText);
  } else {
    appendJsonString(body, simdjson::to_string(args));  // some clients send the object itself
  }
  body += "}}";
  return std::nullopt;
}

std::optional<GatewayError> appendAssistant(std::string& body, dom::object msg,
                                            const std::string& path) {
  body += R"({"role":"assistant")";
  dom::element content;
  const bool haveContent = msg["content"].get(content) == simdjson::SUCCESS && !content.is_null();
  dom::array calls;
  if (msg["tool_calls"].get_array().get(calls) == simdjson::SUCCESS && calls.size() > 0) {
    // Cohere pairs tool calls with a tool_plan, the text the model wrote before calling (what our
    // responses turn into content); an OpenAI assistant's text beside its calls is exactly that.
    if (haveContent) {
      std::string text;
      if (auto err = collectText(content, path + ".content", text)) return err;
      if (!text.empty()) {
        body += R"(,"tool_plan":)";
        appendJsonString(body, text);
      }
    }
    body += R"(,"tool_calls":[)";
    size_t j = 0;
    for (dom::element call : calls) {
      if (j > 0) body += ',';
      if (auto err = appendToolCall(body, call, fmt::format("{}.tool_calls[{}]", path, j))) {
        return err;
      }
      ++j;
    }
    body += "]}";
    return std::nullopt;
  }
  dom::element legacyCall;
  if (msg["function_call"].get(legacyCall) == simdjson::SUCCESS && !legacyCall.is_null()) {
    return unsupportedParam(path + ".function_call", kProvider,
                            "the deprecated function_call has no call id; use tool_calls");
  }
  if (haveContent) {
    body += R"(,"content":)";
    if (auto err = appendContent(body, content, path + ".content", Parts::Text)) return err;
  }
  body += '}';
  return std::nullopt;
}

std::optional<GatewayError> appendTool(std::string& body, dom::object msg,
                                       const std::string& path) {
  std::string_view callId;
  if (msg["tool_call_id"].get_string().get(callId) != simdjson::SUCCESS) {
    return badShape(path + ".tool_call_id", "must be a string");
  }
  body += R"({"role":"tool","tool_call_id":)";
  appendJsonString(body, callId);
  body += R"(,"content":)";
  dom::element content;
  if (msg["content"].get(content) != simdjson::SUCCESS || content.is_null()) {
    body += R"("")";
  } else if (auto err = appendContent(body, content, path + ".content", Parts::Text)) {
    return err;
  }
  body += '}';
  return std::nullopt;
}

// system, developer and user messages: a role and content.
std::optional<GatewayError> appendPlain(std::string& body, dom::object msg, std::string_view role,
                                        const std::string& path, Parts allowed) {
  dom::element content;
  if (msg["content"].get(content) != simdjson::SUCCESS || content.is_null()) {
    return badShape(path + ".content", "is required");
  }
  body += R"({"role":)";
  appendJsonString(body, role);
  body += R"(,"content":)";
  if (auto err = appendContent(body, content, path + ".content", allowed)) return err;
  body += '}';
  return std::nullopt;
}

// One tool definition {name, description?, parameters?} (the inside of an OpenAI function tool).
std::optional<GatewayError> appendFunction(std::string& body, dom::element fn,
                                           const std::string& path, bool& strict) {
  std::string_view name;
  if (fn["name"].get_string().get(name) != simdjson::SUCCESS) {
    return badShape(path + ".name", "must be a string");
  }
  body += R"({"type":"function","function":{"name":)";
  appendJsonString(body, name);
  std::string_view description;
  if (fn["description"].get_string().get(description) == simdjson::SUCCESS) {
    body += R"(,"description":)";
    appendJsonString(body, description);
  }
  // Cohere requires parameters; OpenAI allows leaving them out for a tool without arguments.
  body += R"(,"parameters":)";
  dom::element params;
  if (fn["parameters"].get(params) == simdjson::SUCCESS && params.is_object()) {
    body += simdjson::to_string(params);
  } else {
    body += R"({"type":"object","properties":{}})";
  }
  body += "}}";
  bool s = false;
  strict = fn["strict"].get_bool().get(s) == simdjson::SUCCESS && s;
  return std::nullopt;
}

}  // namespace

std::optional<GatewayError> appendMessages(std::string& body, dom::element messages) {
  dom::array msgs;
  if (messages.get_array().get(msgs) != simdjson::SUCCESS || msgs.size() == 0) {
    return badShape("messages", "must be a non-empty array");
  }
  body += '[';
  size_t i = 0;
  for (dom::element m : msgs) {
    const std::string path = fmt::format("messages[{}]", i);
    dom::object msg;
    if (m.get_object().get(msg) != simdjson::SUCCESS) return badShape(path, "must be an object");
    std::string_view role;
    if (msg["role"].get_string().get(role) != simdjson::SUCCESS) {
      return badShape(path + ".role", "must be a string");
    }
    if (i > 0) body += ',';
    std::optional<GatewayError> err;
    if (role == "system" || role == "developer") {
      err = appendPlain(body, msg, "system", path, Parts::Text);
    } else if (role == "user") {
      err = appendPlain(body, msg, "user", path, Parts::TextAndImages);
    } else if (role == "assistant") {
      err = appendAssistant(body, msg, path);
    } else if (role == "tool") {
      err = appendTool(body, msg, path);
    } else if (role == "function") {
      err = unsupportedParam(path + ".role", kProvider,
                             "the deprecated function role has no call id; use tool messages");
    } else {
      err = GatewayError::invalidRequest(
          fmt::format("'{}.role' '{}' is not a valid role.", path, role), path + ".role");
    }
    if (err) return err;
    ++i;
  }
  body += ']';
  return std::nullopt;
}

std::optional<GatewayError> appendTools(std::string& body, dom::element tools, bool legacy,
                                        bool& haveTools, bool& allStrict) {
  const std::string_view param = legacy ? "functions" : "tools";
  dom::array list;
  if (tools.get_array().get(list) != simdjson::SUCCESS) {
    return badShape(std::string(param), "must be an array");
  }
  size_t i = 0;
  for (dom::element t : list) {
    const std::string path = fmt::format("{}[{}]", param, i++);
    dom::element fn = t;
    if (!legacy) {
      std::string_view type;
      if (t["type"].get_string().get(type) == simdjson::SUCCESS && type != "function") continue;
      if (t["function"].get(fn) != simdjson::SUCCESS || !fn.is_object()) {
        return badShape(path + ".function", "must be an object");
      }
    } else if (!t.is_object()) {
      return badShape(path, "must be an object");
    }
    body += haveTools ? "," : R"(,"tools":[)";
    haveTools = true;
    bool strict = false;
    if (auto err = appendFunction(body, fn, legacy ? path : path + ".function", strict)) {
      return err;
    }
    allStrict = allStrict && strict;
  }
  if (haveTools) body += ']';
  return std::nullopt;
}

}  // namespace llmux::providers::cohere
