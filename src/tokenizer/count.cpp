#include "tokenizer/count.hpp"

#include <simdjson.h>

#include <optional>
#include <string>

#include "tokenizer/count_cache.hpp"
#include "tokenizer/encoding.hpp"

namespace llmux::tokenizer {
namespace {

namespace dom = simdjson::dom;
using Err = std::optional<GatewayError>;

// Cookbook constants (num_tokens_from_messages / num_tokens_for_tools).
constexpr int64_t kPerMessage = 3;
constexpr int64_t kPerName = 1;
constexpr int64_t kReplyPriming = 3;
constexpr int64_t kFuncInitO200k = 7;
constexpr int64_t kFuncInitCl100k = 10;
constexpr int64_t kPropInit = 3;
constexpr int64_t kPropKey = 3;
constexpr int64_t kEnumInit = -3;
constexpr int64_t kEnumItem = 3;
constexpr int64_t kFuncEnd = 12;
// Image estimates without fetching the image (see count.hpp).
constexpr int64_t kImageLowOrAuto = 85;
constexpr int64_t kImageHigh = 765;

GatewayError invalid(std::string message, std::string param) {
  return GatewayError::invalidRequest(std::move(message), std::move(param));
}

struct Counter {
  const Encoding* encoding = nullptr;
  Count* out = nullptr;
  bool o200k = false;
  CountCache* cache = nullptr;  // set for prompt texts, which repeat across requests

