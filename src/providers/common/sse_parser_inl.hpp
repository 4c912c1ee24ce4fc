#pragma once
// SseParser::feed (a template so the per-event callback inlines). Included by sse_parser.hpp.
#include <string_view>
#include <utility>

namespace llmux::providers {

template <class F>
bool SseParser::feed(std::string_view bytes, F&& onEvent) {
  if (failed_) return false;
  size_t pos = 0;  // bytes[0, pos) are delivered or buffered
  if (pending() > 0) {
    // Only the buffered event's own bytes are copied; everything after it is parsed in place.
    size_t eventEnd = kNpos;
    pos = takePending(bytes, eventEnd);
    if (failed_) return false;
    if (eventEnd == kNpos) return true;
    deliver(std::string_view(buf_).substr(consumed_, eventEnd - consumed_), onEvent);
    dropBuffer();
  }
  while (pos < bytes.size()) {
    const std::string_view rest = bytes.substr(pos);
    const size_t end = findEventEnd(rest, 0);
    if (end == kNpos) {
      if (rest.size() > maxEventBytes_) return fail();
      buf_.assign(rest);
      consumed_ = 0;
      scanFrom_ = resumePoint();
      return true;
    }
    if (end > maxEventBytes_) return fail();
    deliver(rest.substr(0, end), onEvent);
    pos += end;
  }
  return true;
}

template <class F>
void SseParser::deliver(std::string_view raw, F& onEvent) {
  SseEvent ev;
  // A block ends with the blank line's terminator; an event ending in LF after CR ended in CRLF.
  const size_t term = raw.size() >= 2 && raw[raw.size() - 2] == '\r' && raw.back() == '\n' ? 2 : 1;
  parseBlock(raw.substr(0, raw.size() - term), ev);
  if (!ev.hasData) return;
  ev.raw = raw;
  onEvent(std::as_const(ev));
}

}  // namespace llmux::providers
