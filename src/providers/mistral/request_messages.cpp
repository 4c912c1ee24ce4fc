// Messages and content parts of an OpenAI chat request in Mistral's form (see request.cpp for the
// mapping decisions), and the tool-call id remapping Mistral's 9-character rule needs.
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/text.hpp"
#include "providers/mistral/internal.hpp"
#include "providers/mistral/mistral.hpp"
#include "providers/mistral/request_builder.hpp"

namespace llmux::providers::mistral {

std::string toolCallId(std::string_view openaiId) {
  auto isAlnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  bool conforming = openaiId.size() == 9;
  for (size_t i = 0; conforming && i < openaiId.size(); ++i) conforming = isAlnum(openaiId[i]);
  if (conforming) return std::string(openaiId);
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (char c : openaiId) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;  // FNV-1a 64 prime
  }
  static constexpr std::string_view kDigits =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string id(9, '0');
  for (size_t i = 9; i-- > 0;) {  // h mod 62^9 as 9 base-62 digits, written from the right
    id[i] = kDigits[h % 62];
    h /= 62;
  }
  return id;
}

namespace detail {

Err RequestBuilder::messages(dom::element v) {
  dom::array msgs;
  if (v.get_array().get(msgs) != simdjson::SUCCESS) {
    return badField("messages", "expected an array");
  }
  // Tool messages carry no function name in OpenAI's schema; Mistral's examples send one.
  for (dom::element msg : msgs) {
    dom::array calls;
    if (msg["tool_calls"].get_array().get(calls) != simdjson::SUCCESS) continue;
    for (dom::element call : calls) {
      std::string_view id;
      std::string_view name;
      if (call["id"].get_string().get(id) == simdjson::SUCCESS &&
          call["function"]["name"].get_string().get(name) == simdjson::SUCCESS) {
        callNames_.emplace(id, name);
      }
    }
  }
  key("messages");
  body().push_back('[');
  size_t i = 0;
  for (dom::element msg : msgs) {
    if (i > 0) body().push_back(',');
    if (auto err = message(msg, i)) return err;
    ++i;
  }
  body().push_back(']');
  return std::nullopt;
}

Err RequestBuilder::message(dom::element msg, size_t i) {
  const std::string path = indexed("messages", i);
  if (!msg.is_object()) return badField(path, "expected an object");
  std::string_view role;
  if (msg["role"].get_string().get(role) != simdjson::SUCCESS) {
    return badField(path + ".role", "expected a string");
  }
  dom::element content;
  const bool hasContent = member(msg, "content", content);

  if (role == "system" || role == "developer") {
    body() += R"({"role":"system","content":)";
    dom::array parts;
    if (hasContent && content.get_array().get(parts) == simdjson::SUCCESS) {
      if (auto err = chunkArray(parts, path + ".content", false)) return err;
    } else if (!hasContent || content.is_string()) {
      appendJsonString(body(), hasContent ? stringOr(content, "") : "");
    } else {
      return badField(path + ".content", "expected a string or an array of text parts");
    }
    body().push_back('}');
    return std::nullopt;
  }

  if (role == "user") {
    body() += R"({"role":"user","content":)";
    dom::array parts;
    if (hasContent && content.get_array().get(parts) == simdjson::SUCCESS) {
      if (auto err = chunkArray(parts, path + ".content", true)) return err;
    } else if (!hasContent || content.is_string()) {
      appendJsonString(body(), hasContent ? stringOr(content, "") : "");
    } else {
      return badField(path + ".content", "expected a string or an array of content parts");
    }
    body().push_back('}');
    return std::nullopt;
  }

  if (role == "assistant") {
    body() += R"({"role":"assistant")";
    std::string text;
    if (hasContent) {
      if (auto err = textContent(content, path + ".content", true, text)) return err;
    }
    dom::array calls;
    const bool hasCalls =
        msg["tool_calls"].get_array().get(calls) == simdjson::SUCCESS && calls.size() > 0;
    // Mistral wants content or tool_calls; OpenAI's null content beside tool calls is left out.
    if (hasContent || !hasCalls) {
      body() += R"(,"content":)";
      appendJsonString(body(), text);
    }
    if (hasCalls) {
      if (auto err = assistantToolCalls(calls, path + ".tool_calls")) return err;
    }
    dom::element prefix;
    if (member(msg, "prefix", prefix)) {  // Mistral-native: continue from this message
      if (!prefix.is_bool()) return badField(path + ".prefix", "expected a boolean");
      body() += R"(,"prefix":)";
      body() += simdjson::to_string(prefix);
    }
    body().push_back('}');
    return std::nullopt;
  }

  if (role == "tool") {
    std::string_view callId;
    if (msg["tool_call_id"].get_string().get(callId) != simdjson::SUCCESS) {
      return badField(path + ".tool_call_id", "expected a string");
    }
    std::string text;
    if (hasContent) {
      if (auto err = textContent(content, path + ".content", false, text)) return err;
    }
    body() += R"({"role":"tool","content":)";
    appendJsonString(body(), text);
    body() += R"(,"tool_call_id":)";
    appendJsonString(body(), toolCallId(callId));
    std::string_view name;
    if (msg["name"].get_string().get(name) != simdjson::SUCCESS) {
      const auto it = callNames_.find(callId);
      if (it != callNames_.end()) name = it->second;
    }
    if (!name.empty()) {
      body() += R"(,"name":)";
      appendJsonString(body(), name);
    }
    body().push_back('}');
    return std::nullopt;
  }

  if (role == "function") {
    return GatewayError::invalidRequest(
        "Invalid '" + path +
            ".role': legacy 'function' messages are not supported by provider 'mistral'; send "
            "tool messages with a tool_call_id.",
        path + ".role");
  }
  return badField(path + ".role", "expected system, developer, user, assistant or tool");
}

// Text-only content (assistant, tool) as one string: a string, or the concatenated text parts.
Err RequestBuilder::textContent(dom::element content, const std::string& path, bool allowRefusal,
                                std::string& text) {
  std::string_view s;
  if (content.get_string().get(s) == simdjson::SUCCESS) {
    text.append(s);
    return std::nullopt;
  }
  dom::array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) {
    return badField(path, "expected a string or an array of text parts");
  }
  size_t j = 0;
  for (dom::element part : parts) {
    const std::string partPath = indexed(path, j++);
    const std::string_view type = stringOr(part["type"], "");
    std::string_view t;
    if (type == "text" && part["text"].get_string().get(t) == simdjson::SUCCESS) {
      text.append(t);
    } else if (allowRefusal && type == "refusal" &&
               part["refusal"].get_string().get(t) == simdjson::SUCCESS) {
      text.append(t);
    } else {
      return badField(partPath, "expected a text part");
    }
  }
  return std::nullopt;
}

