#include "providers/common/aws_eventstream.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::providers::aws {
namespace {

// Vectors from docs/wire_formats.md §4.5.
constexpr std::string_view kMessageStartHex =
    "000000760000005296d5fade0b3a6576656e742d7479706507000c6d65737361676553746172740d3a636f6e74656e"
    "742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e74"
    "7b22726f6c65223a22617373697374616e74227d6fa8c599";
constexpr std::string_view kDeltaHex =
    "0000009400000057b4ab9aee0b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a63"
    "6f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74797065070005"
    "6576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a224869"
    "227d7d1f944657";
constexpr std::string_view kThrottleHex =
    "00000090000000618e91a9b70f3a657863657074696f6e2d747970650700137468726f74746c696e67457863657074"
    "696f6e0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74"
    "797065070009657863657074696f6e7b226d657373616765223a22546f6f206d616e79207265717565737473227de6"
    "7f8005";
constexpr std::string_view kEmptyHex = "000000100000000005c248eb7d98c8ff";
constexpr std::string_view kNoHeaderHex =
    "0000001d00000000fd528c5a7b27666f6f273a27626172277dc3653936";

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

void putU32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>(v >> shift));
}

uint32_t crcOf(std::string_view s) {
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), s.size()));
}

// Builds a frame with correct CRCs around already-encoded header bytes.
std::string frame(std::string_view headers, std::string_view payload) {
  std::string f;
  putU32(f, static_cast<uint32_t>(16 + headers.size() + payload.size()));
  putU32(f, static_cast<uint32_t>(headers.size()));
  putU32(f, crcOf(f));
  f.append(headers);
  f.append(payload);
  putU32(f, crcOf(f));
  return f;
}

std::string stringHeader(std::string_view name, std::string_view value) {
  std::string h;
  h.push_back(static_cast<char>(name.size()));
  h.append(name);
  h.push_back(7);
  h.push_back(static_cast<char>(value.size() >> 8));
  h.push_back(static_cast<char>(value.size()));
  h.append(value);
  return h;
}

// Owned copies of what the decoder reported (its views die with the callback).
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
  Status status = Status::Ok;  // from finish() unless a feed failed
  size_t pending = 0;
  bool operator==(const Outcome&) const = default;
};

Outcome run(const std::vector<std::string_view>& pieces, size_t max = 16u << 20) {
  EventStreamDecoder d(max);
  Outcome out;
  Status st = Status::Ok;
  for (std::string_view p : pieces) {
    const std::string owned(p);  // so ASan catches views that outlive the input
    st = d.feed(owned, [&](const EventStreamMessage& m) {
      Msg msg;
      for (const Header& h : m.headers) {
        msg.headers.push_back({std::string(h.name), h.type, std::string(h.raw), h.integer});
      }
      msg.payload = std::string(m.payload);
      out.messages.push_back(std::move(msg));
    });
    if (st != Status::Ok) break;
  }
  out.pending = d.pending();
  out.status = st == Status::Ok ? d.finish() : st;
  return out;
}

Outcome runWhole(std::string_view bytes, size_t max = 16u << 20) {
  return run({bytes}, max);
}

std::vector<Hdr> strings(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::vector<Hdr> out;
  out.reserve(kv.size());
  for (const auto& [k, v] : kv) out.push_back({k, HeaderType::String, v, 0});
  return out;
}

TEST(AwsEventStream, MessageStartVector) {
  const Outcome o = runWhole(unhex(kMessageStartHex));
  ASSERT_EQ(o.status, Status::Ok);
  ASSERT_EQ(o.messages.size(), 1u);
  EXPECT_EQ(o.messages[0].headers, strings({{":event-type", "messageStart"},
                                            {":content-type", "application/json"},
                                            {":message-type", "event"}}));
  EXPECT_EQ(o.messages[0].payload, R"({"role":"assistant"})");
  EXPECT_EQ(o.pending, 0u);
}

TEST(AwsEventStream, DeltaVector) {
  const Outcome o = runWhole(unhex(kDeltaHex));
  ASSERT_EQ(o.status, Status::Ok);
  ASSERT_EQ(o.messages.size(), 1u);
  EXPECT_EQ(o.messages[0].headers, strings({{":event-type", "contentBlockDelta"},
                                            {":content-type", "application/json"},
                                            {":message-type", "event"}}));
  EXPECT_EQ(o.messages[0].payload, R"({"contentBlockIndex":0,"delta":{"text":"Hi"}})");
}

