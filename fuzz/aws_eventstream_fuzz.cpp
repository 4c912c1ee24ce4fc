// Fuzzes EventStreamDecoder: the input (after the first byte) is fed whole, in pieces whose sizes
// cycle through values derived from the first byte, and byte by byte; all three must report the
// same messages, status and pending bytes. Every message's payload and header views must lie in
// the frame just delivered, which must be the next slice of the input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "providers/common/aws_eventstream.hpp"

namespace {

using llmux::providers::aws::EventStreamDecoder;
using llmux::providers::aws::EventStreamMessage;
using llmux::providers::aws::Header;
using llmux::providers::aws::HeaderType;
using llmux::providers::aws::Status;

struct Hdr {
  std::string name;
  HeaderType type;
  std::string raw;
  int64_t integer;
  bool operator==(const Hdr&) const = default;
};

struct Msg {
  std::vector<Hdr> headers;
  std::string payload;
  bool operator==(const Msg&) const = default;
};

struct Outcome {
  std::vector<Msg> messages;
  Status status = Status::Ok;
  size_t pending = 0;
  bool operator==(const Outcome&) const = default;
};

Outcome run(const std::vector<std::string_view>& pieces, size_t maxBytes) {
  EventStreamDecoder decoder(maxBytes);
  Outcome out;
  Status st = Status::Ok;
  size_t fed = 0;
  for (std::string_view piece : pieces) {
    const std::string owned(piece);  // so ASan sees views outliving a feed
    st = decoder.feed(owned, [&](const EventStreamMessage& m) {
      LLMUX_FUZZ_CHECK(m.payload.size() + 16 <= maxBytes);
      Msg msg;
      for (const Header& h : m.headers) {
        LLMUX_FUZZ_CHECK(static_cast<unsigned>(h.type) <= 9);
        msg.headers.push_back({std::string(h.name), h.type, std::string(h.raw), h.integer});
      }
      msg.payload = std::string(m.payload);
      out.messages.push_back(std::move(msg));
    });
    fed += piece.size();
    if (st != Status::Ok) {
      // A failed decoder stays failed and drops its buffer.
      LLMUX_FUZZ_CHECK(decoder.feed("x", [](const EventStreamMessage&) {}) == st);
      LLMUX_FUZZ_CHECK(decoder.pending() == 0);
      break;
    }
    LLMUX_FUZZ_CHECK(decoder.pending() <= fed);
  }
  out.pending = decoder.pending();
  const Status fin = decoder.finish();
  if (st == Status::Ok) {
    LLMUX_FUZZ_CHECK(fin == (out.pending > 0 ? Status::Truncated : Status::Ok));
  } else {
    LLMUX_FUZZ_CHECK(fin == st);
  }
  out.status = fin;
  LLMUX_FUZZ_CHECK(decoder.finish() == fin);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Small limits now and then so TooLarge is reachable with short inputs.
  const size_t maxBytes = (control & 0x80) ? 16 + (control & 0x3f) * 4 : 1u << 20;

  const Outcome whole = run({input}, maxBytes);

  // Piece sizes cycle through 1..8 scaled by the control byte, covering every prelude/body split.
  std::vector<std::string_view> pieces;
  size_t step = (control & 0x0f) + 1;
  for (size_t pos = 0; pos < input.size();) {
    const size_t n = std::min(step, input.size() - pos);
    pieces.push_back(input.substr(pos, n));
    pos += n;
    step = step % 13 + 1 + (control >> 4);
  }
  LLMUX_FUZZ_CHECK(run(pieces, maxBytes) == whole);

  if (input.size() <= 4096) {
    std::vector<std::string_view> bytewise;
    for (size_t i = 0; i < input.size(); ++i) bytewise.push_back(input.substr(i, 1));
    LLMUX_FUZZ_CHECK(run(bytewise, maxBytes) == whole);
  }
  return 0;
}
