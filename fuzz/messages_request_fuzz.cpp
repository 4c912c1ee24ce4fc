// Fuzzes the Anthropic Messages front end's body translators on arbitrary JSON:
//  * toOpenAIRequest: a success is a JSON object the engine's own chat request parser accepts
//  (model
//    echoed, stream flag kept); a failure is a 400 naming a param, rendered as valid Anthropic
//    JSON.
//  * estimateInputTokens / countTokensBody: never negative, valid JSON.
//  * fromOpenAIResponse on the same bytes (as if an upstream had sent them): valid JSON or an
//  error.
#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "messages_api/messages_api.hpp"
#include "types/chat_request.hpp"

namespace {

namespace dom = simdjson::dom;
namespace msg = llmux::messages_api;

// Nesting depth of a document the DOM accepted.
int maxDepth(std::string_view s) {
  int depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (inString) {
      if (c == '\\') ++i;
      if (c == '"') inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

void checkJsonObject(dom::parser& parser, std::string_view s) {
  dom::element doc;
  LLMUX_FUZZ_CHECK(parser.parse(s).get(doc) == simdjson::SUCCESS);
  LLMUX_FUZZ_CHECK(doc.is_object());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  dom::parser parser;
  dom::parser check;
  dom::element req;
  if (parser.parse(input).get(req) != simdjson::SUCCESS) return 0;

  std::string out = "stale";
  msg::RequestInfo info;
  if (auto err = msg::toOpenAIRequest(req, out, info)) {
    LLMUX_FUZZ_CHECK(out.empty());
    LLMUX_FUZZ_CHECK(err->status == 400 && err->param.has_value());
    checkJsonObject(check, msg::toAnthropicError(*err));
  } else {
    checkJsonObject(check, out);
    LLMUX_FUZZ_CHECK(!info.model.empty() && info.maxTokens >= 1);
    LLMUX_FUZZ_CHECK(out.size() < 64 + 4 * input.size());  // no blow-up
    // The engine runs the body through its normal path: its parser must accept it (its nesting
    // limit aside, which the client's own schemas would hit the same way).
    if (maxDepth(input) < 200) {
      std::string body = out;
      llmux::types::ChatRequest parsed;
      const auto perr = llmux::types::parseChatRequest(body, parsed);
      LLMUX_FUZZ_CHECK(!perr);
      LLMUX_FUZZ_CHECK(parsed.model == info.model);
      LLMUX_FUZZ_CHECK(parsed.stream == info.stream);
      LLMUX_FUZZ_CHECK(parsed.includeUsage == info.stream);
    }
  }

  const int64_t tokens = msg::estimateInputTokens(req);
  LLMUX_FUZZ_CHECK(tokens >= 0);
  checkJsonObject(check, msg::countTokensBody(tokens));

  std::string answer = "stale";
  msg::RequestInfo respInfo;
  respInfo.model = "client-model";
  respInfo.thinking = (size & 1) != 0;
  dom::parser respParser;
  if (auto err = msg::fromOpenAIResponse(input, respInfo, respParser, answer)) {
    LLMUX_FUZZ_CHECK(answer.empty());
    checkJsonObject(check, msg::toAnthropicError(*err));
  } else {
    checkJsonObject(check, answer);
  }
  return 0;
}
