// OpenAI messages as Gemini "contents" and "systemInstruction" (wire_formats.md §3.2, §3.7).
//
// * system/developer messages (wherever they stand) → systemInstruction.parts, in order. A request
//   with nothing else sends them as the user turn instead: Gemini requires contents.
// * user → role "user", assistant → role "model"; consecutive turns of one role are merged (Gemini
//   wants them alternating), so tool results and a following user message share a turn.
// * Parts: text → {text} (empty texts are skipped: Gemini rejects them); image_url data: URLs →
//   {inlineData:{mimeType,data}}; http(s):// and gs:// URLs → {fileData:{mimeType,fileUri}} with
//   the MIME type guessed from the extension, else image/jpeg (none for YouTube links). Gemini
//   reads gs:// objects, File API URIs, YouTube links and publicly reachable https files itself;
//   an https image it cannot fetch fails upstream (the engine may inline remote images first);
//   input_audio → inlineData audio/<format>; file → inlineData (file_data) or fileData (file_id).
// * assistant tool_calls → {functionCall:{name,args}} parts (arguments parsed back to an object).
//   An id carrying "__thought__<signature>" (see appendToolCallId) returns its thoughtSignature
//   (base64url turned back into standard padded base64);
//   on Gemini 3+ a turn's first call without one gets Google's documented placeholder
//   "skip_thought_signature_validator" so histories from elsewhere are still accepted.
// * role:"tool" → {functionResponse:{name,response}} in a user turn; the name comes from the
//   earlier assistant tool call with that id (or the message's "name"). A JSON-object result is
//   sent as the response object, anything else as {"content": "<text>"}.
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

constexpr std::string_view kSkipSignature = "skip_thought_signature_validator";

GatewayError invalid(std::string param, std::string message) {
  return GatewayError::invalidRequest(std::move(message), std::move(param));
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalsLower(std::string_view a, std::string_view lowerB) {
  if (a.size() != lowerB.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lowerB[i]) return false;
  }
  return true;
}

// The MIME type for a file name or URL's extension; empty when unknown.
std::string_view mimeFromExtension(std::string_view path) {
  path = path.substr(0, path.find_first_of("?#"));
  const size_t slash = path.rfind('/');
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos) return {};
  const std::string_view ext = path.substr(dot + 1);
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {"png", "image/png"},   {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},   {"webp", "image/webp"},     {"heic", "image/heic"},
      {"heif", "image/heif"}, {"pdf", "application/pdf"}, {"mp3", "audio/mp3"},
      {"wav", "audio/wav"},   {"ogg", "audio/ogg"},       {"flac", "audio/flac"},
      {"aac", "audio/aac"},   {"m4a", "audio/m4a"},       {"mp4", "video/mp4"},
      {"mov", "video/mov"},   {"webm", "video/webm"},     {"txt", "text/plain"},
      {"csv", "text/csv"},    {"html", "text/html"},      {"md", "text/md"},
  };
  for (const auto& [e, mime] : kTypes) {
    if (equalsLower(ext, e)) return mime;
  }
  return {};
}

bool isYouTube(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return false;
  std::string_view host = url.substr(scheme + 3);
  host = host.substr(0, host.find_first_of("/?#"));
  return host == "youtu.be" || host == "youtube.com" || host.ends_with(".youtube.com");
}

// "data:<mime>[;param...];base64,<data>" → mime and data; false for any other form.
bool parseDataUrl(std::string_view url, std::string_view& mime, std::string_view& data) {
  if (!url.starts_with("data:")) return false;
  const size_t comma = url.find(',');
  if (comma == std::string_view::npos) return false;
  std::string_view meta = url.substr(5, comma - 5);
  data = url.substr(comma + 1);
  const size_t semi = meta.find(';');
  mime = meta.substr(0, semi);
  if (mime.empty() || semi == std::string_view::npos || data.empty()) return false;
  for (std::string_view params = meta.substr(semi); !params.empty();) {
    params.remove_prefix(1);  // ';'
    const size_t next = params.find(';');
    if (params.substr(0, next) == "base64") return true;
    if (next == std::string_view::npos) break;
    params.remove_prefix(next);
  }
  return false;
}

