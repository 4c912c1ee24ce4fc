// Fuzzes the Mistral → OpenAI stream decoder (SSE framing and translation). Besides "no crash", it
// checks that everything a client would receive is a sequence of `data: <JSON object | [DONE]>\n\n`
// events, that nothing follows an error or [DONE], that the status agrees with the output, and
// that token counts are never negative.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "openai_sse_check.hpp"
#include "providers/common/adapter.hpp"
#include "providers/mistral/mistral.hpp"

namespace {

using llmux::providers::StreamStatus;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte picks include_usage and where to split the input, so both feeding paths run.
  if (size == 0) return 0;
  const bool includeUsage = (data[0] & 1) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = input.empty() ? 0 : (data[0] >> 1) % (input.size() + 1);

  const llmux::providers::ResponseOptions opts{"client-model", "chatcmpl-fuzz", 1767225600,
                                               includeUsage};
  auto dec = llmux::providers::mistral::adapter().makeStreamDecoder(opts);
  std::string out;
  StreamStatus status = dec->feed(input.substr(0, cut), out);
  if (status == StreamStatus::Continue) {
    status = dec->feed(input.substr(cut), out);
  } else {
    // After Done or Failed the decoder stays silent and keeps its status.
    const size_t before = out.size();
    LLMUX_FUZZ_CHECK(dec->feed(input.substr(cut), out) == status);
    LLMUX_FUZZ_CHECK(out.size() == before);
  }
  const size_t before = out.size();
  const StreamStatus last = dec->finish(out);
  LLMUX_FUZZ_CHECK(out.size() == before);  // finish only reports; Mistral's end is [DONE]
  if (status != StreamStatus::Continue) LLMUX_FUZZ_CHECK(last == status);
  LLMUX_FUZZ_CHECK(last != StreamStatus::Continue);
  if (last == StreamStatus::Done) LLMUX_FUZZ_CHECK(out.ends_with("data: [DONE]\n\n"));
  if (last == StreamStatus::Failed && status == StreamStatus::Failed) {
    LLMUX_FUZZ_CHECK(out.find("data: {\"error\":") != std::string::npos);
  }
  const auto u = dec->usage();
  LLMUX_FUZZ_CHECK(u.promptTokens >= 0 && u.completionTokens >= 0 && u.totalTokens >= 0 &&
                   u.cachedTokens >= 0 && u.reasoningTokens >= 0);

  simdjson::dom::parser json;
  checkOpenAISse(out, json);
  return 0;
}