// A system or user content array as Mistral chunks.
Err RequestBuilder::chunkArray(dom::array parts, const std::string& path, bool userParts) {
  body().push_back('[');
  bool first = true;
  size_t j = 0;
  for (dom::element part : parts) {
    const std::string partPath = indexed(path, j++);
    if (!part.is_object()) return badField(partPath, "expected an object");
    const std::string_view type = stringOr(part["type"], "");
    std::string chunk;
    if (type == "text") {
      std::string_view t;
      if (part["text"].get_string().get(t) != simdjson::SUCCESS) {
        return badField(partPath + ".text", "expected a string");
      }
      chunk = R"({"type":"text","text":)";
      appendJsonString(chunk, t);
      chunk.push_back('}');
    } else if (!userParts) {
      return badField(partPath, "expected a text part");
    } else if (type == "image_url") {
      dom::element image;
      std::string_view url;
      std::string_view detail;
      if (part["image_url"].get(image) != simdjson::SUCCESS) {
        return badField(partPath + ".image_url", "expected an object with a url");
      }
      if (image.get_string().get(url) != simdjson::SUCCESS &&
          image["url"].get_string().get(url) != simdjson::SUCCESS) {
        return badField(partPath + ".image_url.url", "expected a string");
      }
      // Mistral takes data: URLs (its inline base64 form) and https URLs in the same field.
      chunk = R"({"type":"image_url","image_url":{"url":)";
      appendJsonString(chunk, url);
      if (image["detail"].get_string().get(detail) == simdjson::SUCCESS) {
        chunk += R"(,"detail":)";
        appendJsonString(chunk, detail);
      }
      chunk += "}}";
    } else if (type == "input_audio") {
      std::string_view data;
      if (part["input_audio"]["data"].get_string().get(data) != simdjson::SUCCESS) {
        return badField(partPath + ".input_audio.data", "expected a base64 string");
      }
      // Mistral's audio chunk is the bare base64 data; it detects the format itself.
      chunk = R"({"type":"input_audio","input_audio":)";
      appendJsonString(chunk, data);
      chunk.push_back('}');
    } else if (type == "file") {
      std::string_view data;
      std::string_view fileId;
      std::string_view filename;
      if (part["file"]["file_data"].get_string().get(data) == simdjson::SUCCESS) {
        chunk = R"({"type":"document_url","document_url":)";
        appendJsonString(chunk, data);
        if (part["file"]["filename"].get_string().get(filename) == simdjson::SUCCESS) {
          chunk += R"(,"document_name":)";
          appendJsonString(chunk, filename);
        }
        chunk.push_back('}');
      } else if (part["file"]["file_id"].get_string().get(fileId) == simdjson::SUCCESS) {
        chunk = R"({"type":"file","file_id":)";
        appendJsonString(chunk, fileId);
        chunk.push_back('}');
      } else {
        return badField(partPath + ".file", "expected file_data or file_id");
      }
    } else {
      if (auto err = unsupported(partPath, "content part type '" + std::string(type) + "'")) {
        return err;
      }
      continue;
    }
    if (!first) body().push_back(',');
    first = false;
    body() += chunk;
  }
  body().push_back(']');
  return std::nullopt;
}

Err RequestBuilder::assistantToolCalls(dom::array calls, const std::string& path) {
  body() += R"(,"tool_calls":[)";
  size_t j = 0;
  for (dom::element call : calls) {
    const std::string callPath = indexed(path, j);
    if (!call.is_object()) return badField(callPath, "expected an object");
    const std::string_view type = stringOr(call["type"], "function");
    if (type != "function") {
      return unsupportedParam(callPath, kProvider, "only function tool calls");
    }
    std::string_view id;
    std::string_view name;
    if (call["id"].get_string().get(id) != simdjson::SUCCESS) {
      return badField(callPath + ".id", "expected a string");
    }
    if (call["function"]["name"].get_string().get(name) != simdjson::SUCCESS) {
      return badField(callPath + ".function.name", "expected a string");
    }
    if (j++ > 0) body().push_back(',');
    body() += R"({"id":)";
    appendJsonString(body(), toolCallId(id));
    body() += R"(,"type":"function","function":{"name":)";
    appendJsonString(body(), name);
    body() += R"(,"arguments":)";
    appendJsonString(body(), argumentsText(call["function"]["arguments"], "{}"));
    body() += "}}";
  }
  body().push_back(']');
  return std::nullopt;
}

}  // namespace detail
}  // namespace llmux::providers::mistral
