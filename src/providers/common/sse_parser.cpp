#include "providers/common/sse_parser.hpp"

#include <cstdint>
#include <cstring>

namespace llmux::providers {
namespace {

// After a huge event, give the memory back instead of keeping it for the stream's lifetime.
constexpr size_t kRetainBufferBytes = 64u << 10;

// First CR or LF at or after `from`, or npos. Eight bytes per step (SWAR): event payloads are
// long JSON lines, so most bytes are skipped in bulk.
size_t findLineBreak(std::string_view s, size_t from) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  constexpr uint64_t kLf = kOnes * '\n';
  constexpr uint64_t kCr = kOnes * '\r';
  const char* p = s.data();
  const size_t n = s.size();
  size_t i = from;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    const uint64_t a = w ^ kLf;
    const uint64_t b = w ^ kCr;
    // Nonzero iff some byte of a or b is zero, i.e. some byte is LF or CR.
    if ((((a - kOnes) & ~a) | ((b - kOnes) & ~b)) & kHighs) break;
  }
  for (; i < n; ++i) {
    if (p[i] == '\n' || p[i] == '\r') return i;
  }
  return std::string_view::npos;
}

}  // namespace

size_t SseParser::findEventEnd(std::string_view s, size_t from) {
  // A blank line is a line terminator at the start of a line: at offset 0 (s starts at an event
  // boundary) or right after another terminator. Every decision needs only the byte before and the
  // byte after a terminator, so the scan can resume anywhere without state.
  const size_t n = s.size();
  size_t p = from;
  while (p < n) {
    p = findLineBreak(s, p);
    if (p == kNpos) return kNpos;
    const bool atLineStart = p == 0 || s[p - 1] == '\n' || s[p - 1] == '\r';
    if (s[p] == '\n') {
      if (p > 0 && s[p - 1] == '\r') {  // second half of a CRLF
        ++p;
        continue;
      }
      if (atLineStart) return p + 1;
    } else if (atLineStart) {
      if (p + 1 == n) return kNpos;  // CR or CRLF? Known only once the next byte arrives.
      return s[p + 1] == '\n' ? p + 2 : p + 1;
    }
    ++p;
  }
  return kNpos;
}

void SseParser::parseBlock(std::string_view block, SseEvent& ev) {
  bool joined = false;  // data lives in scratch_
  const size_t n = block.size();
  size_t i = 0;
  while (i < n) {
    size_t brk = findLineBreak(block, i);
    if (brk == kNpos) brk = n;
    std::string_view line = block.substr(i, brk - i);
    i = brk + 1;
    if (brk < n && block[brk] == '\r' && i < n && block[i] == '\n') ++i;

    if (line.empty() || line[0] == ':') continue;  // comment
    std::string_view name = line;
    std::string_view value;
    if (const size_t colon = line.find(':'); colon != kNpos) {
      name = line.substr(0, colon);
      value = line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    }
    if (name == "data") {
      if (!ev.hasData) {
        ev.data = value;  // the common single-line case stays a view into the input
        ev.hasData = true;
      } else {
        if (!joined) {
          scratch_.assign(ev.data);
          joined = true;
        }
        scratch_ += '\n';
        scratch_ += value;
      }
    } else if (name == "event") {
      ev.event = value;
    } else if (name == "id") {
      if (value.find('\0') == kNpos) ev.id = value;  // WHATWG: ids containing NUL are ignored
    }
    // "retry" and unknown fields are ignored.
  }
  if (joined) ev.data = scratch_;
}

size_t SseParser::takePending(std::string_view bytes, size_t& eventEnd) {
  eventEnd = kNpos;
  auto failTaking = [this] {
    fail();
    return size_t{0};
  };
  // A terminator straddling the boundary needs one byte of context on each side: append up to two
  // bytes and rescan the tail of buf_; from there on bytes itself has the context.
  const size_t head = bytes.size() < 2 ? bytes.size() : 2;
  buf_.append(bytes.data(), head);
  const std::string_view pendingView = std::string_view(buf_).substr(consumed_);
  if (size_t end = findEventEnd(pendingView, scanFrom_ - consumed_); end != kNpos) {
    if (end > maxEventBytes_) return failTaking();
    const size_t extra = pendingView.size() - end;
    buf_.resize(buf_.size() - extra);
    eventEnd = consumed_ + end;
    return head - extra;
  }
  if (head == bytes.size()) {
    if (pending() > maxEventBytes_) return failTaking();
    scanFrom_ = resumePoint();
    return head;
  }
  // bytes[1] may be a CR whose meaning depends on bytes[2]: rescan it.
  const size_t from = bytes[1] == '\r' ? 1 : 2;
  const size_t end = findEventEnd(bytes, from);
  const size_t take = end == kNpos ? bytes.size() : end;
  if (pending() + (take - head) > maxEventBytes_) return failTaking();
  buf_.append(bytes.data() + head, take - head);
  if (end == kNpos) {
    scanFrom_ = resumePoint();
  } else {
    eventEnd = buf_.size();
  }
  return take;
}

void SseParser::dropBuffer() {
  if (buf_.capacity() > kRetainBufferBytes) {
    std::string().swap(buf_);
  } else {
    buf_.clear();
  }
  consumed_ = 0;
  scanFrom_ = 0;
}

bool SseParser::fail() {
  failed_ = true;
  dropBuffer();
  return false;
}

size_t SseParser::resumePoint() const {
  return !buf_.empty() && buf_.back() == '\r' ? buf_.size() - 1 : buf_.size();
}

void SseParser::reset() {
  dropBuffer();
  failed_ = false;
}

}  // namespace llmux::providers
