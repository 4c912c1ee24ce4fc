#include "types/chat_request.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <cstring>
#include <vector>

// Validation: simdjson's On-Demand API only checks what it is asked for, so the walker below asks
// for everything: every key is unescaped, every string unescaped (escapes and surrogates checked),
// every container iterated (commas, colons, brackets checked), and numbers and literals are checked
// against the RFC 8259 grammar on their raw token. Stage 1 already rejected bad UTF-8, unclosed
// strings and raw control characters. That is one pass over the document plus the unescaping the
// DOM parser would do too. Numbers are checked for syntax only: 1e400 or a 30-digit integer is
// valid JSON and it is the provider's business to accept or refuse it.
//
// Duplicate keys: the last occurrence of a top-level key wins (like Python's json and most parsers,
// so the provider sees the same value the gateway validated), and the recorded spans point at that
// last occurrence. Earlier occurrences must still be valid JSON but are not type-checked.

namespace llmux::types {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

// Nesting limit for the recursive walk (bounded stack use); real requests, JSON schemas included,
// stay far below it.
constexpr int kMaxDepth = 256;
// Bodies above this size get a parser of their own, so a worker thread does not keep a huge
// thread_local parser allocation after one big request.
constexpr size_t kThreadParserMaxBytes = 1u << 20;

constexpr bool isJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

constexpr std::string_view trimRight(std::string_view s) {
  while (!s.empty() && isJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

constexpr bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  (the whole token)
constexpr bool isNumberToken(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i == n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (isDigit(s[i])) {
    while (i < n && isDigit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (i == n || !isDigit(s[i])) return false;
    while (i < n && isDigit(s[i])) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i == n || !isDigit(s[i])) return false;
    while (i < n && isDigit(s[i])) ++i;
  }
  return i == n;
}

// The trimmed raw token of a scalar that is checked but not consumed. On-Demand skips unconsumed
// values without looking at what follows them (a string followed by ':' is taken for a key), so the
// next structural character is checked here; the container iteration checks the rest.
error_code scalarToken(od::value v, std::string_view& tok) {
  const std::string_view raw = v.raw_json_token();
  // Past the last token this reads the zeroed padding, never beyond it.
  const char next = raw.data()[raw.size()];
  if (next != ',' && next != '}' && next != ']') return simdjson::TAPE_ERROR;
  tok = trimRight(raw);
  return SUCCESS;
}

// Validates a string value and returns its text: a view into the body when the token has no
// escapes (stage 1 already checked its quotes, UTF-8 and control characters, so nothing is left to
// check or copy), else the unescaped copy in the parser's string buffer. Both live until the next
// parse on this thread.
error_code readString(od::value v, std::string_view& out) {
  std::string_view tok;
  if (auto e = scalarToken(v, tok)) return e;
  if (tok.size() >= 2 && tok.back() == '"') {
    const std::string_view inner = tok.substr(1, tok.size() - 2);
    if (std::memchr(inner.data(), '\\', inner.size()) == nullptr) {
      out = inner;
      return SUCCESS;
    }
  }
  return v.get_string().get(out);
}

// Semantic problems are recorded, not returned, because a later duplicate key may override them
// and because a JSON syntax error anywhere in the body takes precedence.
enum class Problem : uint8_t {
  None,
  Type,          // wrong JSON type
  Empty,         // empty string / array
  ElementType,   // messages[i] is not an object
  RoleMissing,   // messages[i] has no role
  RoleType,      // messages[i].role is not a string
  IncludeUsage,  // stream_options.include_usage is not a bool
};

// Per-thread scratch for the text parts of user messages (views into the body or the parser's
// string buffer; reused so a request with content parts does not allocate for them).
struct PartScratch {
  std::vector<std::string_view> current;
  std::vector<std::string_view> lastUser;
};

class Walker {
 public:
  Walker(const char* base, ChatRequest& req, PartScratch& parts)
      : base_(base), req_(req), parts_(parts) {
    parts_.current.clear();
    parts_.lastUser.clear();
  }

  error_code walkTop(od::object top);
  // Resolves the stream_options member end once the top-level '}' is known.
  void finish(size_t objectEnd);
  [[nodiscard]] std::optional<GatewayError> problem() const;
  void buildLastUserText();

 private:
  error_code walkValue(od::value v, int depth);
  error_code walkObject(od::object o, int depth);
  error_code walkArray(od::array a, int depth);

  error_code onModel(od::value v);
  error_code onMessages(od::value v);
  error_code onMessage(od::value v, size_t index);
  error_code onContent(od::value v, int depth);
  error_code onPart(od::value v, int depth);
  error_code onStream(od::value v);
  error_code onStreamOptions(od::value v);
  error_code onMockResponse(od::value v);

  // Reads a JSON literal (true/false/null) from its raw token.
  static error_code literal(od::value v, od::json_type type, bool& truth);
  size_t offset(const char* p) const { return static_cast<size_t>(p - base_); }
  void closeStreamOptions(const char* next, bool afterComma);

  const char* base_;
  ChatRequest& req_;
  PartScratch& parts_;

  bool modelSeen_ = false;
  Problem modelProblem_ = Problem::None;
  bool messagesSeen_ = false;
  Problem messagesProblem_ = Problem::None;
  size_t messagesIndex_ = 0;  // the message a problem is about
  Problem streamProblem_ = Problem::None;
  Problem streamOptionsProblem_ = Problem::None;
  bool streamOptionsOpen_ = false;  // member span begun, end not yet known

  // The last user message so far: its string content, or its text parts in parts_.lastUser.
  bool lastUserIsString_ = false;
  std::string_view lastUserString_;
  // The message being walked.
  bool curIsString_ = false;
  std::string_view curString_;
};

error_code Walker::walkValue(od::value v, int depth) {
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  switch (type) {
    case od::json_type::object: {
      if (depth >= kMaxDepth) return simdjson::DEPTH_ERROR;
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      return walkObject(o, depth + 1);
    }
    case od::json_type::array: {
      if (depth >= kMaxDepth) return simdjson::DEPTH_ERROR;
      od::array a;
      if (auto e = v.get_array().get(a)) return e;
      return walkArray(a, depth + 1);
    }
    case od::json_type::string: {
      std::string_view s;
      return readString(v, s);
    }
    case od::json_type::number: {
      std::string_view tok;
      if (auto e = scalarToken(v, tok)) return e;
      return isNumberToken(tok) ? SUCCESS : simdjson::NUMBER_ERROR;
    }
    case od::json_type::boolean:
    case od::json_type::null: {
      bool ignored = false;
      return literal(v, type, ignored);
    }
  }
  return simdjson::TAPE_ERROR;
}

error_code Walker::walkObject(od::object o, int depth) {
  for (auto field : o) {
    if (auto e = field.error()) return e;
    std::string_view key;
    if (auto e = field.value_unsafe().unescaped_key().get(key)) return e;
    if (auto e = walkValue(field.value_unsafe().value(), depth)) return e;
  }
  return SUCCESS;
}

error_code Walker::walkArray(od::array a, int depth) {
  for (auto element : a) {
    if (auto e = element.error()) return e;
    if (auto e = walkValue(element.value_unsafe(), depth)) return e;
  }
  return SUCCESS;
}

}  // namespace

bool isRouterField(std::string_view key) {
  static constexpr std::string_view kKeys[] = {"fallbacks",
                                               "context_window_fallbacks",
                                               "content_policy_fallbacks",
                                               "disable_fallbacks",
                                               "num_retries",
                                               "timeout",
                                               "stream_timeout",
                                               "mock_testing_fallbacks",
                                               "mock_testing_context_fallbacks",
                                               "mock_testing_content_policy_fallbacks",
                                               "mock_testing_rate_limit_error",
                                               "models",
                                               "provider"};
  for (std::string_view k : kKeys) {
    if (k == key) return true;
  }
  return false;
}

namespace {

error_code Walker::literal(od::value v, od::json_type type, bool& truth) {
  std::string_view tok;
  if (auto e = scalarToken(v, tok)) return e;
  if (type == od::json_type::null) return tok == "null" ? SUCCESS : simdjson::N_ATOM_ERROR;
  if (tok == "true") {
    truth = true;
    return SUCCESS;
  }
  truth = false;
  return tok == "false" ? SUCCESS : simdjson::T_ATOM_ERROR;
}

error_code Walker::walkTop(od::object top) {
  for (auto fieldResult : top) {
    if (auto e = fieldResult.error()) return e;
    od::field& field = fieldResult.value_unsafe();
    const char* keyQuote = field.key().raw() - 1;  // raw() points just past the opening quote
    if (streamOptionsOpen_) closeStreamOptions(keyQuote, true);
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    od::value v = field.value();
    error_code e = SUCCESS;
    if (key == "model") {
      e = onModel(v);
    } else if (key == "messages") {
      e = onMessages(v);
    } else if (key == "stream") {
      e = onStream(v);
    } else if (key == "stream_options") {
      req_.streamOptionsMember.begin = offset(keyQuote);
      streamOptionsOpen_ = true;
      e = onStreamOptions(v);
    } else if (key == "mock_response") {
      e = onMockResponse(v);
    } else if (key == "drop_params") {
      req_.hasDropParams = true;
      bool b = false;
      if (v.get_bool().get(b) == SUCCESS) {
        req_.dropParams = b;
      } else {
        e = walkValue(v, 1);
      }
    } else {
      if (isRouterField(key)) req_.hasRouterFields = true;
      e = walkValue(v, 1);
    }
    if (e) return e;
  }
  return SUCCESS;
}

// The member ends where its value ends: before the whitespace (and comma) that precede `next`.
void Walker::closeStreamOptions(const char* next, bool afterComma) {
  size_t end = offset(next);
  while (end > 0 && isJsonSpace(base_[end - 1])) --end;
  if (afterComma && end > 0 && base_[end - 1] == ',') --end;
  while (end > 0 && isJsonSpace(base_[end - 1])) --end;
  req_.streamOptionsMember.end = end;
  streamOptionsOpen_ = false;
}

void Walker::finish(size_t objectEnd) {
  if (streamOptionsOpen_) closeStreamOptions(base_ + objectEnd, false);
}

error_code Walker::onModel(od::value v) {
  modelSeen_ = true;
  modelProblem_ = Problem::None;
  req_.model = {};
  req_.modelOwned = false;
  req_.modelSpan = {};
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  if (type != od::json_type::string) {
    modelProblem_ = Problem::Type;
    return walkValue(v, 1);
  }
  const std::string_view tok = trimRight(v.raw_json_token());
  std::string_view value;
  if (auto e = v.get_string().get(value)) return e;
  req_.modelSpan = {offset(tok.data()), offset(tok.data()) + tok.size()};
  const std::string_view inner = tok.substr(1, tok.size() - 2);
  if (value.empty()) {
    modelProblem_ = Problem::Empty;
  } else if (inner.find('\\') != std::string_view::npos) {
    // The unescaped name cannot be a view into the body: keep a copy (rare; PHP escapes '/').
    req_.modelStorage.assign(value);
    req_.model = req_.modelStorage;
    req_.modelOwned = true;
  } else {
    req_.model = inner;
  }
  return SUCCESS;
}

error_code Walker::onMessages(od::value v) {
  messagesSeen_ = true;
  messagesProblem_ = Problem::None;
  req_.messageCount = 0;
  lastUserIsString_ = false;
  lastUserString_ = {};
  parts_.lastUser.clear();
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  if (type != od::json_type::array) {
    messagesProblem_ = Problem::Type;
    return walkValue(v, 1);
  }
  od::array messages;
  if (auto e = v.get_array().get(messages)) return e;
  size_t index = 0;
  for (auto message : messages) {
    if (auto e = message.error()) return e;
    if (auto e = onMessage(message.value_unsafe(), index)) return e;
    ++index;
  }
  req_.messageCount = index;
  if (index == 0) messagesProblem_ = Problem::Empty;
  return SUCCESS;
}

error_code Walker::onMessage(od::value v, size_t index) {
  auto note = [&](Problem p) {
    if (messagesProblem_ == Problem::None) {
      messagesProblem_ = p;
      messagesIndex_ = index;
    }
  };
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  if (type != od::json_type::object) {
    note(Problem::ElementType);
    return walkValue(v, 2);
  }
  od::object message;
  if (auto e = v.get_object().get(message)) return e;
  bool roleSeen = false;
  bool roleIsString = false;
  std::string_view role;
  curIsString_ = false;
  curString_ = {};
  parts_.current.clear();
  for (auto fieldResult : message) {
    if (auto e = fieldResult.error()) return e;
    od::field& field = fieldResult.value_unsafe();
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    od::value value = field.value();
    if (key == "role") {
      roleSeen = true;
      roleIsString = false;
      if (auto e = value.type().get(type)) return e;
      if (type == od::json_type::string) {
        if (auto e = readString(value, role)) return e;
        roleIsString = true;
      } else if (auto e = walkValue(value, 3)) {
        return e;
      }
    } else if (key == "content") {
      if (auto e = onContent(value, 3)) return e;
    } else if (auto e = walkValue(value, 3)) {
      return e;
    }
  }
  if (!roleSeen) {
    note(Problem::RoleMissing);
  } else if (!roleIsString) {
    note(Problem::RoleType);
  } else if (role == "user") {
    lastUserIsString_ = curIsString_;
    lastUserString_ = curString_;
    parts_.lastUser.swap(parts_.current);
  }
  return SUCCESS;
}

error_code Walker::onContent(od::value v, int depth) {
  curIsString_ = false;
  curString_ = {};
  parts_.current.clear();
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  if (type == od::json_type::string) {
    curIsString_ = true;
    return readString(v, curString_);
  }
  if (type != od::json_type::array) return walkValue(v, depth);
  od::array parts;
  if (auto e = v.get_array().get(parts)) return e;
  for (auto part : parts) {
    if (auto e = part.error()) return e;
    if (auto e = onPart(part.value_unsafe(), depth + 1)) return e;
  }
  return SUCCESS;
}

// A content part: {"type":"text","text":"..."} contributes its text; anything else is only
// validated.
error_code Walker::onPart(od::value v, int depth) {
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  if (type != od::json_type::object) return walkValue(v, depth);
  od::object part;
  if (auto e = v.get_object().get(part)) return e;
  bool isText = false;
  bool hasText = false;
  std::string_view text;
  for (auto fieldResult : part) {
    if (auto e = fieldResult.error()) return e;
    od::field& field = fieldResult.value_unsafe();
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    od::value value = field.value();
    const bool isType = key == "type";
    if (isType || key == "text") {
      if (auto e = value.type().get(type)) return e;
      if (type == od::json_type::string) {
        std::string_view s;
        if (auto e = readString(value, s)) return e;
        if (isType) {
          isText = s == "text";
        } else {
          text = s;
          hasText = true;
        }
        continue;
      }
      if (isType) {
        isText = false;
      } else {
        hasText = false;
      }
    }
    if (auto e = walkValue(value, depth + 1)) return e;
  }
  if (isText && hasText) parts_.current.push_back(text);
  return SUCCESS;
}

error_code Walker::onStream(od::value v) {
  streamProblem_ = Problem::None;
  req_.stream = false;
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  if (type == od::json_type::boolean || type == od::json_type::null) {
    return literal(v, type, req_.stream);
  }
  streamProblem_ = Problem::Type;
  return walkValue(v, 1);
}

error_code Walker::onStreamOptions(od::value v) {
  streamOptionsProblem_ = Problem::None;
  req_.includeUsage = false;
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  if (type == od::json_type::null) {
    bool ignored = false;
    return literal(v, type, ignored);
  }
  if (type != od::json_type::object) {
    streamOptionsProblem_ = Problem::Type;
    return walkValue(v, 1);
  }
  od::object options;
  if (auto e = v.get_object().get(options)) return e;
  for (auto fieldResult : options) {
    if (auto e = fieldResult.error()) return e;
    od::field& field = fieldResult.value_unsafe();
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    od::value value = field.value();
    if (key != "include_usage") {
      if (auto e = walkValue(value, 2)) return e;
      continue;
    }
    if (streamOptionsProblem_ == Problem::IncludeUsage) streamOptionsProblem_ = Problem::None;
    req_.includeUsage = false;
    if (auto e = value.type().get(type)) return e;
    // null is accepted as "not set", as OpenAI does.
    if (type == od::json_type::boolean || type == od::json_type::null) {
      if (auto e = literal(value, type, req_.includeUsage)) return e;
    } else {
      streamOptionsProblem_ = Problem::IncludeUsage;
      if (auto e = walkValue(value, 2)) return e;
    }
  }
  return SUCCESS;
}

error_code Walker::onMockResponse(od::value v) {
  req_.mockResponse.reset();
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  if (type != od::json_type::string) return walkValue(v, 1);
  std::string_view s;
  if (auto e = readString(v, s)) return e;
  req_.mockResponse.emplace(s);
  return SUCCESS;
}

std::optional<GatewayError> Walker::problem() const {
  using E = GatewayError;
  if (!modelSeen_) return E::invalidRequest("Missing required parameter: 'model'.", "model");
  switch (modelProblem_) {
    case Problem::None:
      break;
    case Problem::Empty:
      return E::invalidRequest("Invalid value for 'model': expected a non-empty string.", "model");
    default:
      return E::invalidRequest("Invalid type for 'model': expected a string.", "model");
  }
  if (!messagesSeen_) {
    return E::invalidRequest("Missing required parameter: 'messages'.", "messages");
  }
  switch (messagesProblem_) {
    case Problem::None:
      break;
    case Problem::ElementType:
      return E::invalidRequest(
          fmt::format("Invalid type for 'messages[{}]': expected an object.", messagesIndex_),
          "messages");
    case Problem::RoleMissing:
      return E::invalidRequest(
          fmt::format("Missing required parameter: 'messages[{}].role'.", messagesIndex_),
          "messages");
    case Problem::RoleType:
      return E::invalidRequest(
          fmt::format("Invalid type for 'messages[{}].role': expected a string.", messagesIndex_),
          "messages");
    default:
      return E::invalidRequest("'messages' must be a non-empty array.", "messages");
  }
  if (streamProblem_ != Problem::None) {
    return E::invalidRequest("Invalid type for 'stream': expected a boolean.", "stream");
  }
  switch (streamOptionsProblem_) {
    case Problem::None:
      break;
    case Problem::IncludeUsage:
      return E::invalidRequest(
          "Invalid type for 'stream_options.include_usage': expected a boolean.",
          "stream_options.include_usage");
    default:
      return E::invalidRequest("Invalid type for 'stream_options': expected an object or null.",
                               "stream_options");
  }
  return std::nullopt;
}

void Walker::buildLastUserText() {
  if (lastUserIsString_) {
    req_.lastUserText.assign(lastUserString_);
    return;
  }
  size_t size = 0;
  for (std::string_view p : parts_.lastUser) size += p.size() + 1;
  req_.lastUserText.reserve(size);
  for (std::string_view p : parts_.lastUser) {
    if (!req_.lastUserText.empty()) req_.lastUserText += '\n';
    req_.lastUserText += p;
  }
}

GatewayError jsonError(error_code e) {
  return GatewayError::invalidRequest(
      fmt::format("Invalid JSON in request body: {}", simdjson::error_message(e)));
}

}  // namespace

std::optional<GatewayError> parseChatRequest(std::string& body, ChatRequest& req) {
  const size_t size = body.size();
  // Zero the padding (content unchanged): simdjson may peek past the end of a truncated document
  // and must then see the same bytes every time.
  body.resize(size + simdjson::SIMDJSON_PADDING);
  body.resize(size);
  const simdjson::padded_string_view input(body.data(), size, body.capacity());

  thread_local od::parser threadParser;
  thread_local PartScratch threadParts;
  std::optional<od::parser> bigParser;
  od::parser& parser = size > kThreadParserMaxBytes ? bigParser.emplace() : threadParser;

  od::document doc;
  if (auto e = parser.iterate(input).get(doc)) return jsonError(e);
  od::json_type type;
  if (auto e = doc.type().get(type)) return jsonError(e);
  if (type != od::json_type::object) {
    return GatewayError::invalidRequest("Invalid request body: expected a JSON object.");
  }
  od::object top;
  if (auto e = doc.get_object().get(top)) return jsonError(e);

  req.reset();
  Walker walker(body.data(), req, threadParts);
  if (auto e = walker.walkTop(top)) return jsonError(e);
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return jsonError(simdjson::TRAILING_CONTENT);
  }
  // Valid and nothing after the object: its '}' is the last non-space byte.
  const std::string_view trimmed = trimRight(body);
  if (trimmed.empty() || trimmed.back() != '}') return jsonError(simdjson::TAPE_ERROR);
  req.objectEnd = trimmed.size() - 1;
  walker.finish(req.objectEnd);

  if (auto problem = walker.problem()) return std::move(*problem);
  walker.buildLastUserText();
  return std::nullopt;
}

std::variant<ChatRequest, GatewayError> parseChatRequest(std::string& body) {
  ChatRequest req;
  if (auto e = parseChatRequest(body, req)) return std::move(*e);
  return req;
}

}  // namespace llmux::types
