// OpenAI messages → Converse "system" and "messages" (wire_formats.md §4.3, §4.7).
//
//   system / developer      → system[{text}]  (wherever they appear; Converse has one system list)
//   user text               → {text}
//   user image_url data:    → {image:{format: png|jpeg|gif|webp, source:{bytes: <base64>}}}
//   user image_url http(s)  → unsupported: Converse takes bytes only (the engine may fetch later)
//   user file (data: URL)   → {document:{format, name, source:{bytes}}} (or {image} for images)
//   assistant text          → {text};  tool_calls → {toolUse:{toolUseId, name, input: <object>}}
//   tool                    → user {toolResult:{toolUseId, content:[{text}], status:"success"}}
//
// Converse needs strictly alternating user/assistant turns, so consecutive turns of one role
// (e.g. several tool results followed by a user message) are merged, and turns that end up empty
// are skipped (Bedrock rejects empty content and blank text blocks).
#include <simdjson.h>

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "providers/bedrock/request_internal.hpp"

namespace llmux::providers::bedrock::detail {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

// Collects content blocks into turns, merging consecutive turns of the same role.
class TurnWriter {
 public:
  explicit TurnWriter(std::string& messages) : messages_(messages) {}

  // Starts (or continues) a turn of `role` and returns the buffer for its next block.
  std::string& block(std::string_view role) {
    if (role != role_) {
      flush();
      role_ = role;
    }
    if (!blocks_.empty()) blocks_.push_back(',');
    return blocks_;
  }
  void flush() {
    if (blocks_.empty()) return;
    if (!messages_.empty()) messages_.push_back(',');
    messages_ += R"({"role":")";
    messages_ += role_;
    messages_ += R"(","content":[)";
    messages_ += blocks_;
    messages_ += "]}";
    blocks_.clear();
  }

 private:
  std::string& messages_;
  std::string_view role_;
  std::string blocks_;
};

void appendTextBlock(std::string& out, std::string_view text) {
  out += R"({"text":)";
  appendJsonString(out, text);
  out.push_back('}');
}

// A data: URL split into its media type and base64 payload.
struct DataUrl {
  std::string_view mime;
  std::string_view base64;
};

