// Fuzzes the Bedrock ConverseStream → OpenAI stream decoder (AWS event-stream framing plus the
// translation). Besides "no crash", it checks that everything a client would receive is a
// sequence of `data: <JSON object | [DONE]>\n\n` events, that nothing follows an error or [DONE]
// (and nothing is appended once the decoder reported Done or Failed), that Done output ends with
// [DONE], and that token counts are never negative. Bit 1 of the first byte switches to a framed
// mode that wraps records of the input into valid frames, so the translation itself is fuzzed.
#include <simdjson.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "openai_sse_check.hpp"
#include "providers/bedrock/bedrock.hpp"

namespace {

using llmux::providers::ResponseOptions;
using llmux::providers::StreamStatus;

void putU32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>(v >> shift));
}

uint32_t crcOf(std::string_view s) {
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), s.size()));
}

void putHeader(std::string& h, std::string_view name, std::string_view value) {
  h.push_back(static_cast<char>(name.size()));
  h.append(name);
  h.push_back(7);
  h.push_back(static_cast<char>(value.size() >> 8));
  h.push_back(static_cast<char>(value.size() & 0xff));
  h.append(value);
}

// Framed mode: the input is records `kind u8 | len u16 | payload`, each wrapped into a valid
// frame (correct CRCs) so mutations reach the translation instead of dying on a CRC check.
std::string buildFrames(std::string_view in) {
  static constexpr std::string_view kEvents[] = {
      "messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop",
      "messageStop",  "metadata",          "somethingNew"};
  std::string stream;
  while (in.size() >= 3) {
    const auto kind = static_cast<unsigned char>(in[0]);
    size_t len = (static_cast<unsigned char>(in[1]) << 8) | static_cast<unsigned char>(in[2]);
    in.remove_prefix(3);
    len = len < in.size() ? len : in.size();
    const std::string_view payload = in.substr(0, len);
    in.remove_prefix(len);
    std::string headers;
    const unsigned k = kind % 10;
    if (k < 7) {
      putHeader(headers, ":event-type", kEvents[k]);
      putHeader(headers, ":content-type", "application/json");
      putHeader(headers, ":message-type", "event");
    } else if (k == 7) {
      putHeader(headers, ":exception-type",
                (kind & 0x10) ? "throttlingException" : "validationException");
      putHeader(headers, ":message-type", "exception");
    } else if (k == 8) {
      putHeader(headers, ":error-code", "InternalFailure");
      putHeader(headers, ":error-message", payload.substr(0, 64));
      putHeader(headers, ":message-type", "error");
    }  // k == 9: a frame without headers
    std::string f;
    putU32(f, static_cast<uint32_t>(16 + headers.size() + payload.size()));
    putU32(f, static_cast<uint32_t>(headers.size()));
    putU32(f, crcOf(f));
    f += headers;
    f += payload;
    putU32(f, crcOf(f));
    stream += f;
  }
  return stream;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte picks include_usage (bit 0), raw or framed input (bit 1) and where to split
  // the input, so both the in-place and the buffered-frame paths of the event-stream decoder run.
  if (size == 0) return 0;
  const bool includeUsage = (data[0] & 1) != 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string framed;
  if ((data[0] & 2) != 0) {
    framed = buildFrames(input);
    input = framed;
  }
  const size_t cut = input.empty() ? 0 : (data[0] >> 2) % (input.size() + 1);

  const ResponseOptions opts{"client-model", "chatcmpl-fuzz", 1767225600, includeUsage};
  auto dec = llmux::providers::bedrock::adapter().makeStreamDecoder(opts);
  std::string out;
  StreamStatus st = dec->feed(input.substr(0, cut), out);
  if (st == StreamStatus::Continue) {
    st = dec->feed(input.substr(cut), out);
  } else {
    const size_t before = out.size();
    LLMUX_FUZZ_CHECK(dec->feed(input.substr(cut), out) == st && out.size() == before);
  }
  LLMUX_FUZZ_CHECK(st != StreamStatus::Done);  // only finish() completes a stream
  if (st == StreamStatus::Continue) {
    const size_t before = out.size();
    st = dec->finish(out);
    LLMUX_FUZZ_CHECK(st != StreamStatus::Continue);
    if (st == StreamStatus::Failed) LLMUX_FUZZ_CHECK(out.size() == before);
  }
  if (st == StreamStatus::Done) LLMUX_FUZZ_CHECK(out.ends_with("data: [DONE]\n\n"));
  if (st == StreamStatus::Failed) LLMUX_FUZZ_CHECK(!out.ends_with("data: [DONE]\n\n"));
  // Sticky: nothing more once the stream is over.
  const size_t before = out.size();
  LLMUX_FUZZ_CHECK(dec->feed(input, out) == st && dec->finish(out) == st && out.size() == before);

  const auto u = dec->usage();
  LLMUX_FUZZ_CHECK(u.promptTokens >= 0 && u.completionTokens >= 0 && u.totalTokens >= 0 &&
                   u.cachedTokens >= 0 && u.reasoningTokens >= 0);
  LLMUX_FUZZ_CHECK(u.totalTokens == u.promptTokens + u.completionTokens);

  simdjson::dom::parser json;
  checkOpenAISse(out, json);
  return 0;
}