TEST(AwsEventStream, ThrottlingVectorAndHeaderLookup) {
  const std::string bytes = unhex(kThrottleHex);
  ASSERT_EQ(bytes.size(), 144u);
  EventStreamDecoder d;
  int n = 0;
  EXPECT_EQ(d.feed(bytes,
                   [&](const EventStreamMessage& m) {
                     ++n;
                     EXPECT_EQ(m.header(":message-type"), "exception");
                     EXPECT_EQ(m.header(":exception-type"), "throttlingException");
                     EXPECT_EQ(m.header(":content-type"), "application/json");
                     EXPECT_EQ(m.header(":event-type"), "");
                     EXPECT_EQ(m.payload, R"({"message":"Too many requests"})");
                   }),
            Status::Ok);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(d.finish(), Status::Ok);
}

TEST(AwsEventStream, OfficialCodecVectors) {
  Outcome o = runWhole(unhex(kEmptyHex));
  ASSERT_EQ(o.status, Status::Ok);
  ASSERT_EQ(o.messages.size(), 1u);
  EXPECT_TRUE(o.messages[0].headers.empty());
  EXPECT_EQ(o.messages[0].payload, "");

  o = runWhole(unhex(kNoHeaderHex));
  ASSERT_EQ(o.status, Status::Ok);
  ASSERT_EQ(o.messages.size(), 1u);
  EXPECT_TRUE(o.messages[0].headers.empty());
  EXPECT_EQ(o.messages[0].payload, "{'foo':'bar'}");
}

std::vector<std::string> allVectors() {
  return {unhex(kMessageStartHex), unhex(kDeltaHex), unhex(kThrottleHex), unhex(kEmptyHex),
          unhex(kNoHeaderHex)};
}

TEST(AwsEventStream, SplitAtEveryBoundaryAndByteByByte) {
  std::string all;
  for (const std::string& v : allVectors()) all += v;
  for (const std::string& bytes :
       {allVectors()[0], allVectors()[1], allVectors()[2], allVectors()[3], allVectors()[4], all}) {
    const std::string_view s = bytes;
    const Outcome whole = runWhole(s);
    ASSERT_EQ(whole.status, Status::Ok);
    for (size_t i = 0; i <= s.size(); ++i) {
      EXPECT_EQ(run({s.substr(0, i), s.substr(i)}), whole) << "split at " << i;
    }
    for (size_t i = 0; i <= s.size(); ++i) {
      for (size_t j = i; j <= s.size(); j += 7) {
        EXPECT_EQ(run({s.substr(0, i), s.substr(i, j - i), s.substr(j)}), whole);
      }
    }
    std::vector<std::string_view> bytewise;
    for (size_t i = 0; i < s.size(); ++i) bytewise.push_back(s.substr(i, 1));
    EXPECT_EQ(run(bytewise), whole);
  }
}

TEST(AwsEventStream, SeveralMessagesConcatenated) {
  std::string all;
  for (const std::string& v : allVectors()) all += v;
  const Outcome o = runWhole(all);
  ASSERT_EQ(o.status, Status::Ok);
  ASSERT_EQ(o.messages.size(), 5u);
  EXPECT_EQ(o.messages[1].payload, R"({"contentBlockIndex":0,"delta":{"text":"Hi"}})");
  EXPECT_EQ(o.messages[4].payload, "{'foo':'bar'}");
}

TEST(AwsEventStream, EveryCorruptedByteIsDetected) {
  for (const std::string& v : allVectors()) {
    for (size_t i = 0; i < v.size(); ++i) {
      for (unsigned char flip : {0x01, 0x80, 0xff}) {
        std::string bad = v;
        bad[i] = static_cast<char>(bad[i] ^ flip);
        const Outcome o = runWhole(bad);
        EXPECT_TRUE(o.messages.empty()) << "byte " << i;
        if (i < 12) {
          // A corrupt prelude fails its CRC before anything else is judged.
          EXPECT_EQ(o.status, Status::BadPreludeCrc) << "byte " << i;
        } else {
          EXPECT_EQ(o.status, Status::BadMessageCrc) << "byte " << i;
        }
        // Byte by byte must agree, and a failed decoder stays failed.
        std::vector<std::string_view> bytewise;
        for (size_t k = 0; k < bad.size(); ++k)
          bytewise.push_back(std::string_view(bad).substr(k, 1));
        EXPECT_EQ(run(bytewise), o);
      }
    }
  }
}