// nullopt when `url` is not a base64 data: URL.
std::optional<DataUrl> parseDataUrl(std::string_view url) {
  if (url.size() < 5 || url.substr(0, 5) != "data:") return std::nullopt;
  const size_t comma = url.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  std::string_view meta = url.substr(5, comma - 5);
  constexpr std::string_view kBase64 = ";base64";
  if (meta.size() < kBase64.size() || meta.substr(meta.size() - kBase64.size()) != kBase64) {
    return std::nullopt;
  }
  meta.remove_suffix(kBase64.size());
  DataUrl d;
  d.mime = meta.substr(0, meta.find(';'));  // parameters such as ";charset=" are not needed
  d.base64 = url.substr(comma + 1);
  return d;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalsLower(std::string_view s, std::string_view lowerWord) {
  if (s.size() != lowerWord.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (lower(s[i]) != lowerWord[i]) return false;
  }
  return true;
}

// The Converse ImageFormat for a media type, or "" when Bedrock has none.
std::string_view imageFormat(std::string_view mime) {
  if (equalsLower(mime, "image/png")) return "png";
  if (equalsLower(mime, "image/jpeg") || equalsLower(mime, "image/jpg")) return "jpeg";
  if (equalsLower(mime, "image/gif")) return "gif";
  if (equalsLower(mime, "image/webp")) return "webp";
  return {};
}

// The Converse DocumentFormat for a media type, or "".
std::string_view documentFormat(std::string_view mime) {
  if (equalsLower(mime, "application/pdf")) return "pdf";
  if (equalsLower(mime, "text/csv")) return "csv";
  if (equalsLower(mime, "application/msword")) return "doc";
  if (equalsLower(mime,
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document")) {
    return "docx";
  }
  if (equalsLower(mime, "application/vnd.ms-excel")) return "xls";
  if (equalsLower(mime, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")) {
    return "xlsx";
  }
  if (equalsLower(mime, "text/html")) return "html";
  if (equalsLower(mime, "text/plain")) return "txt";
  if (equalsLower(mime, "text/markdown")) return "md";
  return {};
}

void appendImageBlock(std::string& out, std::string_view format, std::string_view base64) {
  out += R"({"image":{"format":")";
  out += format;
  out += R"(","source":{"bytes":)";
  appendJsonString(out, base64);
  out += "}}}";
}

// Bedrock document names allow letters, digits, single spaces, hyphens, parentheses and square
// brackets (so "report.pdf" becomes "report-pdf"); anything else becomes a hyphen.
std::string documentName(std::string_view filename, size_t ordinal) {
  std::string name;
  for (char c : filename) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '(' || c == ')' || c == '[' || c == ']';
    if (c == ' ') {
      if (!name.empty() && name.back() != ' ') name.push_back(' ');
    } else {
      name.push_back(keep ? c : '-');
    }
    if (name.size() >= 200) break;
  }
  while (!name.empty() && name.back() == ' ') name.pop_back();
  if (name.empty()) name = fmt::format("document-{}", ordinal);
  return name;
}

// Bedrock tool-use ids must match [a-zA-Z0-9_-]{1,64}. Ids from other sources (or other providers
// behind this gateway) are rewritten the same way in toolUse and toolResult, so pairs still match.
std::string toolUseId(std::string_view id) {
  std::string out;
  for (char c : id.substr(0, 64)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  return out;
}

// Text from a string or an array of text (and, for assistants, refusal) parts, one block each.
// Other part types are unsupported here (system, assistant and tool messages carry text only).
std::optional<GatewayError> textBlocks(dom::element content, std::string_view path,
                                       const DropContext& ctx, TurnWriter* turns,
                                       std::string_view role, std::string* flat) {
  auto emit = [&](std::string_view text) {
    if (text.empty()) return;
    if (turns != nullptr) {
      appendTextBlock(turns->block(role), text);
    } else {
      if (!flat->empty()) flat->push_back(',');
      appendTextBlock(*flat, text);
    }
  };
  std::string_view text;
  if (content.is_null()) return std::nullopt;
  if (content.get_string().get(text) == SUCCESS) {
    emit(text);
    return std::nullopt;
  }
  dom::array parts;
  if (content.get_array().get(parts) != SUCCESS) {
    return badValue(std::string(path), "must be a string or an array of content parts");
  }
  size_t j = 0;
  for (dom::element part : parts) {
    const std::string partPath = fmt::format("{}[{}]", path, j++);
    std::string_view type;
    if (part["type"].get_string().get(type) != SUCCESS) {
      return badValue(partPath, "a content part needs a string 'type'");
    }
    const std::string_view key = type == "refusal" ? "refusal" : "text";
    if (type == "text" || (type == "refusal" && role == "assistant")) {
      if (part[key].get_string().get(text) != SUCCESS) {
        return badValue(partPath, fmt::format("a {} part needs a string '{}'", type, key));
      }
      emit(text);
    } else if (auto err = ctx.unsupported(
                   partPath, fmt::format("only text parts are accepted in {} messages", role))) {
      return err;
    }
  }
  return std::nullopt;
}

// One user content part (text, image_url, file) as a Converse block.
std::optional<GatewayError> userPart(dom::element part, const std::string& path,
                                     const DropContext& ctx, TurnWriter& turns, size_t& documents) {
  std::string_view type;
  if (part["type"].get_string().get(type) != SUCCESS) {
    return badValue(path, "a content part needs a string 'type'");
  }
  if (type == "text") {
    std::string_view text;
    if (part["text"].get_string().get(text) != SUCCESS) {
      return badValue(path, "a text part needs a string 'text'");
    }
    if (!text.empty()) appendTextBlock(turns.block("user"), text);
    return std::nullopt;
  }
  if (type == "image_url") {
    const std::string param = path + ".image_url";
    std::string_view url;
    dom::element img;
    if (part["image_url"].get(img) != SUCCESS ||
        (img.get_string().get(url) != SUCCESS && img["url"].get_string().get(url) != SUCCESS)) {
      return badValue(param, "needs a string 'url'");
    }
    if (url.starts_with("http://") || url.starts_with("https://")) {
      return ctx.unsupported(
          param,
          "Bedrock Converse accepts image bytes only, not image URLs; send the "
          "image as a base64 data: URL (llmux does not fetch remote images yet)");
    }
    const auto data = parseDataUrl(url);
    if (!data) return badValue(param, "the url must be an http(s) URL or a base64 data: URL");
    const std::string_view format = imageFormat(data->mime);
    if (format.empty()) {
      return ctx.unsupported(param, fmt::format("image type '{}' is not one of Bedrock's png, "
                                                "jpeg, gif, webp",
                                                data->mime));
    }
    appendImageBlock(turns.block("user"), format, data->base64);
    return std::nullopt;
  }
  if (type == "file") {
    const std::string param = path + ".file";
    dom::element file;
    if (part["file"].get(file) != SUCCESS || !file.is_object()) {
      return badValue(param, "must be an object");
    }
    std::string_view fileData;
    if (file["file_data"].get_string().get(fileData) != SUCCESS) {
      return ctx.unsupported(param, "Converse takes file contents (file_data), not file ids");
    }
    const auto data = parseDataUrl(fileData);
    if (!data) return badValue(param + ".file_data", "must be a base64 data: URL");
    if (const std::string_view format = imageFormat(data->mime); !format.empty()) {
      appendImageBlock(turns.block("user"), format, data->base64);
      return std::nullopt;
    }
    const std::string_view format = documentFormat(data->mime);
    if (format.empty()) {
      return ctx.unsupported(
          param, fmt::format("file type '{}' is not a Bedrock document format", data->mime));
    }
    std::string_view filename;
    (void)file["filename"].get_string().get(filename);
    std::string& out = turns.block("user");
    out += R"({"document":{"format":")";
    out += format;
    out += R"(","name":)";
    appendJsonString(out, documentName(filename, ++documents));
    out += R"(,"source":{"bytes":)";
    appendJsonString(out, data->base64);
    out += "}}}";
    return std::nullopt;
  }
  return ctx.unsupported(path, fmt::format("content parts of type '{}' are not supported", type));
}

