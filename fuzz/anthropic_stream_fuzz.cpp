// Fuzzes the Anthropic adapter's stream decoder (SSE framing + event translation). Besides "no
// crash", it checks that everything a client would receive is a sequence of `data: <JSON object |
// [DONE]>\n\n` events, that nothing follows an error or [DONE], that the status agrees with the
// output, and that token counts are never negative.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "providers/anthropic/anthropic.hpp"

namespace {

using llmux::providers::StreamStatus;

// Returns the kind of the last event: 0 none, 1 chunk, 2 error, 3 [DONE].
int checkOutput(std::string_view out, simdjson::dom::parser& json) {
  bool ended = false;  // an error or [DONE] was seen
  int last = 0;
  while (!out.empty()) {
    LLMUX_FUZZ_CHECK(!ended);
    LLMUX_FUZZ_CHECK(out.starts_with("data: "));
    const size_t end = out.find("\n\n");
    LLMUX_FUZZ_CHECK(end != std::string_view::npos);
    const std::string_view payload = out.substr(6, end - 6);
    LLMUX_FUZZ_CHECK(payload.find('\n') == std::string_view::npos);
    if (payload == "[DONE]") {
      ended = true;
      last = 3;
    } else {
      simdjson::dom::element doc;
      LLMUX_FUZZ_CHECK(json.parse(payload).get(doc) == simdjson::SUCCESS);
      LLMUX_FUZZ_CHECK(doc.is_object());
      ended = doc["error"].error() == simdjson::SUCCESS;
      last = ended ? 2 : 1;
    }
    out.remove_prefix(end + 2);
  }
  return last;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte picks include_usage and where to split the input, so both feeding paths run.
  if (size == 0) return 0;
  const bool includeUsage = (data[0] & 1) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = input.empty() ? 0 : (data[0] >> 1) % (input.size() + 1);

  const auto& adapter = llmux::providers::anthropic::adapter();
  auto decoder =
      adapter.makeStreamDecoder({"client-model", "chatcmpl-fuzz", 1767225600, includeUsage});
  std::string out;
  StreamStatus status = decoder->feed(input.substr(0, cut), out);
  if (status == StreamStatus::Continue) {
    status = decoder->feed(input.substr(cut), out);
  } else {
    // Once the stream ended, later bytes change nothing.
    const size_t before = out.size();
    LLMUX_FUZZ_CHECK(decoder->feed(input.substr(cut), out) == status);
    LLMUX_FUZZ_CHECK(out.size() == before);
  }
  const size_t beforeFinish = out.size();
  const StreamStatus finished = decoder->finish(out);
  if (status != StreamStatus::Continue) {
    LLMUX_FUZZ_CHECK(finished == status);
    LLMUX_FUZZ_CHECK(out.size() == beforeFinish);
  } else {
    // finish() only reports what feed() had not: a stream without message_stop is truncated.
    LLMUX_FUZZ_CHECK(finished == StreamStatus::Failed);
    LLMUX_FUZZ_CHECK(out.size() == beforeFinish);
  }
  const auto usage = decoder->usage();
  LLMUX_FUZZ_CHECK(usage.promptTokens >= 0 && usage.completionTokens >= 0);
  LLMUX_FUZZ_CHECK(usage.totalTokens == usage.promptTokens + usage.completionTokens);
  LLMUX_FUZZ_CHECK(usage.cachedTokens >= 0 && usage.cachedTokens <= usage.promptTokens);

  simdjson::dom::parser json;
  const int last = checkOutput(out, json);
  if (finished == StreamStatus::Done) LLMUX_FUZZ_CHECK(last == 3);
  if (last == 3) LLMUX_FUZZ_CHECK(finished == StreamStatus::Done);
  if (last == 2) LLMUX_FUZZ_CHECK(finished == StreamStatus::Failed);
  return 0;
}