void appendInlineData(std::string& out, std::string_view mime, std::string_view data) {
  out += R"({"inlineData":{"mimeType":)";
  appendJsonString(out, mime);
  out += R"(,"data":)";
  appendJsonString(out, data);
  out += "}}";
}

void appendFileData(std::string& out, std::string_view mime, std::string_view uri) {
  out += R"({"fileData":{)";
  if (!mime.empty()) {
    out += R"("mimeType":)";
    appendJsonString(out, mime);
    out.push_back(',');
  }
  out += R"("fileUri":)";
  appendJsonString(out, uri);
  out += "}}";
}

class Contents {
 public:
  explicit Contents(int major) : major_(major) {}
  std::optional<GatewayError> run(dom::array messages, std::string& contents,
                                  std::string& systemParts);

 private:
  // Starts a part in a `role` turn, closing the current turn when the role changes.
  std::string& part(std::string_view role) {
    if (role != role_) flushTurn();
    role_ = role;
    if (!parts_.empty()) parts_.push_back(',');
    return parts_;
  }
  void flushTurn();
  void text(std::string_view role, std::string_view t) {
    if (t.empty()) return;
    std::string& out = part(role);
    out += R"({"text":)";
    appendJsonString(out, t);
    out.push_back('}');
  }
  std::optional<GatewayError> system(dom::element content, const std::string& param);
  std::optional<GatewayError> user(dom::element content, const std::string& param);
  std::optional<GatewayError> userPart(dom::object part, const std::string& param);
  std::optional<GatewayError> assistant(dom::object msg, const std::string& param);
  std::optional<GatewayError> functionCall(dom::object fn, std::string_view id,
                                           const std::string& param);
  std::optional<GatewayError> toolResult(std::string_view name, dom::element content,
                                         const std::string& param);
  // The text of a string or an array of text parts (other parts are refused).
  static std::optional<GatewayError> joinText(dom::element content, const std::string& param,
                                              std::string& out, bool allowRefusal);

  int major_;
  std::string contents_;  // finished turns, comma-separated
  std::string parts_;     // the open turn's parts
  std::string_view role_;
  bool turnHasCall_ = false;
  std::string system_;
  struct Call {
    std::string_view id, name;
  };
  std::vector<Call> calls_;  // assistant tool calls so far, for tool results' names
  dom::parser parser_;       // arguments and tool results (the request's parser stays untouched)
};

void Contents::flushTurn() {
  if (!parts_.empty()) {
    if (!contents_.empty()) contents_.push_back(',');
    contents_ += R"({"role":")";
    contents_ += role_;
    contents_ += R"(","parts":[)";
    contents_ += parts_;
    contents_ += "]}";
  }
  parts_.clear();
  turnHasCall_ = false;
}

std::optional<GatewayError> Contents::joinText(dom::element content, const std::string& param,
                                               std::string& out, bool allowRefusal) {
  std::string_view s;
  dom::array parts;
  if (content.is_null()) return std::nullopt;
  if (content.get(s) == simdjson::SUCCESS) {
    out += s;
    return std::nullopt;
  }
  if (content.get(parts) != simdjson::SUCCESS) {
    return invalid(param, fmt::format("'{}' must be a string or an array of parts.", param));
  }
  size_t j = 0;
  for (dom::element p : parts) {
    std::string_view type;
    if (p["type"].get(type) == simdjson::SUCCESS && type == "text" &&
        p["text"].get(s) == simdjson::SUCCESS) {
      out += s;
    } else if (!(allowRefusal && type == "refusal")) {
      return invalid(fmt::format("{}[{}]", param, j),
                     fmt::format("'{}[{}]' must be a text part here.", param, j));
    }
    ++j;
  }
  return std::nullopt;
}