std::optional<GatewayError> userMessage(dom::element content, const std::string& path,
                                        const DropContext& ctx, TurnWriter& turns,
                                        size_t& documents) {
  std::string_view text;
  if (content.get_string().get(text) == SUCCESS) {
    if (!text.empty()) appendTextBlock(turns.block("user"), text);
    return std::nullopt;
  }
  dom::array parts;
  if (content.get_array().get(parts) != SUCCESS) {
    return badValue(path, "must be a string or an array of content parts");
  }
  size_t j = 0;
  for (dom::element part : parts) {
    if (auto err = userPart(part, fmt::format("{}[{}]", path, j++), ctx, turns, documents)) {
      return err;
    }
  }
  return std::nullopt;
}

std::optional<GatewayError> assistantToolCalls(dom::element calls, const std::string& path,
                                               TurnWriter& turns, dom::parser& argParser) {
  dom::array arr;
  if (calls.get_array().get(arr) != SUCCESS) return badValue(path, "must be an array");
  size_t k = 0;
  for (dom::element call : arr) {
    const std::string callPath = fmt::format("{}[{}]", path, k++);
    std::string_view id;
    std::string_view name;
    if (call["id"].get_string().get(id) != SUCCESS || id.empty()) {
      return badValue(callPath + ".id", "a tool call needs a non-empty string id");
    }
    if (call["function"]["name"].get_string().get(name) != SUCCESS || name.empty()) {
      return badValue(callPath + ".function.name", "a tool call needs a function name");
    }
    std::string_view args;
    dom::element argsElem;
    if (call["function"]["arguments"].get(argsElem) == SUCCESS && !argsElem.is_null() &&
        argsElem.get_string().get(args) != SUCCESS) {
      return badValue(callPath + ".function.arguments", "must be a JSON string");
    }
    std::string input = "{}";
    if (args.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      dom::element parsed;
      if (argParser.parse(args.data(), args.size()).get(parsed) != SUCCESS || !parsed.is_object()) {
        return badValue(callPath + ".function.arguments",
                        "Bedrock needs the arguments as a JSON object (toolUse.input)");
      }
      input = simdjson::to_string(parsed);
    }
    std::string& out = turns.block("assistant");
    out += R"({"toolUse":{"toolUseId":)";
    appendJsonString(out, toolUseId(id));
    out += R"(,"name":)";
    appendJsonString(out, name);
    out += R"(,"input":)";
    out += input;
    out += "}}";
  }
  return std::nullopt;
}

