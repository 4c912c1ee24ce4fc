#pragma once
// Incremental server-sent-events parser (WHATWG EventSource rules, as every provider uses them).
// Input may be split at any byte boundary; events are reported as soon as their terminating blank
// line arrives, so a relay never holds back a complete event.
#include <cstddef>
#include <string>
#include <string_view>

namespace llmux::providers {

struct SseEvent {
  std::string_view event;  // value of the last "event:" line ("" if none)
  std::string_view data;   // "data:" lines joined with '\n' (one leading space after ':' removed)
  std::string_view id;     // value of the last "id:" line
  std::string_view raw;    // the exact bytes of the event, including its terminating blank line
  bool hasData = false;  // at least one data: line (comment-only blocks are not reported as events)
};

class SseParser {
 public:
  explicit SseParser(size_t maxEventBytes = 8u << 20) : maxEventBytes_(maxEventBytes) {}

  // Feeds bytes. `onEvent(const SseEvent&)` is called for each complete event that has at least one
  // data line; the views are valid only during the call. Returns false (and stops) when one event
  // would exceed maxEventBytes; the parser is then unusable.
  template <class F>
  bool feed(std::string_view bytes, F&& onEvent);

  // Bytes buffered for an incomplete event (for "stream ended mid-event" detection).
  [[nodiscard]] size_t pending() const { return buf_.size() - consumed_; }
  void reset();

 private:
  // Parses one complete event block [block, without the terminator] into ev; uses scratch_ for
  // joins.
  void parseBlock(std::string_view block, SseEvent& ev);
  // Finds the end of the first complete event in s: returns the offset just past the blank line
  // (handles LF, CRLF and CR), or npos. `from` is where to resume scanning.
  static size_t findEventEnd(std::string_view s, size_t from);

  static constexpr size_t kNpos = std::string_view::npos;
  // Appends the start of `bytes` that belongs to the buffered event; returns how many bytes were
  // taken. `eventEnd` is set to the event's end in buf_ when it completed (else kNpos).
  size_t takePending(std::string_view bytes, size_t& eventEnd);
  template <class F>
  void deliver(std::string_view raw, F& onEvent);
  void dropBuffer();
  bool fail();
  // Where to resume the terminator search in buf_: a trailing CR may still become CRLF.
  [[nodiscard]] size_t resumePoint() const;

  size_t maxEventBytes_;
  std::string buf_;      // unconsumed input (incomplete event)
  size_t consumed_ = 0;  // bytes of buf_ already delivered
  size_t scanFrom_ = 0;  // resume point for the terminator search within buf_
  std::string scratch_;  // joined data for multi-line events
  bool failed_ = false;  // an event exceeded maxEventBytes_
};

}  // namespace llmux::providers

#include "providers/common/sse_parser_inl.hpp"
