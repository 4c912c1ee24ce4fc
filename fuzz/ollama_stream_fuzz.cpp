// Fuzzes the Ollama NDJSON → OpenAI stream decoders (/api/chat and /api/generate). Besides "no
// crash", it checks that everything a client would receive is a sequence of `data: <JSON object |
// [DONE]>\n\n` events, that nothing follows an error or [DONE], that the decoder stays silent after
// Done/Failed, that token counts are never negative, and that the output does not depend on where
// the input was split.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "openai_sse_check.hpp"
#include "providers/ollama/ollama.hpp"

namespace {

using llmux::providers::ResponseOptions;
using llmux::providers::StreamStatus;

struct Run {
  std::string out;
  StreamStatus status = StreamStatus::Continue;
};

// Feeds `input` in two pieces split at `cut`, then ends the body.
Run run(const llmux::providers::Adapter& adapter, const ResponseOptions& opts,
        std::string_view input, size_t cut) {
  auto dec = adapter.makeStreamDecoder(opts);
  Run r;
  for (std::string_view piece : {input.substr(0, cut), input.substr(cut)}) {
    const size_t before = r.out.size();
    const StreamStatus prev = r.status;
    r.status = dec->feed(piece, r.out);
    if (prev != StreamStatus::Continue) {
      LLMUX_FUZZ_CHECK(r.status == prev && r.out.size() == before);  // silent once ended
    }
  }
  const size_t before = r.out.size();
  const StreamStatus prev = r.status;
  r.status = dec->finish(r.out);
  if (prev != StreamStatus::Continue) {
    LLMUX_FUZZ_CHECK(r.status == prev && r.out.size() == before);
  }
  LLMUX_FUZZ_CHECK(r.status != StreamStatus::Continue);
  // A second finish changes nothing.
  const size_t after = r.out.size();
  LLMUX_FUZZ_CHECK(dec->finish(r.out) == r.status && r.out.size() == after);
  const auto usage = dec->usage();
  LLMUX_FUZZ_CHECK(usage.promptTokens >= 0 && usage.completionTokens >= 0 &&
                   usage.totalTokens >= 0 && usage.cachedTokens >= 0 && usage.reasoningTokens >= 0);
  if (r.status == StreamStatus::Done) LLMUX_FUZZ_CHECK(r.out.ends_with("data: [DONE]\n\n"));
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte picks include_usage, the endpoint, and where to split the input.
  if (size == 0) return 0;
  const bool includeUsage = (data[0] & 1) != 0;
  const auto& adapter = (data[0] & 2) != 0 ? llmux::providers::ollama::generateAdapter()
                                           : llmux::providers::ollama::chatAdapter();
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = input.empty() ? 0 : (data[0] >> 2) % (input.size() + 1);
  const ResponseOptions opts{"client-model", "chatcmpl-fuzz", 1767225600, includeUsage};

  const Run split = run(adapter, opts, input, cut);
  const Run whole = run(adapter, opts, input, input.size());
  LLMUX_FUZZ_CHECK(split.status == whole.status);
  LLMUX_FUZZ_CHECK(split.out == whole.out);

  simdjson::dom::parser json;
  checkOpenAISse(split.out, json);
  return 0;
}