TEST(AwsEventStream, ErrorIsSticky) {
  std::string bad = unhex(kEmptyHex);
  bad[15] ^= 1;
  EventStreamDecoder d;
  int n = 0;
  auto count = [&](const EventStreamMessage&) { ++n; };
  EXPECT_EQ(d.feed(bad, count), Status::BadMessageCrc);
  EXPECT_EQ(d.feed(unhex(kEmptyHex), count), Status::BadMessageCrc);
  EXPECT_EQ(d.finish(), Status::BadMessageCrc);
  EXPECT_EQ(d.status(), Status::BadMessageCrc);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(d.pending(), 0u);
}

TEST(AwsEventStream, TruncatedFinalFrame) {
  const std::string first = unhex(kMessageStartHex);
  const std::string second = unhex(kDeltaHex);
  for (size_t cut = 1; cut < second.size(); ++cut) {
    const Outcome o = runWhole(first + second.substr(0, cut));
    EXPECT_EQ(o.status, Status::Truncated) << "cut " << cut;
    EXPECT_EQ(o.messages.size(), 1u);
    EXPECT_EQ(o.pending, cut);
  }
  EventStreamDecoder d;
  EXPECT_EQ(d.feed(second.substr(0, 5), [](const EventStreamMessage&) {}), Status::Ok);
  EXPECT_EQ(d.finish(), Status::Truncated);
  EXPECT_EQ(d.finish(), Status::Truncated);
  EXPECT_EQ(d.feed(second.substr(5), [](const EventStreamMessage&) {}), Status::Truncated);
}

TEST(AwsEventStream, EmptyInputFinishesOk) {
  EventStreamDecoder d;
  EXPECT_EQ(d.feed("", [](const EventStreamMessage&) {}), Status::Ok);
  EXPECT_EQ(d.finish(), Status::Ok);
}

// A prelude with a valid CRC over arbitrary lengths.
std::string prelude(uint32_t total, uint32_t headersLen) {
  std::string p;
  putU32(p, total);
  putU32(p, headersLen);
  putU32(p, crcOf(p));
  return p;
}

TEST(AwsEventStream, OversizeTotalLengthIsTooLarge) {
  // Reported from the prelude alone, before the body is buffered.
  EXPECT_EQ(runWhole(prelude(0xffffffffu, 0)).status, Status::TooLarge);
  EXPECT_EQ(runWhole(prelude(1025, 0), 1024).status, Status::TooLarge);
  const std::string ok = frame("", std::string(1024 - 16, 'x'));
  EXPECT_EQ(runWhole(ok, 1024).status, Status::Ok);
  EXPECT_EQ(runWhole(frame("", std::string(1024 - 15, 'x')), 1024).status, Status::TooLarge);
}

TEST(AwsEventStream, BadLengths) {
  EXPECT_EQ(runWhole(prelude(0, 0)).status, Status::BadLength);
  EXPECT_EQ(runWhole(prelude(15, 0)).status, Status::BadLength);
  EXPECT_EQ(runWhole(prelude(16, 1)).status, Status::BadLength);
  EXPECT_EQ(runWhole(prelude(20, 5)).status, Status::BadLength);
  // headers_len == total_len - 16 is legal (no payload); here it is only truncated.
  EXPECT_EQ(runWhole(prelude(20, 4)).status, Status::Truncated);
}

std::string typedHeader(std::string_view name, uint8_t type, std::string_view value) {
  std::string h;
  h.push_back(static_cast<char>(name.size()));
  h.append(name);
  h.push_back(static_cast<char>(type));
  h.append(value);
  return h;
}

