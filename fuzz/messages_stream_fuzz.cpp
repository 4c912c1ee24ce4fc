// Fuzzes the OpenAI → Anthropic stream encoder behind the real SSE parser. Besides "no crash", it
// checks what an Anthropic SDK client would receive: a sequence of `event: X\ndata: <JSON object
// whose type is X>\n\n`, message_start first (or a lone error), content blocks opened at
// consecutive indices one at a time, at most one message_delta with no block event after it,
// nothing after message_stop or error, and finish() appending nothing.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "messages_api/messages_api.hpp"
#include "providers/common/sse_parser.hpp"

namespace {

using llmux::messages_api::RequestInfo;
using llmux::messages_api::StreamEncoder;
using llmux::providers::SseEvent;
using llmux::providers::SseParser;

void checkOutput(std::string_view out, bool completed, simdjson::dom::parser& json) {
  bool ended = false, first = true, deltaSent = false, stopped = false;
  int64_t started = 0;
  std::set<int64_t> open, tools;
  while (!out.empty()) {
    LLMUX_FUZZ_CHECK(!ended);
    LLMUX_FUZZ_CHECK(out.starts_with("event: "));
    const size_t end = out.find("\n\n");
    LLMUX_FUZZ_CHECK(end != std::string_view::npos);
    const std::string_view ev = out.substr(0, end);
    out.remove_prefix(end + 2);
    const size_t nl = ev.find('\n');
    LLMUX_FUZZ_CHECK(nl != std::string_view::npos);
    const std::string_view name = ev.substr(7, nl - 7);
    const std::string_view line = ev.substr(nl + 1);
    LLMUX_FUZZ_CHECK(line.starts_with("data: "));
    const std::string_view payload = line.substr(6);
    LLMUX_FUZZ_CHECK(payload.find('\n') == std::string_view::npos);
    simdjson::dom::element doc;
    LLMUX_FUZZ_CHECK(json.parse(payload).get(doc) == simdjson::SUCCESS);
    std::string_view type;
    LLMUX_FUZZ_CHECK(doc["type"].get(type) == simdjson::SUCCESS && type == name);
    if (first) LLMUX_FUZZ_CHECK(name == "message_start" || name == "error");
    first = false;
    int64_t index = -1;
    (void)doc["index"].get(index);
    if (name == "content_block_start") {
      LLMUX_FUZZ_CHECK(!deltaSent && open.empty() && index == started);
      std::string_view blockType;
      LLMUX_FUZZ_CHECK(doc["content_block"]["type"].get(blockType) == simdjson::SUCCESS);
      if (blockType == "tool_use") tools.insert(index);
      open.insert(index);
      ++started;
    } else if (name == "content_block_delta") {
      // A late argument fragment may name a closed tool block (stream.cpp explains why).
      LLMUX_FUZZ_CHECK(!deltaSent && (open.count(index) == 1 || tools.count(index) == 1));
    } else if (name == "content_block_stop") {
      LLMUX_FUZZ_CHECK(!deltaSent && open.erase(index) == 1);
    } else if (name == "message_delta") {
      LLMUX_FUZZ_CHECK(!deltaSent && open.empty());
      deltaSent = true;
    } else if (name == "message_stop") {
      LLMUX_FUZZ_CHECK(deltaSent);
      stopped = true;
      ended = true;
    } else if (name == "error") {
      ended = true;
    } else {
      LLMUX_FUZZ_CHECK(name == "message_start" || name == "ping");
    }
  }
  LLMUX_FUZZ_CHECK(stopped == completed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte picks thinking on/off and where to split the input, so both feeding paths run.
  if (size == 0) return 0;
  RequestInfo info;
  info.model = "client-model";
  info.thinking = (data[0] & 1) != 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = input.empty() ? 0 : (data[0] >> 1) % (input.size() + 1);

  StreamEncoder enc(info);
  SseParser parser(1u << 16);
  std::string out;
  bool over = false;
  auto onEvent = [&](const SseEvent& ev) {
    const size_t before = out.size();
    const bool more = enc.onChunk(ev.data, out);
    if (over) LLMUX_FUZZ_CHECK(!more && out.size() == before);  // silent once over
    if (!more) over = true;
  };
  if (parser.feed(input.substr(0, cut), onEvent)) parser.feed(input.substr(cut), onEvent);
  const size_t before = out.size();
  const bool finished = enc.finish(out);
  LLMUX_FUZZ_CHECK(out.size() == before);
  LLMUX_FUZZ_CHECK(finished == enc.completed());
  LLMUX_FUZZ_CHECK(!(enc.completed() && enc.failed()));
  if (over) LLMUX_FUZZ_CHECK(enc.completed() || enc.failed());
  LLMUX_FUZZ_CHECK(enc.promptTokens() >= 0 && enc.completionTokens() >= 0);
  if (!over) {
    // An engine-side failure (truncation) ends the stream with one error event.
    enc.fail(llmux::GatewayError::badGateway("truncated"), out);
    LLMUX_FUZZ_CHECK(enc.failed());
  }

  simdjson::dom::parser json;
  checkOutput(out, enc.completed(), json);
  return 0;
}
