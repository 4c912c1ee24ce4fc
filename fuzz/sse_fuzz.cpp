// Fuzzes SseParser: the input (after the first byte) is fed whole, in two pieces split at a
// position chosen by the first byte, and byte by byte; all three must report the same events. Every
// reported raw must be the next slice of the input, and the bytes skipped between events must be
// blocks without data (a fresh parser reports nothing for them and consumes them fully).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "providers/common/sse_parser.hpp"

namespace {

using llmux::providers::SseEvent;
using llmux::providers::SseParser;

struct Ev {
  std::string event, data, id, raw;
  bool operator==(const Ev&) const = default;
};

struct Outcome {
  std::vector<Ev> events;
  std::vector<size_t> offsets;  // where each raw starts (single-feed runs only)
  bool ok = true;
  size_t pending = 0;
  [[nodiscard]] bool sameAs(const Outcome& o) const {
    return events == o.events && ok == o.ok && pending == o.pending;
  }
};

Outcome run(const std::vector<std::string_view>& pieces, size_t maxBytes) {
  SseParser parser(maxBytes);
  Outcome out;
  for (std::string_view piece : pieces) {
    const std::string owned(piece);  // so ASan sees views outliving a feed
    out.ok = parser.feed(owned, [&](const SseEvent& ev) {
      LLMUX_FUZZ_CHECK(ev.hasData);
      out.events.push_back(
          {std::string(ev.event), std::string(ev.data), std::string(ev.id), std::string(ev.raw)});
      if (pieces.size() == 1) {
        // Fed in one piece, events are views into the input: nothing is copied.
        LLMUX_FUZZ_CHECK(ev.raw.data() >= owned.data() &&
                         ev.raw.data() + ev.raw.size() <= owned.data() + owned.size());
        out.offsets.push_back(static_cast<size_t>(ev.raw.data() - owned.data()));
      }
    });
    if (!out.ok) break;
  }
  out.pending = out.ok ? parser.pending() : 0;
  return out;
}

// `gap` must be complete blocks without data. `next` is the byte after it, if any: a gap ending in
// CR is only complete once the parser has seen that the next byte is not LF.
void checkGapHasNoEvents(std::string_view gap, std::string_view next) {
  if (gap.empty()) return;
  SseParser parser;
  bool any = false;
  auto onEvent = [&](const SseEvent&) { any = true; };
  LLMUX_FUZZ_CHECK(parser.feed(gap, onEvent) && parser.feed(next, onEvent));
  LLMUX_FUZZ_CHECK(!any && parser.pending() <= next.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = input.empty() ? 0 : data[0] % (input.size() + 1);
  // Low limits exercise the overflow paths; the high bit selects "no practical limit".
  const size_t maxBytes = (data[0] & 0x80) ? (8u << 20) : 16 + (data[0] & 0x3f) * 4;

  const Outcome whole = run({input}, maxBytes);
  const Outcome split = run({input.substr(0, cut), input.substr(cut)}, maxBytes);
  LLMUX_FUZZ_CHECK(split.sameAs(whole));
  if (input.size() <= 4096) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
    LLMUX_FUZZ_CHECK(run(bytes, maxBytes).sameAs(whole));
  }

  size_t pos = 0;
  for (size_t i = 0; i < whole.events.size(); ++i) {
    const Ev& ev = whole.events[i];
    const size_t at = whole.offsets[i];
    LLMUX_FUZZ_CHECK(ev.raw.size() <= maxBytes && at >= pos);
    checkGapHasNoEvents(input.substr(pos, at - pos), input.substr(at, 1));
    pos = at + ev.raw.size();
    LLMUX_FUZZ_CHECK(ev.event.find_first_of("\r\n") == std::string::npos);
    LLMUX_FUZZ_CHECK(ev.id.find_first_of("\r\n") == std::string::npos);
    LLMUX_FUZZ_CHECK(ev.data.find('\r') == std::string::npos);
  }
  if (whole.ok) {
    const size_t consumed = input.size() - whole.pending;
    LLMUX_FUZZ_CHECK(pos <= consumed);
    checkGapHasNoEvents(input.substr(pos, consumed - pos), input.substr(consumed, 1));
  }
  return 0;
}
