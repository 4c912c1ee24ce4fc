#pragma once
// The shape every stream decoder must produce for clients: a sequence of `data: <JSON object |
// [DONE]>\n\n` events, nothing after [DONE] or an error event.
#include <simdjson.h>

#include <string_view>

#include "fuzz_check.hpp"

inline void checkOpenAISse(std::string_view out, simdjson::dom::parser& json) {
  bool ended = false;  // an error or [DONE] was seen
  while (!out.empty()) {
    LLMUX_FUZZ_CHECK(!ended);
    LLMUX_FUZZ_CHECK(out.starts_with("data: "));
    const size_t end = out.find("\n\n");
    LLMUX_FUZZ_CHECK(end != std::string_view::npos);
    const std::string_view payload = out.substr(6, end - 6);
    LLMUX_FUZZ_CHECK(payload.find('\n') == std::string_view::npos);
    if (payload == "[DONE]") {
      ended = true;
    } else {
      simdjson::dom::element doc;
      LLMUX_FUZZ_CHECK(json.parse(payload).get(doc) == simdjson::SUCCESS);
      LLMUX_FUZZ_CHECK(doc.is_object());
      ended = doc["error"].error() == simdjson::SUCCESS;
    }
    out.remove_prefix(end + 2);
  }
}
