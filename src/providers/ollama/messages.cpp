// The conversation of an OpenAI chat request as Ollama /api/chat messages, or flattened into the
// system + prompt of /api/generate. The mapping and the flattening are described in request.cpp.
#include <simdjson.h>

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/ollama/request_builder.hpp"

namespace llmux::providers::ollama::detail {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// `prefix` must be lowercase.
bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (lowerAscii(s[i]) != prefix[i]) return false;
  }
  return true;
}

void appendMessage(std::string& out, std::string_view role, std::string_view text,
                   const std::vector<std::string_view>& images) {
  if (!out.empty()) out += ',';
  out += R"({"role":)";
  appendJsonString(out, role);
  out += R"(,"content":)";
  appendJsonString(out, text);
  if (!images.empty()) {
    out += R"(,"images":[)";
    for (size_t i = 0; i < images.size(); ++i) {
      if (i > 0) out += ',';
      appendJsonString(out, images[i]);
    }
    out += ']';
  }
}

}  // namespace

Err Builder::readMessages(dom::element v) {
  dom::array arr;
  if (v.get_array().get(arr) != SUCCESS || arr.size() == 0) {
    return invalidParam("messages", "expected a non-empty array");
  }
  // A duplicated "messages" key: the last one wins, as in most JSON readers.
  sawMessages_ = true;
  messages_.clear();
  calls_.clear();
  system_.clear();
  turns_.clear();
  images_.clear();
  size_t i = 0;
  for (dom::element m : arr) {
    const std::string path = indexed("messages", i++);
    dom::object msg;
    if (m.get_object().get(msg) != SUCCESS) return invalidParam(path, "expected an object");
    if (auto err = readMessage(msg, path)) return err;
  }
  if (api_ == Api::Generate && turns_.empty()) {
    // Only system text: Ollama would treat an empty prompt as "load the model" and answer
    // nothing, so the instructions become the prompt.
    Turn t;
    t.user = true;
    t.text = std::move(system_);
    system_.clear();
    turns_.push_back(std::move(t));
  }
  return std::nullopt;
}

Err Builder::readMessage(dom::object msg, const std::string& path) {
  std::string_view role;
  if (msg["role"].get_string().get(role) != SUCCESS) {
    return invalidParam(path + ".role", "expected a string");
  }
  const bool chat = api_ == Api::Chat;
  dom::element content;
  const bool hasContent = msg["content"].get(content) == SUCCESS;
  std::string text;
  std::vector<std::string_view> images;
  auto readText = [&](bool imagesAllowed) -> Err {
    return hasContent ? readContent(content, path, imagesAllowed, text, images) : std::nullopt;
  };

  if (role == "system" || role == "developer") {
    if (auto err = readText(false)) return err;
    if (chat) {
      appendMessage(messages_, "system", text, images);
      messages_ += '}';
    } else if (!text.empty()) {
      if (!system_.empty()) system_ += "\n\n";
      system_ += text;
    }
    return std::nullopt;
  }

  if (role == "user") {
    if (auto err = readText(true)) return err;
    if (chat) {
      appendMessage(messages_, "user", text, images);
      messages_ += '}';
    } else {
      images_.insert(images_.end(), images.begin(), images.end());
      Turn t;
      t.user = true;
      t.block = "User: " + text;
      t.text = std::move(text);
      turns_.push_back(std::move(t));
    }
    return std::nullopt;
  }

  if (role == "assistant") {
    if (auto err = readText(false)) return err;
    std::string callsJson;
    std::string transcript;
    if (auto err = readAssistantCalls(msg, path, callsJson, transcript)) return err;
    if (chat) {
      appendMessage(messages_, "assistant", text, images);
      std::string_view thinking;
      if (msg["reasoning_content"].get_string().get(thinking) == SUCCESS && !thinking.empty()) {
        messages_ += R"(,"thinking":)";
        appendJsonString(messages_, thinking);
      }
      if (!callsJson.empty()) {
        messages_ += R"(,"tool_calls":[)";
        messages_ += callsJson;
        messages_ += ']';
      }
      messages_ += '}';
    } else {
      Turn t;
      if (!text.empty() || transcript.empty()) t.block = "Assistant: " + text;
      if (!transcript.empty()) {
        if (!t.block.empty()) t.block += '\n';
        t.block += transcript;
      }
      t.text = std::move(text);
      turns_.push_back(std::move(t));
    }
    return std::nullopt;
  }

  if (role == "tool" || role == "function") {
    if (auto err = readText(false)) return err;
    std::string_view name;
    if (role == "function") {
      (void)msg["name"].get_string().get(name);
    } else {
      dom::element idElem;
      std::string_view id;
      if (msg["tool_call_id"].get(idElem) == SUCCESS && !idElem.is_null() &&
          idElem.get_string().get(id) != SUCCESS) {
        return invalidParam(path + ".tool_call_id", "expected a string");
      }
      // The nearest earlier call with that id (ids may repeat across turns).
      for (size_t k = calls_.size(); k-- > 0;) {
        if (!id.empty() && calls_[k].first == id) {
          name = calls_[k].second;
          break;
        }
      }
    }
    if (chat) {
      appendMessage(messages_, "tool", text, images);
      if (!name.empty()) {
        messages_ += R"(,"tool_name":)";
        appendJsonString(messages_, name);
      }
      messages_ += '}';
    } else {
      Turn t;
      t.block =
          name.empty() ? std::string("Tool result") : "Tool result (" + std::string(name) + ")";
      t.block += ": ";
      t.block += text;
      t.text = std::move(text);
      turns_.push_back(std::move(t));
    }
    return std::nullopt;
  }

  return invalidParam(path + ".role", "expected system, developer, user, assistant or tool");
}

