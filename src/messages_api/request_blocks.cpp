// Anthropic content blocks → OpenAI content parts (wire_formats.md §2.2 → §1.3); the decisions are
// listed in request.cpp.
#include <simdjson.h>

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "messages_api/request_internal.hpp"

namespace llmux::messages_api::detail {

// A text block ({"type":"text","text":...}) as a text part.
MaybeError convertText(dom::element block, const std::string& path, std::string& parts) {
  std::string_view text;
  if (auto e = requireString(block, "text", path, text)) return e;
  dom::element cc;
  bool hasCc = false;
  if (auto e = readCacheControl(block, path, cc, hasCc)) return e;
  appendTextPart(parts, text, hasCc ? &cc : nullptr);
  return std::nullopt;
}

MaybeError convertImage(dom::element block, const std::string& path, std::string& parts) {
  dom::element source;
  if (!member(block, "source", source) || !source.is_object()) {
    return bad(path + ".source", "Field required");
  }
  dom::element cc;
  bool hasCc = false;
  if (auto e = readCacheControl(block, path, cc, hasCc)) return e;
  const std::string srcPath = path + ".source";
  const std::string_view type = detail::stringOr(source, "type");
  comma(parts);
  parts += R"({"type":"image_url","image_url":{"url":)";
  if (type == "base64") {
    std::string_view mediaType, data;
    if (auto e = requireString(source, "media_type", srcPath, mediaType)) return e;
    if (auto e = requireString(source, "data", srcPath, data)) return e;
    std::string url;
    url.reserve(data.size() + mediaType.size() + 13);
    url += "data:";
    url += mediaType;
    url += ";base64,";
    url += data;
    appendJsonString(parts, url);
  } else if (type == "url") {
    std::string_view url;
    if (auto e = requireString(source, "url", srcPath, url)) return e;
    appendJsonString(parts, url);
  } else {
    return bad(srcPath + ".type",
               type == "file" ? "image sources of type 'file' (Files API) are not supported on "
                                "this endpoint; send the image as base64 or a URL"
                              : "Input should be 'base64' or 'url'");
  }
  parts.push_back('}');
  appendCacheControl(parts, hasCc ? &cc : nullptr);
  parts.push_back('}');
  return std::nullopt;
}

namespace {

// Text of a block list made of text blocks (search_result content), joined with "\n".
MaybeError joinTexts(dom::element blocks, const std::string& path, std::string& text) {
  dom::array arr;
  if (blocks.get_array().get(arr) != SUCCESS) return bad(path, "Input should be a valid list");
  size_t j = 0;
  for (dom::element b : arr) {
    const std::string p = at(path, j++);
    std::string_view t;
    if (detail::stringOr(b, "type") != "text") return bad(p + ".type", "Input should be 'text'");
    if (auto e = requireString(b, "text", p, t)) return e;
    if (!text.empty()) text.push_back('\n');
    text += t;
  }
  return std::nullopt;
}

}  // namespace

MaybeError searchResultText(dom::element block, const std::string& path, std::string& text) {
  std::string_view source, title;
  if (auto e = requireString(block, "source", path, source)) return e;
  if (auto e = requireString(block, "title", path, title)) return e;
  dom::element content;
  if (!member(block, "content", content)) return bad(path + ".content", "Field required");
  std::string body;
  if (auto e = joinTexts(content, path + ".content", body)) return e;
  text = fmt::format("Search result: {}\nSource: {}\n\n{}", title, source, body);
  return std::nullopt;
}

namespace {

MaybeError convertSearchResult(dom::element block, const std::string& path, std::string& parts) {
  std::string text;
  if (auto e = searchResultText(block, path, text)) return e;
  dom::element cc;
  bool hasCc = false;
  if (auto e = readCacheControl(block, path, cc, hasCc)) return e;
  appendTextPart(parts, text, hasCc ? &cc : nullptr);
  return std::nullopt;
}

MaybeError convertDocument(dom::element block, const std::string& path, std::string& parts) {
  dom::element source;
  if (!member(block, "source", source) || !source.is_object()) {
    return bad(path + ".source", "Field required");
  }
  const std::string srcPath = path + ".source";
  const std::string_view type = detail::stringOr(source, "type");
  const std::string_view title = detail::stringOr(block, "title");
  const std::string_view context = detail::stringOr(block, "context");
  dom::element cc;
  bool hasCc = false;
  if (auto e = readCacheControl(block, path, cc, hasCc)) return e;

  if (type == "base64") {
    std::string_view mediaType, data;
    if (auto e = requireString(source, "media_type", srcPath, mediaType)) return e;
    if (auto e = requireString(source, "data", srcPath, data)) return e;
    if (mediaType != "application/pdf") {
      return bad(srcPath + ".media_type", "Input should be 'application/pdf'");
    }
    comma(parts);
    parts += R"({"type":"file","file":{"filename":)";
    appendJsonString(parts, title.empty() ? std::string_view("document.pdf") : title);
    std::string url;
    url.reserve(data.size() + 29);
    url += "data:application/pdf;base64,";
    url += data;
    parts += R"(,"file_data":)";
    appendJsonString(parts, url);
    parts.push_back('}');
    appendCacheControl(parts, hasCc ? &cc : nullptr);
    parts.push_back('}');
    return std::nullopt;
  }
  // Plain-text documents become text; title and context lead so the model knows what it reads.
  std::string header;
  for (std::string_view line : {title, context}) {
    if (line.empty()) continue;
    if (!header.empty()) header += "\n\n";
    header += line;
  }
  const std::string lead = header.empty() ? std::string() : header + "\n\n";
  if (type == "text") {
    std::string_view data;
    if (auto e = requireString(source, "data", srcPath, data)) return e;
    appendTextPart(parts, lead + std::string(data), hasCc ? &cc : nullptr);
    return std::nullopt;
  }
  if (type == "content") {
    dom::element content;
    if (!member(source, "content", content)) return bad(srcPath + ".content", "Field required");
    std::string_view s;
    if (content.get_string().get(s) == SUCCESS) {
      appendTextPart(parts, lead + std::string(s), hasCc ? &cc : nullptr);
      return std::nullopt;
    }
    dom::array arr;
    if (content.get_array().get(arr) != SUCCESS) {
      return bad(srcPath + ".content", "Input should be a valid string or list");
    }
    if (!header.empty()) appendTextPart(parts, header, nullptr);
    size_t j = 0;
    for (dom::element b : arr) {
      const std::string p = at(srcPath + ".content", j++);
      const std::string_view bt = detail::stringOr(b, "type");
      if (bt == "text") {
        if (auto e = convertText(b, p, parts)) return e;
      } else if (bt == "image") {
        if (auto e = convertImage(b, p, parts)) return e;
      } else {
        return bad(p + ".type", "Input should be 'text' or 'image'");
      }
    }
    return std::nullopt;
  }
  if (type == "url" || type == "file") {
    return bad(srcPath + ".type",
               fmt::format("document sources of type '{}' are not supported on this endpoint; "
                           "send the document as base64 or text",
                           type));
  }
  return bad(srcPath + ".type", "Input should be 'base64', 'text' or 'content'");
}

}  // namespace

MaybeError convertUserPart(dom::element block, std::string_view type, const std::string& path,
                           std::string& parts) {
  if (type == "text") return convertText(block, path, parts);
  if (type == "image") return convertImage(block, path, parts);
  if (type == "document") return convertDocument(block, path, parts);
  if (type == "search_result") return convertSearchResult(block, path, parts);
  if (type.empty()) return bad(path + ".type", "Field required");
  return bad(path + ".type",
             fmt::format("content block type '{}' is not supported in {} turns", type, "user"));
}

}  // namespace llmux::messages_api::detail
