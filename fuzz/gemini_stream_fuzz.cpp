// Fuzzes the Gemini → OpenAI stream decoder (SSE framing, the non-SSE JSON forms, translation).
// Besides "no crash", it checks that everything a client would receive is a sequence of
// `data: <JSON object | [DONE]>\n\n` events, that nothing follows an error or [DONE], that the
// status agrees with the output (Done ends in [DONE], feed's Failed in an error event, finish's
// Failed appends nothing) and that token counts are never negative.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "openai_sse_check.hpp"
#include "providers/gemini/gemini.hpp"

namespace {

using llmux::providers::ResponseOptions;
using llmux::providers::StreamStatus;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte picks include_usage and where to split the input, so both feeding paths run.
  if (size == 0) return 0;
  const bool includeUsage = (data[0] & 1) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = input.empty() ? 0 : (data[0] >> 1) % (input.size() + 1);

  const ResponseOptions opts{"client-model", "chatcmpl-fuzz", 1767225600, includeUsage};
  auto dec = llmux::providers::gemini::adapter().makeStreamDecoder(opts);
  std::string out;
  StreamStatus st = dec->feed(input.substr(0, cut), out);
  if (st == StreamStatus::Continue) {
    st = dec->feed(input.substr(cut), out);
  } else {
    const size_t before = out.size();
    LLMUX_FUZZ_CHECK(dec->feed(input.substr(cut), out) == st && out.size() == before);
  }
  if (st == StreamStatus::Failed) {
    LLMUX_FUZZ_CHECK(out.ends_with("}\n\n"));  // the error event
  }
  const size_t beforeFinish = out.size();
  const StreamStatus fin = dec->finish(out);
  if (st != StreamStatus::Continue) LLMUX_FUZZ_CHECK(fin == st && out.size() == beforeFinish);
  if (fin == StreamStatus::Done) LLMUX_FUZZ_CHECK(out.ends_with("data: [DONE]\n\n"));
  if (st == StreamStatus::Continue && fin == StreamStatus::Failed) {
    LLMUX_FUZZ_CHECK(out.size() == beforeFinish);
  }
  LLMUX_FUZZ_CHECK(fin != StreamStatus::Continue);
  // Silent once ended.
  const size_t afterFinish = out.size();
  LLMUX_FUZZ_CHECK(dec->feed("data: {}\n\n", out) == fin && out.size() == afterFinish);
  LLMUX_FUZZ_CHECK(dec->finish(out) == fin && out.size() == afterFinish);

  const auto usage = dec->usage();
  LLMUX_FUZZ_CHECK(usage.promptTokens >= 0 && usage.completionTokens >= 0 &&
                   usage.totalTokens >= 0 && usage.cachedTokens >= 0 && usage.reasoningTokens >= 0);

  simdjson::dom::parser json;
  checkOpenAISse(out, json);
  return 0;
}
