// Fuzzes the Cohere v2 → OpenAI stream decoder (SSE framing included). Besides "no crash", it
// checks that everything a client would receive is a sequence of `data: <JSON object | [DONE]>\n\n`
// events, that nothing follows an error or [DONE], that the status agrees with the output, and
// that token counts are never negative.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "providers/cohere/cohere.hpp"

namespace {

using llmux::providers::ResponseOptions;
using llmux::providers::StreamStatus;

// Returns how the output ended: 0 still open, 1 [DONE], 2 an error event.
int checkOutput(std::string_view out, simdjson::dom::parser& json) {
  int ended = 0;
  while (!out.empty()) {
    LLMUX_FUZZ_CHECK(ended == 0);
    LLMUX_FUZZ_CHECK(out.starts_with("data: "));
    const size_t end = out.find("\n\n");
    LLMUX_FUZZ_CHECK(end != std::string_view::npos);
    const std::string_view payload = out.substr(6, end - 6);
    LLMUX_FUZZ_CHECK(payload.find('\n') == std::string_view::npos);
    if (payload == "[DONE]") {
      ended = 1;
    } else {
      simdjson::dom::element doc;
      LLMUX_FUZZ_CHECK(json.parse(payload).get(doc) == simdjson::SUCCESS);
      LLMUX_FUZZ_CHECK(doc.is_object());
      if (doc["error"].error() == simdjson::SUCCESS) ended = 2;
    }
    out.remove_prefix(end + 2);
  }
  return ended;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte picks include_usage and where to split the input, so both feeding paths run.
  if (size == 0) return 0;
  const bool includeUsage = (data[0] & 1) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = input.empty() ? 0 : (data[0] >> 1) % (input.size() + 1);

  const ResponseOptions opts{"client-model", "chatcmpl-fuzz", 1767225600, includeUsage};
  auto dec = llmux::providers::cohere::makeStreamDecoder(opts);
  std::string out;
  StreamStatus st = dec->feed(input.substr(0, cut), out);
  if (st == StreamStatus::Continue) {
    st = dec->feed(input.substr(cut), out);
  } else {
    // After Done or Failed the decoder stays silent and keeps its status.
    const size_t before = out.size();
    LLMUX_FUZZ_CHECK(dec->feed(input.substr(cut), out) == st);
    LLMUX_FUZZ_CHECK(out.size() == before);
  }
  const size_t before = out.size();
  const StreamStatus fin = dec->finish(out);
  if (st != StreamStatus::Continue) LLMUX_FUZZ_CHECK(fin == st);
  LLMUX_FUZZ_CHECK(fin != StreamStatus::Continue);
  LLMUX_FUZZ_CHECK(out.size() == before);  // finish() never owes anything: message-end pays it

  const auto usage = dec->usage();
  LLMUX_FUZZ_CHECK(usage.promptTokens >= 0 && usage.completionTokens >= 0);
  LLMUX_FUZZ_CHECK(usage.cachedTokens >= 0 && usage.cachedTokens <= usage.promptTokens);
  LLMUX_FUZZ_CHECK(usage.totalTokens == usage.promptTokens + usage.completionTokens);

  simdjson::dom::parser json;
  const int ended = checkOutput(out, json);
  if (fin == StreamStatus::Done) LLMUX_FUZZ_CHECK(ended == 1);
  if (ended == 1) LLMUX_FUZZ_CHECK(fin == StreamStatus::Done);
  if (ended == 2) LLMUX_FUZZ_CHECK(fin == StreamStatus::Failed);
  return 0;
}
