// Fuzzes the Anthropic → OpenAI stream translator behind the real SSE parser. Besides "no crash",
// it checks that everything a client would receive is a sequence of `data: <JSON object |
// [DONE]>\n\n` events, that nothing follows an error or [DONE], and that token counts are never
// negative.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "providers/anthropic/stream.hpp"
#include "providers/common/sse_parser.hpp"

namespace {

using llmux::providers::SseEvent;
using llmux::providers::SseParser;
using llmux::providers::anthropic::StreamTranslator;

void checkOutput(std::string_view out, simdjson::dom::parser& json) {
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte picks include_usage and where to split the input, so both feeding paths run.
  if (size == 0) return 0;
  const bool includeUsage = (data[0] & 1) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = input.empty() ? 0 : (data[0] >> 1) % (input.size() + 1);

  StreamTranslator t("client-model", "chatcmpl-fuzz", 1767225600, includeUsage);
  SseParser parser(1u << 16);
  std::string out;
  bool failed = false;
  auto onEvent = [&](const SseEvent& ev) {
    const size_t before = out.size();
    const bool ok = t.onEvent(ev.event, ev.data, out);
    if (failed) LLMUX_FUZZ_CHECK(!ok && out.size() == before);  // silent after an error
    if (!ok) failed = true;
  };
  if (parser.feed(input.substr(0, cut), onEvent)) parser.feed(input.substr(cut), onEvent);
  const size_t before = out.size();
  const bool finished = t.finish(out);
  if (!finished) LLMUX_FUZZ_CHECK(out.size() == before);
  if (failed) LLMUX_FUZZ_CHECK(!finished);
  if (finished) LLMUX_FUZZ_CHECK(out.ends_with("data: [DONE]\n\n"));
  LLMUX_FUZZ_CHECK(t.promptTokens() >= 0 && t.completionTokens() >= 0);

  simdjson::dom::parser json;
  checkOutput(out, json);
  return 0;
}