std::optional<GatewayError> toolMessage(dom::element msg, const std::string& path,
                                        const DropContext& ctx, bool withStatus,
                                        TurnWriter& turns) {
  std::string_view id;
  if (msg["tool_call_id"].get_string().get(id) != SUCCESS || id.empty()) {
    return badValue(path + ".tool_call_id", "a tool message needs a non-empty tool_call_id");
  }
  // OpenAI tool results are text, so they stay {text} blocks: a {json} block would change what
  // models that accept only text see. Status "success" because OpenAI has no error flag.
  std::string content;
  dom::element c;
  if (msg["content"].get(c) == SUCCESS) {
    if (auto err = textBlocks(c, path + ".content", ctx, nullptr, "tool", &content)) return err;
  }
  std::string& out = turns.block("user");
  out += R"({"toolResult":{"toolUseId":)";
  appendJsonString(out, toolUseId(id));
  out += R"(,"content":[)";
  out += content;
  out += withStatus ? R"(],"status":"success"}})" : "]}}";
  return std::nullopt;
}

}  // namespace

bool hasToolHistory(dom::element messages) {
  dom::array arr;
  if (messages.get_array().get(arr) != SUCCESS) return false;
  for (dom::element m : arr) {
    std::string_view role;
    if (m["role"].get_string().get(role) != SUCCESS) continue;
    if (role == "tool") return true;
    dom::array calls;
    if (role == "assistant" && m["tool_calls"].get_array().get(calls) == SUCCESS &&
        calls.size() > 0) {
      return true;
    }
  }
  return false;
}

std::optional<GatewayError> translateMessages(dom::element messages, const DropContext& ctx,
                                              bool toolResultStatus, Conversation& conv) {
  dom::array arr;
  if (messages.get_array().get(arr) != SUCCESS) {
    return badValue("messages", "must be an array of messages");
  }
  TurnWriter turns(conv.messages);
  dom::parser argParser;  // for assistant tool-call arguments (JSON inside a string)
  size_t documents = 0;
  size_t i = 0;
  for (dom::element msg : arr) {
    const std::string path = fmt::format("messages[{}]", i++);
    std::string_view role;
    if (!msg.is_object() || msg["role"].get_string().get(role) != SUCCESS) {
      return badValue(path, "a message must be an object with a string 'role'");
    }
    dom::element content;
    const bool haveContent = msg["content"].get(content) == SUCCESS && !content.is_null();
    const std::string contentPath = path + ".content";
    if (role == "system" || role == "developer") {
      if (haveContent) {
        if (auto err = textBlocks(content, contentPath, ctx, nullptr, role, &conv.system)) {
          return err;
        }
      }
    } else if (role == "user") {
      if (!haveContent) return badValue(contentPath, "a user message needs content");
      if (auto err = userMessage(content, contentPath, ctx, turns, documents)) return err;
    } else if (role == "assistant") {
      if (haveContent) {
        if (auto err = textBlocks(content, contentPath, ctx, &turns, "assistant", nullptr)) {
          return err;
        }
      }
      dom::element calls;
      if (msg["tool_calls"].get(calls) == SUCCESS && !calls.is_null()) {
        if (auto err = assistantToolCalls(calls, path + ".tool_calls", turns, argParser)) {
          return err;
        }
      }
      dom::element fc;
      if (msg["function_call"].get(fc) == SUCCESS && !fc.is_null()) {
        if (auto err = ctx.unsupported(path + ".function_call",
                                       "the deprecated function_call form is not translated; "
                                       "use tool_calls")) {
          return err;
        }
      }
    } else if (role == "tool") {
      if (auto err = toolMessage(msg, path, ctx, toolResultStatus, turns)) return err;
    } else if (role == "function") {
      if (auto err = ctx.unsupported(path,
                                     "deprecated role 'function' is not translated; use "
                                     "tool messages")) {
        return err;
      }
    } else {
      return badValue(path + ".role", fmt::format("unknown role '{}'", role));
    }
  }
  turns.flush();
  return std::nullopt;
}

}  // namespace llmux::providers::bedrock::detail
