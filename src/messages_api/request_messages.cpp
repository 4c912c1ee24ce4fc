// Anthropic turns → OpenAI messages (wire_formats.md §2.2 → §1.3); the decisions are listed in
// request.cpp.
#include <simdjson.h>

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "messages_api/request_internal.hpp"

namespace llmux::messages_api::detail {
namespace {

void beginMessage(Ctx& ctx, std::string_view role) {
  comma(ctx.messages);
  ctx.messages += R"({"role":")";
  ctx.messages += role;
  ctx.messages += R"(","content":)";
  ++ctx.count;
}

// A tool_result block → one role "tool" message (written to `tools`); attachments to `extras`.
MaybeError convertToolResult(dom::element block, const std::string& path, std::string& tools,
                             std::string& extras) {
  std::string_view id;
  if (auto e = requireString(block, "tool_use_id", path, id)) return e;
  bool isError = false;
  dom::element v;
  if (member(block, "is_error", v) && v.get_bool().get(isError) != SUCCESS) {
    return bad(path + ".is_error", "Input should be a valid boolean");
  }
  dom::element cc;
  bool hasCc = false;
  if (auto e = readCacheControl(block, path, cc, hasCc)) return e;

  std::string text;
  std::string attachments;
  dom::element content;
  if (member(block, "content", content)) {
    std::string_view s;
    dom::array arr;
    if (content.get_string().get(s) == SUCCESS) {
      text = s;
    } else if (content.get_array().get(arr) == SUCCESS) {
      size_t j = 0;
      for (dom::element b : arr) {
        const std::string p = at(path + ".content", j++);
        if (!b.is_object()) return bad(p, "Input should be an object");
        const std::string_view bt = detail::stringOr(b, "type");
        if (bt == "text") {
          std::string_view t;
          if (auto e = requireString(b, "text", p, t)) return e;
          if (!text.empty()) text.push_back('\n');
          text += t;
        } else if (bt == "search_result") {
          std::string st;
          if (auto e = searchResultText(b, p, st)) return e;
          if (!text.empty()) text.push_back('\n');
          text += st;
        } else if (bt == "tool_reference") {
          std::string_view name;
          if (auto e = requireString(b, "tool_name", p, name)) return e;
          if (!text.empty()) text.push_back('\n');
          text += fmt::format("Tool reference: {}", name);
        } else if (bt == "image" || bt == "document") {
          if (auto e = convertUserPart(b, bt, p, attachments)) return e;
        } else {
          return bad(p + ".type", fmt::format("content block type '{}' is not supported in "
                                              "tool_result content",
                                              bt));
        }
      }
    } else {
      return bad(path + ".content", "Input should be a valid string or list");
    }
  }
  if (isError) text = text.empty() ? std::string("Error") : "Error: " + text;

  comma(tools);
  tools += R"({"role":"tool","tool_call_id":)";
  appendJsonString(tools, id);
  tools += R"(,"content":)";
  if (hasCc) {
    std::string part;
    appendTextPart(part, text, &cc);
    tools += "[" + part + "]";
  } else {
    appendJsonString(tools, text);
  }
  tools.push_back('}');

  if (!attachments.empty()) {
    appendTextPart(extras, fmt::format("Attachments of tool result {}:", id), nullptr);
    comma(extras);
    extras += attachments;
  }
  return std::nullopt;
}

MaybeError convertUser(dom::array blocks, const std::string& path, Ctx& ctx) {
  std::string tools, extras, parts;
  size_t j = 0;
  for (dom::element block : blocks) {
    const std::string p = at(path, j++);
    if (!block.is_object()) return bad(p, "Input should be an object");
    const std::string_view type = detail::stringOr(block, "type");
    if (type == "tool_result") {
      if (auto e = convertToolResult(block, p, tools, extras)) return e;
    } else if (type == "thinking" || type == "redacted_thinking") {
      ++ctx.info.droppedThinkingBlocks;
    } else {
      if (auto e = convertUserPart(block, type, p, parts)) return e;
    }
  }
  if (!tools.empty()) {
    comma(ctx.messages);
    ctx.messages += tools;
    ++ctx.count;
  }
  if (!extras.empty() || !parts.empty()) {
    beginMessage(ctx, "user");
    ctx.messages.push_back('[');
    ctx.messages += extras;
    if (!extras.empty() && !parts.empty()) ctx.messages.push_back(',');
    ctx.messages += parts;
    ctx.messages += "]}";
  }
  return std::nullopt;
}

