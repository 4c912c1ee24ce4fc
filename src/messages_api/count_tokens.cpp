// /v1/messages/count_tokens when the backend has no counter: a deliberately simple estimate.
//
//   text            one token per started 4 characters (code points) of all text the model reads:
//                   system, text blocks, tool_result text, text documents, search results,
//                   tool_use name + minified input
//   tool schemas    the same over each tool's name, description and minified input_schema, plus
//                   346 tokens once when tools are present (the size of the tool-use system prompt
//                   Anthropic documents for recent models with tool_choice auto)
//   images          1,600 tokens each (about the most one image costs: width × height / 750 at
//                   Anthropic's 1.15-megapixel scaling limit)
//   PDFs            2,000 tokens per estimated page (text plus page image), one page per started
//                   64 KiB of decoded PDF
//   overhead        3 tokens per request, 4 per message (role and turn markers)
// Thinking blocks from earlier assistant turns are not counted: Anthropic ignores them, and this
// gateway drops them before the model sees them. Real tokenizers differ by model and language;
// the estimate is for budgeting (e.g. Claude Code's context meter), not billing.
#include <simdjson.h>

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "messages_api/internal.hpp"
#include "messages_api/messages_api.hpp"

namespace llmux::messages_api {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

constexpr int64_t kCharsPerToken = 4;
constexpr int64_t kToolSystemPrompt = 346;
constexpr int64_t kImageTokens = 1600;
constexpr int64_t kPdfPageTokens = 2000;
constexpr int64_t kPdfPageBytes = int64_t{64} * 1024;
constexpr int64_t kRequestOverhead = 3;
constexpr int64_t kMessageOverhead = 4;

struct Tally {
  int64_t chars = 0;
  int64_t tokens = 0;  // fixed costs (images, documents, overheads)

  void text(std::string_view s) {
    for (char c : s) {
      if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;  // not a continuation byte
    }
  }
  void json(dom::element e) { text(simdjson::to_string(e)); }
};

void countBlocks(dom::element content, Tally& t, int depth);

void countDocument(dom::element block, Tally& t, int depth) {
  dom::element source;
  if (block["source"].get(source) != SUCCESS) return;
  const std::string_view type = detail::stringOr(source, "type");
  t.text(detail::stringOr(block, "title"));
  t.text(detail::stringOr(block, "context"));
  if (type == "base64") {
    const auto bytes = static_cast<int64_t>(detail::stringOr(source, "data").size()) / 4 * 3;
    t.tokens += kPdfPageTokens * (1 + bytes / kPdfPageBytes);
  } else if (type == "text") {
    t.text(detail::stringOr(source, "data"));
  } else if (type == "content") {
    dom::element c;
    if (source["content"].get(c) == SUCCESS) countBlocks(c, t, depth + 1);
  } else {
    t.tokens += kPdfPageTokens;  // a URL or file: size unknown, count a page
  }
}

// A content value: a string or an array of blocks. `depth` bounds nesting (documents and tool
// results contain blocks; nothing deeper is valid).
void countBlocks(dom::element content, Tally& t, int depth) {
  std::string_view s;
  if (content.get_string().get(s) == SUCCESS) {
    t.text(s);
    return;
  }
  dom::array blocks;
  if (depth > 3 || content.get_array().get(blocks) != SUCCESS) return;
  for (dom::element b : blocks) {
    const std::string_view type = detail::stringOr(b, "type");
    if (type == "text") {
      t.text(detail::stringOr(b, "text"));
    } else if (type == "image") {
      t.tokens += kImageTokens;
    } else if (type == "document") {
      countDocument(b, t, depth);
    } else if (type == "tool_use") {
      t.text(detail::stringOr(b, "name"));
      dom::element input;
      if (b["input"].get(input) == SUCCESS) t.json(input);
    } else if (type == "tool_result" || type == "search_result") {
      t.text(detail::stringOr(b, "title"));
      t.text(detail::stringOr(b, "source"));
      dom::element c;
      if (b["content"].get(c) == SUCCESS) countBlocks(c, t, depth + 1);
    }
    // thinking / redacted_thinking and unknown blocks: not counted (see above)
  }
}

}  // namespace

int64_t estimateInputTokens(simdjson::dom::element anthropicReq) {
  Tally t;
  t.tokens = kRequestOverhead;
  dom::element v;
  if (anthropicReq["system"].get(v) == SUCCESS) countBlocks(v, t, 0);
  dom::array messages;
  if (anthropicReq["messages"].get_array().get(messages) == SUCCESS) {
    for (dom::element m : messages) {
      t.tokens += kMessageOverhead;
      if (m["content"].get(v) == SUCCESS) countBlocks(v, t, 0);
    }
  }
  dom::array tools;
  if (anthropicReq["tools"].get_array().get(tools) == SUCCESS && tools.size() > 0) {
    t.tokens += kToolSystemPrompt;
    for (dom::element tool : tools) {
      t.text(detail::stringOr(tool, "name"));
      t.text(detail::stringOr(tool, "description"));
      if (tool["input_schema"].get(v) == SUCCESS) t.json(v);
    }
  }
  const int64_t total = t.tokens + (t.chars + kCharsPerToken - 1) / kCharsPerToken;
  return total < 0 ? 0 : total;
}

std::string countTokensBody(int64_t inputTokens) {
  return fmt::format(R"({{"input_tokens":{}}})", inputTokens < 0 ? 0 : inputTokens);
}

}  // namespace llmux::messages_api