std::optional<GatewayError> Contents::system(dom::element content, const std::string& param) {
  std::string_view s;
  dom::array parts;
  auto add = [&](std::string_view t) {
    if (t.empty()) return;
    if (!system_.empty()) system_.push_back(',');
    system_ += R"({"text":)";
    appendJsonString(system_, t);
    system_.push_back('}');
  };
  if (content.get(s) == simdjson::SUCCESS) {
    add(s);
    return std::nullopt;
  }
  if (content.get(parts) != simdjson::SUCCESS) {
    return invalid(param, fmt::format("'{}' must be a string or an array of text parts.", param));
  }
  size_t j = 0;
  for (dom::element p : parts) {
    std::string_view type;
    if (p["type"].get(type) != simdjson::SUCCESS || type != "text" ||
        p["text"].get(s) != simdjson::SUCCESS) {
      return invalid(fmt::format("{}[{}]", param, j), "System messages may only hold text parts.");
    }
    add(s);
    ++j;
  }
  return std::nullopt;
}

std::optional<GatewayError> Contents::userPart(dom::object p, const std::string& param) {
  std::string_view type;
  if (p["type"].get(type) != simdjson::SUCCESS) {
    return invalid(param + ".type", fmt::format("'{}.type' is required.", param));
  }
  std::string_view s;
  if (type == "text") {
    if (p["text"].get(s) != simdjson::SUCCESS) {
      return invalid(param + ".text", "A text part needs a string 'text'.");
    }
    text("user", s);
    return std::nullopt;
  }
  if (type == "image_url") {
    std::string_view url;
    if (p["image_url"]["url"].get(url) != simdjson::SUCCESS &&
        p["image_url"].get(url) != simdjson::SUCCESS) {
      return invalid(param + ".image_url", "An image_url part needs image_url.url.");
    }
    std::string_view mime;
    std::string_view data;
    if (parseDataUrl(url, mime, data)) {
      appendInlineData(part("user"), mime, data);
    } else if (url.starts_with("https://") || url.starts_with("http://") ||
               url.starts_with("gs://")) {
      mime = mimeFromExtension(url);
      if (mime.empty() && !isYouTube(url)) mime = "image/jpeg";
      appendFileData(part("user"), mime, url);
    } else {
      return invalid(param + ".image_url",
                     "image_url.url must be an http(s) or gs:// URL or a base64 data: URL.");
    }
    return std::nullopt;
  }
  if (type == "input_audio") {
    std::string_view format;
    if (p["input_audio"]["data"].get(s) != simdjson::SUCCESS ||
        p["input_audio"]["format"].get(format) != simdjson::SUCCESS || format.empty()) {
      return invalid(param + ".input_audio", "input_audio needs 'data' and 'format'.");
    }
    appendInlineData(part("user"), "audio/" + std::string(format), s);
    return std::nullopt;
  }
  if (type == "file") {
    dom::object file;
    if (p["file"].get(file) != simdjson::SUCCESS) {
      return invalid(param + ".file", "A file part needs a 'file' object.");
    }
    std::string_view filename;
    std::string_view format;  // LiteLLM's extension: the file's MIME type
    (void)file["filename"].get(filename);
    (void)file["format"].get(format);
    std::string_view mime = !format.empty() ? format : mimeFromExtension(filename);
    std::string_view data;
    if (file["file_data"].get(s) == simdjson::SUCCESS) {
      std::string_view urlMime;
      if (parseDataUrl(s, urlMime, data)) {
        appendInlineData(part("user"), urlMime, data);
      } else if (!mime.empty() && !s.starts_with("data:")) {
        appendInlineData(part("user"), mime, s);  // bare base64 with a known type
      } else {
        return invalid(param + ".file.file_data", "file_data must be a base64 data: URL.");
      }
      return std::nullopt;
    }
    if (file["file_id"].get(s) == simdjson::SUCCESS && !s.empty()) {
      // Gemini File API names ("files/abc") and URIs, gs:// objects or URLs.
      appendFileData(part("user"), mime.empty() ? mimeFromExtension(s) : mime, s);
      return std::nullopt;
    }
    return invalid(param + ".file", "A file part needs file_data or file_id.");
  }
  return invalid(param + ".type",
                 fmt::format("Content part type '{}' is not supported by Gemini.", type));
}

