// Fuzzes parseChatRequest against simdjson's DOM parser (which validates the whole document):
// JSON accepted by one must be accepted by the other, and for accepted requests the recorded spans
// must slice out exactly what the DOM sees as the last "model" / "stream_options" members.
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "types/chat_request.hpp"

namespace {

using llmux::GatewayError;
using llmux::types::ChatRequest;
using llmux::types::parseChatRequest;
namespace dom = simdjson::dom;

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Nesting depth of a document the DOM accepted.
int maxDepth(std::string_view s) {
  int depth = 0;
  int deepest = 0;
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

// simdjson's DOM rejects numbers it cannot represent; we accept any syntactically valid number.
bool mayBeNumberRange(simdjson::error_code e, std::string_view s) {
  if (e != simdjson::NUMBER_ERROR) return false;
  if (s.find_first_of("eE") != std::string_view::npos) return true;
  size_t run = 0;
  for (char c : s) {
    run = (c >= '0' && c <= '9') ? run + 1 : 0;
    if (run >= 19) return true;
  }
  return false;
}

// The last value of `key` in a DOM object (duplicates: last wins).
bool lastMember(dom::object obj, std::string_view key, dom::element& out) {
  bool found = false;
  for (dom::key_value_pair kv : obj) {
    if (kv.key == key) {
      out = kv.value;
      found = true;
    }
  }
  return found;
}

void checkAccepted(const std::string& body, const ChatRequest& req, dom::element root) {
  dom::object top;
  LLMUX_FUZZ_CHECK(root.get_object().get(top) == simdjson::SUCCESS);
  const size_t n = body.size();

  LLMUX_FUZZ_CHECK(req.objectEnd < n && body[req.objectEnd] == '}');
  for (size_t i = req.objectEnd + 1; i < n; ++i) LLMUX_FUZZ_CHECK(isSpace(body[i]));

  dom::element model;
  LLMUX_FUZZ_CHECK(lastMember(top, "model", model));
  std::string_view modelValue;
  LLMUX_FUZZ_CHECK(model.get_string().get(modelValue) == simdjson::SUCCESS);
  LLMUX_FUZZ_CHECK(req.model == modelValue && !req.model.empty());
  const auto [mb, me] = req.modelSpan;
  LLMUX_FUZZ_CHECK(mb < me && me <= req.objectEnd && body[mb] == '"' && body[me - 1] == '"');
  if (req.modelOwned) {
    // Escaped in the body: unescaped copy in modelStorage, the token itself contains a backslash.
    LLMUX_FUZZ_CHECK(req.model.data() == req.modelStorage.data());
    LLMUX_FUZZ_CHECK(body.substr(mb, me - mb).find('\\') != std::string_view::npos);
  } else {
    LLMUX_FUZZ_CHECK(me - mb == req.model.size() + 2 && req.model.data() == body.data() + mb + 1);
  }

  dom::element stream;
  const bool hasStream = lastMember(top, "stream", stream);
  LLMUX_FUZZ_CHECK(req.stream ==
                   (hasStream && stream.is_bool() && stream.get_bool().value_unsafe()));

  dom::element options;
  const auto [sb, se] = req.streamOptionsMember;
  if (lastMember(top, "stream_options", options)) {
    LLMUX_FUZZ_CHECK(sb < se && se <= req.objectEnd && body[sb] == '"');
    LLMUX_FUZZ_CHECK(se <= mb || me <= sb);  // disjoint
    // The slice is a complete member: wrapped in braces it parses to the same value.
    const std::string wrapped = "{" + body.substr(sb, se - sb) + "}";
    static dom::parser sliceParser;
    dom::object sliceObj;
    LLMUX_FUZZ_CHECK(sliceParser.parse(wrapped).get_object().get(sliceObj) == simdjson::SUCCESS);
    LLMUX_FUZZ_CHECK(sliceObj.size() == 1);
    const dom::key_value_pair kv = *sliceObj.begin();
    LLMUX_FUZZ_CHECK(kv.key == "stream_options");
    LLMUX_FUZZ_CHECK(simdjson::minify(kv.value) == simdjson::minify(options));
    bool usage = false;
    dom::element include;
    if (options.is_object() &&
        lastMember(options.get_object().value_unsafe(), "include_usage", include)) {
      usage = include.is_bool() && include.get_bool().value_unsafe();
    }
    LLMUX_FUZZ_CHECK(req.includeUsage == usage);
  } else {
    LLMUX_FUZZ_CHECK(sb == 0 && se == 0 && !req.includeUsage);
  }

  dom::element messages;
  LLMUX_FUZZ_CHECK(lastMember(top, "messages", messages));
  dom::array arr;
  LLMUX_FUZZ_CHECK(messages.get_array().get(arr) == simdjson::SUCCESS);
  LLMUX_FUZZ_CHECK(req.messageCount == arr.size() && req.messageCount > 0);

  dom::element mock;
  if (lastMember(top, "mock_response", mock) && mock.is_string()) {
    LLMUX_FUZZ_CHECK(req.mockResponse.has_value() &&
                     *req.mockResponse == mock.get_string().value_unsafe());
  } else {
    LLMUX_FUZZ_CHECK(!req.mockResponse.has_value());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string original(reinterpret_cast<const char*>(data), size);
  std::string body = original;
  auto result = parseChatRequest(body);
  LLMUX_FUZZ_CHECK(body == original);

  static dom::parser parser;
  dom::element root;
  const simdjson::error_code domError = parser.parse(original).get(root);

  if (const auto* req = std::get_if<ChatRequest>(&result)) {
    if (domError) {
      LLMUX_FUZZ_CHECK(mayBeNumberRange(domError, original));
      return 0;
    }
    checkAccepted(body, *req, root);  // the parsed copy: req.model points into it
    return 0;
  }
  const GatewayError& err = std::get<GatewayError>(result);
  LLMUX_FUZZ_CHECK(err.status == 400 && !err.message.empty());
  if (err.message.rfind("Invalid request body: expected a JSON object.", 0) == 0) {
    LLMUX_FUZZ_CHECK(domError || !root.is_object());
    return 0;
  }
  const bool jsonError = err.message.rfind("Invalid JSON in request body: ", 0) == 0;
  if (jsonError) {
    // We may only be stricter than the DOM on nesting depth.
    LLMUX_FUZZ_CHECK(domError || maxDepth(original) >= 256);
  } else {
    LLMUX_FUZZ_CHECK(err.param.has_value());
    LLMUX_FUZZ_CHECK(!domError || mayBeNumberRange(domError, original));
  }
  return 0;
}
