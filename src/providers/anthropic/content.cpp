// OpenAI content parts as Anthropic content blocks (wire_formats.md §1.3, §2.2, §2.6): text;
// image_url / file data: URLs → base64 image or (PDF) document sources; http(s) URLs → url
// sources where the host fetches them (not on Vertex AI: a 400 there, the engine may inline remote
// images first); input_audio and file_id have no Anthropic form (400); Anthropic-native
// image/document/thinking blocks pass through; cache_control on a part is carried over; empty
// text is skipped (the API rejects empty text blocks).
#include <fmt/format.h>
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/text.hpp"
#include "providers/anthropic/request_internal.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::anthropic::detail {
namespace {

namespace dom = simdjson::dom;
using Err = std::optional<GatewayError>;

GatewayError invalid(std::string message, std::string param) {
  return GatewayError::invalidRequest(std::move(message), std::move(param));
}

// Content the provider cannot take. Unlike top-level parameters it is never dropped (that would
// silently change the prompt), so the message does not suggest drop_params.
GatewayError unsupportedContent(std::string param, std::string_view provider,
                                std::string_view detail) {
  std::string message =
      fmt::format("Parameter '{}' is not supported by provider '{}': {}.", param, provider, detail);
  return GatewayError::invalidRequest(std::move(message), std::move(param),
                                      "unsupported_parameter");
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void appendTextBlock(std::string& list, std::string_view text) {
  separate(list);
  list += R"({"type":"text","text":)";
  appendJsonString(list, text);
}

// "data:<media type>[;param...];base64,<data>"
struct DataUrl {
  std::string mediaType;  // lowercased
  std::string_view data;
};

std::optional<DataUrl> parseDataUrl(std::string_view url) {
  url.remove_prefix(5);  // "data:"
  const size_t comma = url.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  const std::string_view header = url.substr(0, comma);
  constexpr std::string_view kBase64 = ";base64";
  if (header.size() < kBase64.size() ||
      !startsWithNoCase(header.substr(header.size() - kBase64.size()), kBase64)) {
    return std::nullopt;
  }
  DataUrl d{lowerAscii(header.substr(0, header.find(';'))), url.substr(comma + 1)};
  if (d.mediaType == "image/jpg") d.mediaType = "image/jpeg";  // a common misspelling
  return d;
}

// An image or file URL as an image/document block; `param` names it in errors.
Err appendSourceBlock(std::string& list, std::string_view url, const MessageContext& ctx,
                      const std::string& param) {
  if (startsWithNoCase(url, "data:")) {
    const auto d = parseDataUrl(url);
    if (!d)
      return invalid("Data URLs must be base64-encoded (data:<media type>;base64,<data>).", param);
    const bool pdf = d->mediaType == "application/pdf";
    if (!pdf && !d->mediaType.starts_with("image/")) {
      return invalid(fmt::format("Media type '{}' is not supported by provider '{}'; send an image "
                                 "or a PDF.",
                                 d->mediaType, ctx.provider),
                     param);
    }
    separate(list);
    list += pdf ? R"({"type":"document","source":{"type":"base64","media_type":)"
                : R"({"type":"image","source":{"type":"base64","media_type":)";
    appendJsonString(list, d->mediaType);
    list += R"(,"data":)";
    appendJsonString(list, d->data);
    list += "}";
    return std::nullopt;
  }
  if (startsWithNoCase(url, "https://") || startsWithNoCase(url, "http://")) {
    if (!ctx.urlSources) {
      return unsupportedContent(param, ctx.provider,
                                "remote image URLs are not fetched by this host; send a base64 "
                                "data: URL");
    }
    separate(list);
    list += R"({"type":"image","source":{"type":"url","url":)";
    appendJsonString(list, url);
    list += "}";
    return std::nullopt;
  }
  return invalid("Image URLs must be http(s) URLs or base64 data: URLs.", param);
}

// One OpenAI content part appended to `list` as Anthropic blocks (none for empty text). `cached`
// tells whether the block carries its own cache_control.
Err appendPart(std::string& list, dom::element partElem, Site site, const MessageContext& ctx,
               size_t i, size_t j, bool& cached) {
  cached = false;
  const std::string path = fmt::format("messages[{}].content[{}]", i, j);
  dom::object part;
  std::string_view type;
  if (partElem.get_object().get(part) != simdjson::SUCCESS ||
      part.at_key("type").get_string().get(type) != simdjson::SUCCESS) {
    return invalid("Each content part must be an object with a string 'type'.", path);
  }
  if (type == "text" || (type == "refusal" && site == Site::Assistant)) {
    std::string_view text;
    if (part.at_key(type).get_string().get(text) != simdjson::SUCCESS) {
      return invalid(fmt::format("A '{}' content part needs a string '{}'.", type, type),
                     path + "." + std::string(type));
    }
    if (text.empty()) return std::nullopt;
    appendTextBlock(list, text);
    cached = appendCacheControl(list, part);
    list.push_back('}');
    return std::nullopt;
  }
  const bool userSide = site == Site::User || site == Site::Tool;
  if (type == "image_url" && userSide) {
    // {"image_url":{"url":...,"detail":...}}; LiteLLM also accepts a bare string.
    dom::element iu;
    std::string_view url;
    if (part.at_key("image_url").get(iu) != simdjson::SUCCESS ||
        (iu.get_string().get(url) != simdjson::SUCCESS &&
         iu["url"].get_string().get(url) != simdjson::SUCCESS)) {
      return invalid("An image_url content part needs image_url.url.", path + ".image_url");
    }
    if (auto err = appendSourceBlock(list, url, ctx, path + ".image_url")) return err;
    cached = appendCacheControl(list, part);
    list.push_back('}');
    return std::nullopt;
  }
  if (type == "file" && site == Site::User) {
    dom::object file;
    if (part.at_key("file").get_object().get(file) != simdjson::SUCCESS) {
      return invalid("A file content part needs a 'file' object.", path + ".file");
    }
    std::string_view data;
    if (file.at_key("file_data").get_string().get(data) == simdjson::SUCCESS) {
      if (!startsWithNoCase(data, "data:")) {
        return invalid("file.file_data must be a base64 data: URL.", path + ".file.file_data");
      }
      if (auto err = appendSourceBlock(list, data, ctx, path + ".file.file_data")) return err;
      cached = appendCacheControl(list, part);
      list.push_back('}');
      return std::nullopt;
    }
    return unsupportedContent(path + ".file.file_id", ctx.provider,
                              "OpenAI file ids mean nothing upstream; send file_data");
  }
  if (type == "input_audio" && site == Site::User) {
    return unsupportedContent(path + ".input_audio", ctx.provider, "no audio input");
  }
  // Anthropic-native blocks sent through the OpenAI schema (as LiteLLM users do) pass unchanged.
  const bool native =
      (userSide && (type == "image" || type == "document")) ||
      (site == Site::Assistant && (type == "thinking" || type == "redacted_thinking"));
  if (native) {
    separate(list);
    appendRaw(list, partElem);
    dom::element cc;
    cached = part.at_key("cache_control").get(cc) == simdjson::SUCCESS && !cc.is_null();
    return std::nullopt;
  }
  return invalid(fmt::format("Content part type '{}' is not supported here by provider '{}'.", type,
                             ctx.provider),
                 path + ".type");
}

}  // namespace

// `content` (string or parts) appended as blocks. `plain` receives a string content.
std::optional<GatewayError> appendContent(std::string& list, dom::element content, Site site,
                                          const MessageContext& ctx, size_t i, bool& lastCached,
                                          std::optional<std::string_view>& plain) {
  std::string_view text;
  if (content.get_string().get(text) == simdjson::SUCCESS) {
    if (text.empty()) return std::nullopt;
    appendTextBlock(list, text);
    list.push_back('}');
    lastCached = false;
    plain = text;
    return std::nullopt;
  }
  dom::array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) {
    return invalid("Message content must be a string or an array of content parts.",
                   fmt::format("messages[{}].content", i));
  }
  size_t j = 0;
  for (dom::element part : parts) {
    const size_t before = list.size();
    bool cached = false;
    if (auto err = appendPart(list, part, site, ctx, i, j++, cached)) return err;
    if (list.size() != before) lastCached = cached;
  }
  return std::nullopt;
}

void separate(std::string& list) {
  if (!list.empty()) list.push_back(',');
}

// Marks the last block of `list` (it ends in '}') with a cache_control value.
void markLastBlock(std::string& list, dom::element cacheControl) {
  std::string cc = R"(,"cache_control":)";
  appendRaw(cc, cacheControl);
  list.insert(list.size() - 1, cc);
}

bool appendCacheControl(std::string& out, dom::object obj) {
  dom::element cc;
  if (obj.at_key("cache_control").get(cc) != simdjson::SUCCESS || cc.is_null()) return false;
  out += R"(,"cache_control":)";
  appendRaw(out, cc);
  return true;
}

void appendRaw(std::string& out, dom::element value) {
  out += simdjson::to_string(value);
}

}  // namespace llmux::providers::anthropic::detail