MaybeError convertAssistant(dom::array blocks, const std::string& path, Ctx& ctx) {
  std::string parts;   // text parts (used when one carries cache_control)
  std::string joined;  // text blocks concatenated
  std::string calls;   // tool_calls entries
  bool anyCacheControl = false;
  bool anyText = false;
  size_t j = 0;
  for (dom::element block : blocks) {
    const std::string p = at(path, j++);
    if (!block.is_object()) return bad(p, "Input should be an object");
    const std::string_view type = detail::stringOr(block, "type");
    if (type == "text") {
      std::string_view text;
      if (auto e = requireString(block, "text", p, text)) return e;
      dom::element cc;
      bool hasCc = false;
      if (auto e = readCacheControl(block, p, cc, hasCc)) return e;
      anyCacheControl = anyCacheControl || hasCc;
      anyText = true;
      joined += text;
      appendTextPart(parts, text, hasCc ? &cc : nullptr);
    } else if (type == "tool_use") {
      std::string_view id, name;
      if (auto e = requireString(block, "id", p, id)) return e;
      if (auto e = requireString(block, "name", p, name)) return e;
      dom::element input;
      const bool hasInput = member(block, "input", input);
      if (hasInput && !input.is_object()) {
        return bad(p + ".input", "Input should be a valid dictionary");
      }
      comma(calls);
      calls += R"({"id":)";
      appendJsonString(calls, id);
      calls += R"(,"type":"function","function":{"name":)";
      appendJsonString(calls, name);
      calls += R"(,"arguments":)";
      appendJsonString(calls, hasInput ? simdjson::to_string(input) : std::string("{}"));
      calls += "}}";
    } else if (type == "thinking" || type == "redacted_thinking") {
      ++ctx.info.droppedThinkingBlocks;
    } else if (type.empty()) {
      return bad(p + ".type", "Field required");
    } else {
      return bad(p + ".type", fmt::format("content block type '{}' is not supported in {} turns",
                                          type, "assistant"));
    }
  }
  if (!anyText && calls.empty()) return std::nullopt;  // nothing left (e.g. only thinking)
  beginMessage(ctx, "assistant");
  if (!anyText) {
    ctx.messages += "null";
  } else if (anyCacheControl) {
    ctx.messages += "[" + parts + "]";
  } else {
    appendJsonString(ctx.messages, joined);
  }
  if (!calls.empty()) ctx.messages += R"(,"tool_calls":[)" + calls + "]";
  ctx.messages.push_back('}');
  return std::nullopt;
}

}  // namespace

MaybeError convertSystem(dom::element sys, const std::string& path, Ctx& ctx) {
  std::string_view s;
  if (sys.get_string().get(s) == SUCCESS) {
    if (s.empty()) return std::nullopt;
    beginMessage(ctx, "system");
    appendJsonString(ctx.messages, s);
    ctx.messages.push_back('}');
    return std::nullopt;
  }
  dom::array arr;
  if (sys.get_array().get(arr) != SUCCESS) {
    return bad(path, "Input should be a valid string or list");
  }
  std::string parts, joined;
  bool anyCacheControl = false;
  size_t j = 0;
  for (dom::element block : arr) {
    const std::string p = at(path, j++);
    if (!block.is_object() || detail::stringOr(block, "type") != "text") {
      return bad(p + ".type", "Input should be 'text'");
    }
    std::string_view text;
    if (auto e = requireString(block, "text", p, text)) return e;
    dom::element cc;
    bool hasCc = false;
    if (auto e = readCacheControl(block, p, cc, hasCc)) return e;
    anyCacheControl = anyCacheControl || hasCc;
    if (!joined.empty() && !text.empty()) joined += "\n\n";
    joined += text;
    appendTextPart(parts, text, hasCc ? &cc : nullptr);
  }
  if (parts.empty() || (!anyCacheControl && joined.empty())) return std::nullopt;
  beginMessage(ctx, "system");
  if (anyCacheControl) {
    ctx.messages += "[" + parts + "]";
  } else {
    appendJsonString(ctx.messages, joined);
  }
  ctx.messages.push_back('}');
  return std::nullopt;
}

MaybeError convertMessage(dom::element msg, const std::string& path, Ctx& ctx) {
  if (!msg.is_object()) return bad(path, "Input should be an object");
  std::string_view role;
  if (msg["role"].get_string().get(role) != SUCCESS ||
      (role != "user" && role != "assistant" && role != "system")) {
    return bad(path + ".role", "Input should be 'user' or 'assistant'");
  }
  dom::element content;
  if (!member(msg, "content", content)) return bad(path + ".content", "Field required");
  const std::string cpath = path + ".content";
  if (role == "system") return convertSystem(content, cpath, ctx);
  std::string_view s;
  if (content.get_string().get(s) == SUCCESS) {
    beginMessage(ctx, role);
    appendJsonString(ctx.messages, s);
    ctx.messages.push_back('}');
    return std::nullopt;
  }
  dom::array blocks;
  if (content.get_array().get(blocks) != SUCCESS) {
    return bad(cpath, "Input should be a valid string or list");
  }
  return role == "user" ? convertUser(blocks, cpath, ctx) : convertAssistant(blocks, cpath, ctx);
}

bool continuesToolLoop(dom::array messages) {
  bool toolLoop = false;
  for (dom::element m : messages) {
    toolLoop = false;
    dom::array blocks;
    if (detail::stringOr(m, "role") != "user" || m["content"].get_array().get(blocks) != SUCCESS) {
      continue;
    }
    for (dom::element b : blocks) {
      if (detail::stringOr(b, "type") == "tool_result") toolLoop = true;
    }
  }
  return toolLoop;
}

}  // namespace llmux::messages_api::detail