std::optional<GatewayError> Contents::user(dom::element content, const std::string& param) {
  std::string_view s;
  dom::array parts;
  if (content.get(s) == simdjson::SUCCESS) {
    text("user", s);
    return std::nullopt;
  }
  if (content.get(parts) != simdjson::SUCCESS) {
    return invalid(param, fmt::format("'{}' must be a string or an array of parts.", param));
  }
  size_t j = 0;
  for (dom::element pe : parts) {
    const std::string pp = fmt::format("{}[{}]", param, j++);
    dom::object p;
    if (pe.get(p) != simdjson::SUCCESS) return invalid(pp, "A content part must be an object.");
    if (auto e = userPart(p, pp)) return e;
  }
  return std::nullopt;
}

std::optional<GatewayError> Contents::functionCall(dom::object fn, std::string_view id,
                                                   const std::string& param) {
  std::string_view name;
  std::string_view arguments;
  if (fn["name"].get(name) != simdjson::SUCCESS || name.empty()) {
    return invalid(param + ".name", "A tool call needs a function name.");
  }
  dom::element argsElem;
  if (fn["arguments"].get(argsElem) == simdjson::SUCCESS && !argsElem.is_null() &&
      argsElem.get(arguments) != simdjson::SUCCESS) {
    return invalid(param + ".arguments", "Tool call arguments must be a JSON string.");
  }
  std::string args = "{}";
  if (arguments.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    dom::element parsed;
    if (parser_.parse(arguments.data(), arguments.size()).get(parsed) != simdjson::SUCCESS ||
        !parsed.is_object()) {
      return invalid(param + ".arguments",
                     "Tool call arguments must be a JSON object for Gemini's functionCall.args.");
    }
    args = simdjson::to_string(parsed);
  }
  // The signature, back in standard padded base64 (the form Gemini sent it in).
  std::string signature;
  if (const size_t sep = id.find(kThoughtSeparator); sep != std::string_view::npos) {
    for (char ch : id.substr(sep + kThoughtSeparator.size())) {
      signature.push_back(ch == '-' ? '+' : ch == '_' ? '/' : ch);
    }
    while (signature.size() % 4 != 0) signature.push_back('=');
  }
  if (signature.empty() && !turnHasCall_ && major_ >= 3) signature = kSkipSignature;
  std::string& out = part("model");
  turnHasCall_ = true;
  out += R"({"functionCall":{"name":)";
  appendJsonString(out, name);
  out += R"(,"args":)";
  out += args;
  out.push_back('}');
  if (!signature.empty()) {
    out += R"(,"thoughtSignature":)";
    appendJsonString(out, signature);
  }
  out.push_back('}');
  return std::nullopt;
}

std::optional<GatewayError> Contents::assistant(dom::object msg, const std::string& param) {
  dom::element content;
  if (msg["content"].get(content) == simdjson::SUCCESS) {
    std::string t;
    if (auto e = joinText(content, param + ".content", t, true)) return e;
    text("model", t);
  }
  dom::element callsElem;
  if (msg["tool_calls"].get(callsElem) == simdjson::SUCCESS && !callsElem.is_null()) {
    dom::array calls;
    if (callsElem.get(calls) != simdjson::SUCCESS) {
      return invalid(param + ".tool_calls", "'tool_calls' must be an array.");
    }
    size_t j = 0;
    for (dom::element call : calls) {
      const std::string cp = fmt::format("{}.tool_calls[{}]", param, j++);
      dom::object fn;
      std::string_view id;
      if (call["function"].get(fn) != simdjson::SUCCESS) {
        return invalid(cp + ".function", "A tool call needs a 'function' object.");
      }
      (void)call["id"].get(id);
      if (auto e = functionCall(fn, id, cp + ".function")) return e;
      std::string_view name;
      (void)fn["name"].get(name);
      calls_.push_back({id, name});
    }
  }
  dom::object legacy;
  if (msg["function_call"].get(legacy) == simdjson::SUCCESS) {
    if (auto e = functionCall(legacy, {}, param + ".function_call")) return e;
  }
  return std::nullopt;
}