  void text(std::string_view s) const {
    // Encoding::get cannot fail for the built-in names unless the build embedded bad tables; a
    // byte-based guess then keeps the request path going.
    if (encoding == nullptr) {
      out->tokens += static_cast<int64_t>((s.size() + 3) / 4);
    } else {
      out->tokens +=
          static_cast<int64_t>(cache != nullptr ? cache->count(*encoding, s) : encoding->count(s));
    }
  }
  void estimated(int64_t n) const {
    out->tokens += n;
    out->exact = false;
  }
};

Counter counterFor(std::string_view model, Count& out) {
  std::string_view name = encodingForModel(model);
  out.exact = !name.empty();
  if (name.empty()) name = "cl100k_base";
  out.tokenizer = name;
  Counter c{Encoding::get(name), &out, name == "o200k_base"};
  if (c.encoding == nullptr) out.exact = false;
  return c;
}

dom::parser& threadParser() {
  thread_local dom::parser parser;
  return parser;
}

Err parseObject(std::string_view body, dom::object& root) {
  dom::element doc;
  if (auto err = threadParser().parse(body.data(), body.size()).get(doc)) {
    return invalid(std::string("request body is not valid JSON: ") + simdjson::error_message(err),
                   "body");
  }
  if (doc.get(root)) return invalid("request body must be a JSON object", "body");
  return std::nullopt;
}

// The body's "model" when the caller gave none.
Err resolveModel(dom::object root, std::string_view& model) {
  if (!model.empty()) return std::nullopt;
  dom::element m;
  if (root["model"].get(m) || m.is_null()) return invalid("model is required", "model");
  if (m.get(model) || model.empty()) return invalid("model must be a non-empty string", "model");
  return std::nullopt;
}

std::string indexed(std::string_view base, size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

void countCall(const Counter& c, dom::element call) {
  std::string_view s;
  if (!call["name"].get(s)) c.text(s);
  if (!call["arguments"].get(s)) c.text(s);
}

std::string messageAt(size_t i) {
  return indexed("messages", i);
}

Err countContentParts(const Counter& c, dom::array parts, size_t message) {
  size_t j = 0;
  for (dom::element el : parts) {
    dom::object part;
    if (el.get(part)) {
      return invalid(indexed(messageAt(message) + ".content", j) + " must be an object",
                     "messages");
    }
    ++j;
    std::string_view text;
    if (!part["text"].get(text) || !part["refusal"].get(text)) {
      c.text(text);
      continue;
    }
    std::string_view type;
    if (!part["type"].get(type) && type == "image_url") {
      std::string_view detail;
      const bool high = !part.at_pointer("/image_url/detail").get(detail) && detail == "high";
      c.estimated(high ? kImageHigh : kImageLowOrAuto);
      continue;
    }
    c.estimated(0);  // audio, files and unknown parts: not counted
  }
  return std::nullopt;
}

Err countMessage(const Counter& c, dom::object message, size_t index) {
  c.out->tokens += kPerMessage;
  for (dom::key_value_pair field : message) {
    const dom::element& v = field.value;
    std::string_view s;
    if (!v.get(s)) {
      c.text(s);
      if (field.key == "name") c.out->tokens += kPerName;
      continue;
    }
    dom::array items;
    if (field.key == "content") {
      if (v.is_null()) continue;
      if (v.get(items)) {
        return invalid(messageAt(index) + ".content must be a string, an array or null",
                       "messages");
      }
      if (Err e = countContentParts(c, items, index)) return e;
    } else if (field.key == "tool_calls" && !v.get(items)) {
      for (dom::element call : items) {
        dom::element fn;
        if (!call["function"].get(fn)) countCall(c, fn);
      }
    } else if (field.key == "function_call") {
      countCall(c, v);
    }
  }
  return std::nullopt;
}

Err countMessages(const Counter& c, dom::object root) {
  dom::element messages;
  if (root["messages"].get(messages)) return invalid("messages is required", "messages");
  dom::array list;
  if (messages.get(list)) return invalid("messages must be an array", "messages");
  size_t i = 0;
  for (dom::element el : list) {
    dom::object message;
    if (el.get(message)) return invalid(messageAt(i) + " must be an object", "messages");
    if (Err e = countMessage(c, message, i)) return e;
    ++i;
  }
  c.out->tokens += kReplyPriming;
  return std::nullopt;
}

// A string field's value, or the JSON text of any other value (an estimate for odd schemas).
std::string textOf(dom::element v) {
  std::string_view s;
  if (!v.get(s)) return std::string(s);
  if (v.is_null()) return {};
  return simdjson::minify(v);
}

std::string_view withoutFinalDot(std::string_view s) {
  return !s.empty() && s.back() == '.' ? s.substr(0, s.size() - 1) : s;
}

void countFunction(const Counter& c, dom::object fn) {
  c.out->tokens += c.o200k ? kFuncInitO200k : kFuncInitCl100k;
  std::string_view name;
  std::string_view desc;
  if (fn["name"].get(name)) name = {};
  if (fn["description"].get(desc)) desc = {};
  c.text(std::string(name) + ":" + std::string(withoutFinalDot(desc)));
  dom::object props;
  if (fn.at_pointer("/parameters/properties").get(props) || props.size() == 0) return;
  c.out->tokens += kPropInit;
  for (dom::key_value_pair prop : props) {
    c.out->tokens += kPropKey;
    dom::array values;
    if (!prop.value["enum"].get(values)) {
      c.out->tokens += kEnumInit;
      for (dom::element item : values) {
        c.out->tokens += kEnumItem;
        c.text(textOf(item));
      }
    }
    dom::element type;
    std::string line(prop.key);
    line += ':';
    if (!prop.value["type"].get(type)) line += textOf(type);
    line += ':';
    std::string_view pdesc;
    if (!prop.value["description"].get(pdesc)) line += withoutFinalDot(pdesc);
    c.text(line);
  }
}

// "tools": [{"type":"function","function":{...}}], else legacy "functions": [{...}].
Err countTools(const Counter& c, dom::object root) {
  dom::element el;
  bool legacy = false;
  if (root["tools"].get(el) || el.is_null()) {
    legacy = true;
    if (root["functions"].get(el) || el.is_null()) return std::nullopt;
  }
  const char* field = legacy ? "functions" : "tools";
  dom::array tools;
  if (el.get(tools)) return invalid(std::string(field) + " must be an array", field);
  if (tools.size() == 0) return std::nullopt;
  size_t i = 0;
  for (dom::element tool : tools) {
    dom::object fn;
    if (tool.get(fn)) return invalid(indexed(field, i) + " must be an object", field);
    ++i;
    if (!legacy && fn["function"].get(fn)) {
      c.estimated(0);  // a non-function tool (custom, built-in): no known rendering
      continue;
    }
    countFunction(c, fn);
  }
  c.out->tokens += kFuncEnd;
  return std::nullopt;
}

}  // namespace

Count countText(std::string_view model, std::string_view text) {
  Count out;
  counterFor(model, out).text(text);
  return out;
}

std::variant<Count, GatewayError> countChatBody(std::string_view model, std::string_view body) {
  dom::object root;
  if (Err e = parseObject(body, root)) return std::move(*e);
  return countChatObject(model, root);
}

std::variant<Count, GatewayError> countChatObject(std::string_view model, dom::object root) {
  if (Err e = resolveModel(root, model)) return std::move(*e);
  Count out;
  Counter c = counterFor(model, out);
  c.cache = &CountCache::forThread();
  if (Err e = countMessages(c, root)) return std::move(*e);
  if (Err e = countTools(c, root)) return std::move(*e);
  return out;
}

std::variant<Count, GatewayError> countPromptBody(std::string_view model, std::string_view body,
                                                  std::string_view field) {
  dom::object root;
  if (Err e = parseObject(body, root)) return std::move(*e);
  if (Err e = resolveModel(root, model)) return std::move(*e);
  Count out;
  const Counter c = counterFor(model, out);
  const std::string name(field);
  const auto wrongType = [&] {
    return invalid(name + " must be a string, an array of strings, an array of token ids or an " +
                       "array of token-id arrays",
                   name);
  };
  dom::element value;
  if (root[field].get(value) || value.is_null()) return invalid(name + " is required", name);
  std::string_view s;
  if (!value.get(s)) {
    c.text(s);
    return out;
  }
  dom::array items;
  if (value.get(items)) return wrongType();
  for (dom::element item : items) {
    dom::array ids;
    if (!item.get(s)) {
      c.text(s);
    } else if (item.is_int64() || item.is_uint64()) {
      ++out.tokens;  // already a token id
    } else if (!item.get(ids)) {
      for (dom::element id : ids) {
        if (!id.is_int64() && !id.is_uint64()) return wrongType();
        ++out.tokens;
      }
    } else {
      return wrongType();
    }
  }
  return out;
}

}  // namespace llmux::tokenizer
