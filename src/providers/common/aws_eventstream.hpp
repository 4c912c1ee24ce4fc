#pragma once
// Incremental decoder for AWS `application/vnd.amazon.eventstream` framing (Bedrock
// ConverseStream). Pure: no I/O, clock or allocation per message beyond reused buffers. Input may
// be split at any byte boundary; only an incomplete frame is ever copied.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::providers::aws {

enum class Status { Ok, BadPreludeCrc, BadMessageCrc, BadLength, BadHeader, TooLarge, Truncated };

enum class HeaderType : uint8_t {
  BoolTrue = 0,
  BoolFalse = 1,
  Byte = 2,
  Short = 3,
  Int = 4,
  Long = 5,
  ByteArray = 6,
  String = 7,
  Timestamp = 8,
  Uuid = 9,
};

struct Header {
  std::string_view name;
  HeaderType type = HeaderType::String;
  // Value bytes as on the wire: the content for ByteArray/String (without the length prefix), the
  // 16 raw bytes for Uuid, the big-endian bytes for the integer types, empty for bools.
  std::string_view raw;
  // Sign-extended value for Byte/Short/Int/Long/Timestamp, 1/0 for the bools, 0 otherwise.
  int64_t integer = 0;
};

struct EventStreamMessage {
  std::vector<Header> headers;
  std::string_view payload;
  // Value of the first string/byte-array header called `name`, or "" when absent.
  [[nodiscard]] std::string_view header(std::string_view name) const;
};

class EventStreamDecoder {
 public:
  static constexpr size_t kPreludeBytes = 12;     // total_len, headers_len, prelude_crc
  static constexpr size_t kMinMessageBytes = 16;  // prelude + message_crc

  explicit EventStreamDecoder(size_t maxMessageBytes = 16u << 20)
      : maxMessageBytes_(maxMessageBytes) {}

  // Feeds bytes. `onMessage(const EventStreamMessage&)` is called for each complete, verified
  // message; its views are valid only during the call. On the first error the status is returned
  // and kept: every later feed()/finish() returns it without looking at input.
  template <class F>
  Status feed(std::string_view bytes, F&& onMessage);

  // End of input: Truncated when part of a message is still buffered.
  Status finish();

  // Bytes buffered for an incomplete message.
  [[nodiscard]] size_t pending() const { return buf_.size(); }
  [[nodiscard]] Status status() const { return status_; }

 private:
  // Checks a complete prelude (12 bytes) and returns the message's total length, or 0 after
  // recording an error.
  size_t checkPrelude(std::string_view prelude);
  // Verifies and parses one whole frame into msg_; false after recording an error.
  bool decodeFrame(std::string_view frame);
  Status fail(Status s);

  size_t maxMessageBytes_;
  std::string buf_;         // the incomplete frame, if any
  EventStreamMessage msg_;  // reused so headers keep their capacity
  Status status_ = Status::Ok;
};

template <class F>
Status EventStreamDecoder::feed(std::string_view bytes, F&& onMessage) {
  if (status_ != Status::Ok) return status_;
  if (!buf_.empty()) {
    // Complete the buffered frame: its prelude first (to learn the length), then the rest.
    if (buf_.size() < kPreludeBytes) {
      const size_t take = std::min(kPreludeBytes - buf_.size(), bytes.size());
      buf_.append(bytes.data(), take);
      bytes.remove_prefix(take);
      if (buf_.size() < kPreludeBytes) return status_;
    }
    const size_t total = checkPrelude(buf_);
    if (total == 0) return status_;
    const size_t take = std::min(total - buf_.size(), bytes.size());
    buf_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    if (buf_.size() < total) return status_;
    if (!decodeFrame(buf_)) return status_;
    onMessage(static_cast<const EventStreamMessage&>(msg_));
    buf_.clear();
  }
  // Whole frames are decoded in place; only a trailing partial frame is copied.
  while (bytes.size() >= kPreludeBytes) {
    const size_t total = checkPrelude(bytes.substr(0, kPreludeBytes));
    if (total == 0) return status_;
    if (bytes.size() < total) break;
    if (!decodeFrame(bytes.substr(0, total))) return status_;
    onMessage(static_cast<const EventStreamMessage&>(msg_));
    bytes.remove_prefix(total);
  }
  buf_.append(bytes.data(), bytes.size());
  return status_;
}

}  // namespace llmux::providers::aws