Err Builder::readContent(dom::element content, const std::string& path, bool imagesAllowed,
                         std::string& text, std::vector<std::string_view>& images) {
  std::string_view s;
  if (content.is_null()) return std::nullopt;
  if (content.get_string().get(s) == SUCCESS) {
    text.append(s);
    return std::nullopt;
  }
  dom::array parts;
  if (content.get_array().get(parts) != SUCCESS) {
    return invalidParam(path + ".content", "expected a string or an array of content parts");
  }
  size_t j = 0;
  bool firstText = true;
  for (dom::element part : parts) {
    const std::string partPath = path + ".content[" + std::to_string(j++) + "]";
    std::string_view type;
    if (part["type"].get_string().get(type) != SUCCESS) {
      return invalidParam(partPath + ".type", "expected a string");
    }
    if (type == "text" || type == "refusal") {
      std::string_view t;
      if (part[type].get_string().get(t) != SUCCESS) {
        return invalidParam(partPath + "." + std::string(type), "expected a string");
      }
      if (!firstText) text += '\n';
      text.append(t);
      firstText = false;
    } else if (type == "image_url") {
      if (!imagesAllowed) {
        if (auto err = unsupported(partPath, "images are taken in user messages only")) return err;
        continue;
      }
      if (auto err = readImage(part, partPath, images)) return err;
    } else {
      // input_audio, file and future part types have no Ollama form.
      if (auto err = unsupported(partPath, "Ollama takes text and images only")) return err;
    }
  }
  return std::nullopt;
}

Err Builder::readImage(dom::element part, const std::string& path,
                       std::vector<std::string_view>& images) {
  dom::element imageUrl;
  std::string_view url;
  if (part["image_url"].get(imageUrl) != SUCCESS ||
      (imageUrl.get_string().get(url) != SUCCESS &&
       imageUrl["url"].get_string().get(url) != SUCCESS)) {
    return invalidParam(path + ".image_url.url", "expected a string");
  }
  if (startsWithNoCase(url, "data:")) {
    // data:[<mediatype>][;base64],<data>; Ollama wants the base64 bytes alone.
    const size_t comma = url.find(',');
    const std::string_view meta = url.substr(0, comma == std::string_view::npos ? 0 : comma);
    if (comma == std::string_view::npos || meta.size() < 12 ||
        !startsWithNoCase(meta.substr(meta.size() - 7), ";base64")) {
      return invalidParam(path + ".image_url.url", "a data: URL must be base64-encoded");
    }
    const std::string_view data = trim(url.substr(comma + 1));
    if (data.empty()) return invalidParam(path + ".image_url.url", "the data: URL is empty");
    images.push_back(data);
    return std::nullopt;
  }
  if (startsWithNoCase(url, "http://") || startsWithNoCase(url, "https://")) {
    // Not droppable: losing an image silently would change the question. The engine inlines
    // remote images as data: URLs before calling a provider that cannot fetch them.
    std::string param = path + ".image_url";
    std::string message = fmt::format(
        "Parameter '{}' is not supported by provider '{}': Ollama takes base64 image data only; "
        "send the image as a data: URL.",
        param, providerName(api_));
    return GatewayError::invalidRequest(std::move(message), std::move(param),
                                        "unsupported_parameter");
  }
  return invalidParam(path + ".image_url.url", "expected a data: URL or an http(s) URL");
}

