#pragma once
// Test helper: builds the ChatRequest fields buildUpstreamBody reads (spans, stream flag) from a
// body with simdjson, independently of the production request parser and of the splicer's own
// scanner.
#include <simdjson.h>

#include <string>
#include <string_view>

#include "types/chat_request.hpp"

namespace llmux::providers::openai::test_support {

inline std::string_view trimTrailingSpace(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Returns false if the body is not a JSON object. Offsets refer to `body`.
inline bool spansFor(std::string_view body, types::ChatRequest& req) {
  namespace od = simdjson::ondemand;
  req = types::ChatRequest{};
  simdjson::padded_string padded(body);
  od::parser parser;
  od::document doc;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) return false;
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return false;
  const char* base = padded.data();
  for (auto field : obj) {
    if (field.error() != simdjson::SUCCESS) return false;
    // raw() points just past the key's opening quote.
    const char* keyStart = field.key().value_unsafe().raw() - 1;
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return false;
    if (key == "model") {
      const std::string_view token = trimTrailingSpace(v.raw_json_token());
      req.modelSpan = {static_cast<size_t>(token.data() - base),
                       static_cast<size_t>(token.data() - base) + token.size()};
      std::string_view model;
      if (v.get_string().get(model) == simdjson::SUCCESS) {
        req.model =
            body.substr(req.modelSpan.begin + 1, req.modelSpan.end - req.modelSpan.begin - 2);
      }
    } else if (key == "stream") {
      bool b = false;
      req.stream = v.get_bool().get(b) == simdjson::SUCCESS && b;
    } else if (key == "stream_options") {
      std::string_view raw;
      od::json_type type;
      if (v.type().get(type) != simdjson::SUCCESS) return false;
      if (type == od::json_type::object) {
        od::object so;
        if (v.get_object().get(so) != simdjson::SUCCESS) return false;
        if (so.raw_json().get(raw) != simdjson::SUCCESS) return false;
        raw = trimTrailingSpace(raw);  // raw_json() runs up to the next structural character
      } else {
        raw = trimTrailingSpace(v.raw_json_token());
      }
      req.streamOptionsMember = {static_cast<size_t>(keyStart - base),
                                 static_cast<size_t>(raw.data() + raw.size() - base)};
    }
  }
  const std::string_view trimmed = trimTrailingSpace(body);
  req.objectEnd = trimmed.size() - 1;
  return true;
}

}  // namespace llmux::providers::openai::test_support