TEST(AwsEventStream, AllHeaderValueTypes) {
  const std::string uuid = unhex("00112233445566778899aabbccddeeff");
  std::string headers;
  headers += typedHeader("t", 0, "");
  headers += typedHeader("f", 1, "");
  headers += typedHeader("b", 2, unhex("ff"));
  headers += typedHeader("s", 3, unhex("8000"));
  headers += typedHeader("i", 4, unhex("7fffffff"));
  headers += typedHeader("l", 5, unhex("fffffffffffffffe"));
  headers += typedHeader("a", 6, unhex("0003") + unhex("00ff01"));
  headers += stringHeader("str", "value");
  headers += typedHeader("ts", 8, unhex("0000018bcfe56800"));
  headers += typedHeader("u", 9, uuid);
  headers += typedHeader("", 7, unhex("0000"));  // empty name and value are still well-formed
  const std::string f = frame(headers, "body");

  const Outcome o = runWhole(f);
  ASSERT_EQ(o.status, Status::Ok);
  ASSERT_EQ(o.messages.size(), 1u);
  const std::vector<Hdr> want = {
      {"t", HeaderType::BoolTrue, "", 1},
      {"f", HeaderType::BoolFalse, "", 0},
      {"b", HeaderType::Byte, unhex("ff"), -1},
      {"s", HeaderType::Short, unhex("8000"), -32768},
      {"i", HeaderType::Int, unhex("7fffffff"), 2147483647},
      {"l", HeaderType::Long, unhex("fffffffffffffffe"), -2},
      {"a", HeaderType::ByteArray, unhex("00ff01"), 0},
      {"str", HeaderType::String, "value", 0},
      {"ts", HeaderType::Timestamp, unhex("0000018bcfe56800"), 1700000000000},
      {"u", HeaderType::Uuid, uuid, 0},
      {"", HeaderType::String, "", 0},
  };
  EXPECT_EQ(o.messages[0].headers, want);
  EXPECT_EQ(o.messages[0].payload, "body");

  std::vector<std::string_view> bytewise;
  for (size_t i = 0; i < f.size(); ++i) bytewise.push_back(std::string_view(f).substr(i, 1));
  EXPECT_EQ(run(bytewise), o);

  EventStreamDecoder d;
  d.feed(f, [](const EventStreamMessage& m) {
    EXPECT_EQ(m.header("a"), unhex("00ff01"));
    EXPECT_EQ(m.header("str"), "value");
    EXPECT_EQ(m.header("u"), "");  // not a string-typed header
  });
}

TEST(AwsEventStream, MalformedHeadersWithValidCrcs) {
  const std::vector<std::string> bad = {
      typedHeader("x", 10, ""),   // unknown type
      typedHeader("x", 255, ""),  // unknown type
      std::string("\x05"
                  "ab",
                  3),  // name runs past the block
      std::string("\x01"
                  "x",
                  2),               // no type byte
      typedHeader("x", 2, ""),      // byte value missing
      typedHeader("x", 3, "\x01"),  // short value cut
      typedHeader("x", 4, "\x01\x02\x03"),
      typedHeader("x", 5, "1234567"),
      typedHeader("x", 8, "1234567"),
      typedHeader("x", 9, std::string(15, 'u')),
      typedHeader("x", 6, "\x00"),  // length prefix cut
      typedHeader("x", 7,
                  std::string("\x00\x05"
                              "abcd",
                              6)),  // value shorter than its length
  };
  for (const std::string& h : bad) {
    // The payload right after the block must not be read as header bytes.
    const Outcome o = runWhole(frame(h, "payload-bytes"));
    EXPECT_EQ(o.status, Status::BadHeader) << testing::PrintToString(h);
    EXPECT_TRUE(o.messages.empty());
  }
}

TEST(AwsEventStream, ReusesBufferAcrossFeedsAfterPartialFrame) {
  // A partial frame, then its rest together with further whole frames in one feed.
  const std::string a = unhex(kDeltaHex);
  const std::string b = unhex(kThrottleHex);
  const std::string all = a + b + a;
  const Outcome o = run({std::string_view(all).substr(0, 50), std::string_view(all).substr(50)});
  ASSERT_EQ(o.status, Status::Ok);
  ASSERT_EQ(o.messages.size(), 3u);
  EXPECT_EQ(o.messages[2], o.messages[0]);
}

}  // namespace
}  // namespace llmux::providers::aws