Err Builder::readAssistantCalls(dom::object msg, const std::string& path, std::string& json,
                                std::string& transcript) {
  dom::element calls;
  if (msg["tool_calls"].get(calls) == SUCCESS && !calls.is_null()) {
    dom::array arr;
    if (calls.get_array().get(arr) != SUCCESS) {
      return invalidParam(path + ".tool_calls", "expected an array");
    }
    size_t k = 0;
    for (dom::element call : arr) {
      const std::string callPath = path + ".tool_calls[" + std::to_string(k++) + "]";
      dom::object fn;
      if (call["function"].get_object().get(fn) != SUCCESS) {
        return invalidParam(callPath + ".function", "expected an object");
      }
      std::string_view id;
      dom::element idElem;
      if (call["id"].get(idElem) == SUCCESS && !idElem.is_null() &&
          idElem.get_string().get(id) != SUCCESS) {
        return invalidParam(callPath + ".id", "expected a string");
      }
      if (auto err = readCall(id, fn, callPath, json, transcript)) return err;
    }
  }
  dom::object fc;  // the deprecated single function_call
  if (msg["function_call"].get_object().get(fc) == SUCCESS) {
    if (auto err = readCall({}, fc, path + ".function_call", json, transcript)) return err;
  }
  return std::nullopt;
}

Err Builder::readCall(std::string_view id, dom::object fn, const std::string& path,
                      std::string& json, std::string& transcript) {
  std::string_view name;
  if (fn["name"].get_string().get(name) != SUCCESS) {
    return invalidParam(path + (path.ends_with("function_call") ? ".name" : ".function.name"),
                        "expected a string");
  }
  calls_.emplace_back(id, name);
  dom::element args;
  const bool haveArgs = fn["arguments"].get(args) == SUCCESS;
  std::string object;
  if (auto err = appendArguments(haveArgs ? &args : nullptr, path, object)) return err;
  if (api_ == Api::Chat) {
    if (!json.empty()) json += ',';
    json += R"({"function":{"name":)";
    appendJsonString(json, name);
    json += R"(,"arguments":)";
    json += object;
    json += "}}";
  } else {
    if (!transcript.empty()) transcript += '\n';
    transcript += "Assistant called tool ";
    transcript += name;
    transcript += " with arguments ";
    transcript += object;
  }
  return std::nullopt;
}

Err Builder::appendArguments(const dom::element* args, const std::string& path, std::string& json) {
  const std::string param =
      path + (path.ends_with("function_call") ? ".arguments" : ".function.arguments");
  if (args == nullptr || args->is_null()) {
    json += "{}";
    return std::nullopt;
  }
  if (args->is_object()) {
    json += simdjson::to_string(*args);
    return std::nullopt;
  }
  std::string_view s;
  if (args->get_string().get(s) != SUCCESS) {
    return invalidParam(param, "expected a JSON object encoded as a string");
  }
  s = trim(s);
  if (s.empty()) {
    json += "{}";  // some clients send "" for a call without arguments
    return std::nullopt;
  }
  dom::element parsed;
  if (argParser_.parse(s.data(), s.size(), true).get(parsed) != SUCCESS || !parsed.is_object()) {
    return invalidParam(param, "expected a JSON object encoded as a string");
  }
  json += simdjson::to_string(parsed);
  return std::nullopt;
}

}  // namespace llmux::providers::ollama::detail