std::optional<GatewayError> Contents::toolResult(std::string_view name, dom::element content,
                                                 const std::string& param) {
  std::string t;
  if (auto e = joinText(content, param, t, false)) return e;
  std::string& out = part("user");
  out += R"({"functionResponse":{"name":)";
  appendJsonString(out, name);
  out += R"(,"response":)";
  dom::element parsed;
  if (t.find_first_not_of(" \t\r\n") != std::string::npos &&
      parser_.parse(t).get(parsed) == simdjson::SUCCESS && parsed.is_object()) {
    out += simdjson::to_string(parsed);
  } else {
    out += R"({"content":)";
    appendJsonString(out, t);
    out.push_back('}');
  }
  out += "}}";
  return std::nullopt;
}

std::optional<GatewayError> Contents::run(dom::array messages, std::string& contents,
                                          std::string& systemParts) {
  size_t i = 0;
  for (dom::element me : messages) {
    const std::string param = fmt::format("messages[{}]", i++);
    dom::object msg;
    std::string_view role;
    if (me.get(msg) != simdjson::SUCCESS || msg["role"].get(role) != simdjson::SUCCESS) {
      return invalid(param, fmt::format("'{}' must be an object with a string 'role'.", param));
    }
    dom::element content;
    const bool hasContent = msg["content"].get(content) == simdjson::SUCCESS;
    if (role == "system" || role == "developer") {
      if (!hasContent) return invalid(param + ".content", "A system message needs content.");
      if (auto e = system(content, param + ".content")) return e;
    } else if (role == "user") {
      if (!hasContent) return invalid(param + ".content", "A user message needs content.");
      if (auto e = user(content, param + ".content")) return e;
    } else if (role == "assistant") {
      if (auto e = assistant(msg, param)) return e;
    } else if (role == "tool" || role == "function") {
      std::string_view name;
      if (role == "tool") {
        std::string_view id;
        if (msg["tool_call_id"].get(id) != simdjson::SUCCESS) {
          return invalid(param + ".tool_call_id", "A tool message needs a 'tool_call_id'.");
        }
        for (auto it = calls_.rbegin(); it != calls_.rend() && name.empty(); ++it) {
          if (it->id == id) name = it->name;
        }
      }
      if (name.empty()) (void)msg["name"].get(name);
      if (name.empty()) {
        return invalid(param + ".tool_call_id",
                       fmt::format("'{}' answers no earlier assistant tool call; Gemini needs "
                                   "the function's name.",
                                   param));
      }
      if (!hasContent) return invalid(param + ".content", "A tool message needs content.");
      if (auto e = toolResult(name, content, param + ".content")) return e;
    } else {
      return invalid(param + ".role", fmt::format("Unknown message role '{}'.", role));
    }
  }
  flushTurn();
  if (contents_.empty()) {
    if (system_.empty()) {
      return invalid("messages", "The messages hold no content to send.");
    }
    contents_ = R"({"role":"user","parts":[)" + system_ + "]}";
    system_.clear();
  }
  contents = "[" + contents_ + "]";
  systemParts = std::move(system_);
  return std::nullopt;
}

}  // namespace

std::optional<GatewayError> buildContents(dom::array messages, int major, std::string& contents,
                                          std::string& systemParts) {
  Contents c(major);
  return c.run(messages, contents, systemParts);
}

}  // namespace llmux::providers::gemini::detail
