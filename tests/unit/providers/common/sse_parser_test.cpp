#include "providers/common/sse_parser.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::providers {
namespace {

// An owned copy of an SseEvent (the parser's views die with the callback).
struct Ev {
  std::string event;
  std::string data;
  std::string id;
  std::string raw;
  bool operator==(const Ev&) const = default;
};

void PrintTo(const Ev& e, std::ostream* os) {
  *os << "{event=" << testing::PrintToString(e.event) << " data=" << testing::PrintToString(e.data)
      << " id=" << testing::PrintToString(e.id) << " raw=" << testing::PrintToString(e.raw) << "}";
}

struct Outcome {
  std::vector<Ev> events;
  bool ok = true;
  size_t pending = 0;
};

Outcome feedPieces(const std::vector<std::string_view>& pieces, size_t maxBytes = 8u << 20) {
  SseParser parser(maxBytes);
  Outcome run;
  for (std::string_view piece : pieces) {
    // Copy each piece so views into a previous feed's memory would be caught by ASan.
    const std::string owned(piece);
    run.ok = parser.feed(owned, [&](const SseEvent& ev) {
      EXPECT_TRUE(ev.hasData);
      run.events.push_back(
          {std::string(ev.event), std::string(ev.data), std::string(ev.id), std::string(ev.raw)});
    });
    if (!run.ok) break;
  }
  run.pending = parser.pending();
  return run;
}

Outcome feedWhole(std::string_view in, size_t maxBytes = 8u << 20) {
  return feedPieces({in}, maxBytes);
}

Outcome feedBytewise(std::string_view in, size_t maxBytes = 8u << 20) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < in.size(); ++i) pieces.push_back(in.substr(i, 1));
  return feedPieces(pieces, maxBytes);
}

// A deliberately naive WHATWG parser over the whole input, used as the oracle. A CR that is the
// last byte is treated as not yet terminated (it may be the first half of a CRLF).
Outcome reference(std::string_view in) {
  Outcome run;
  size_t blockStart = 0;
  size_t i = 0;
  Ev cur;
  bool hasData = false;
  while (i < in.size()) {
    const size_t j = in.find_first_of("\r\n", i);
    if (j == std::string_view::npos) break;
    size_t term = 1;
    if (in[j] == '\r') {
      if (j + 1 == in.size()) break;
      if (in[j + 1] == '\n') term = 2;
    }
    const std::string_view line = in.substr(i, j - i);
    const size_t next = j + term;
    if (line.empty()) {
      if (hasData) {
        cur.raw = std::string(in.substr(blockStart, next - blockStart));
        run.events.push_back(cur);
      }
      cur = Ev{};
      hasData = false;
      blockStart = next;
    } else if (line[0] != ':') {
      const size_t colon = line.find(':');
      std::string_view name = line.substr(0, colon);
      std::string_view value;
      if (colon != std::string_view::npos) {
        value = line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
      }
      if (name == "data") {
        if (hasData) cur.data += '\n';
        cur.data += value;
        hasData = true;
      } else if (name == "event") {
        cur.event = value;
      } else if (name == "id" && value.find('\0') == std::string_view::npos) {
        cur.id = value;
      }
    }
    i = next;
  }
  run.pending = in.size() - blockStart;
  return run;
}

// Whole, every two-piece split, byte-by-byte: all must agree (events, status, pending bytes).
void expectSplitInvariant(std::string_view in, const Outcome& expected,
                          size_t maxBytes = 8u << 20) {
  const Outcome whole = feedWhole(in, maxBytes);
  EXPECT_EQ(whole.events, expected.events);
  EXPECT_EQ(whole.ok, expected.ok);
  if (expected.ok) EXPECT_EQ(whole.pending, expected.pending);
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    const Outcome split = feedPieces({in.substr(0, cut), in.substr(cut)}, maxBytes);
    ASSERT_EQ(split.events, expected.events) << "split at " << cut;
    ASSERT_EQ(split.ok, expected.ok) << "split at " << cut;
    if (expected.ok) ASSERT_EQ(split.pending, expected.pending) << "split at " << cut;
  }
  const Outcome bytes = feedBytewise(in, maxBytes);
  EXPECT_EQ(bytes.events, expected.events);
  EXPECT_EQ(bytes.ok, expected.ok);
  if (expected.ok) EXPECT_EQ(bytes.pending, expected.pending);
}

std::string joinRaw(const Outcome& run) {
  std::string out;
  for (const Ev& e : run.events) out += e.raw;
  return out;
}

// One OpenAI chunk event; `tail` is the "choices" value and the rest of the object.
std::string openAiChunk(std::string_view tail) {
  return R"(data: {"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1718000000,)"
         R"("model":"gpt-4o-mini","choices":)" +
         std::string(tail) + "\n\n";
}

// A real-shaped OpenAI stream: role chunk, content chunks, finish chunk, usage chunk, [DONE].
const std::string kOpenAiStream =
    openAiChunk(R"([{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,)"
                R"("finish_reason":null}]})") +
    openAiChunk(R"([{"index":0,"delta":{"content":"Hello"},"logprobs":null,)"
                R"("finish_reason":null}]})") +
    openAiChunk(R"([{"index":0,"delta":{"content":" world\n"},"logprobs":null,)"
                R"("finish_reason":null}]})") +
    openAiChunk(R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})") +
    openAiChunk(R"([],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}})") +
    "data: [DONE]\n\n";

const std::string kAnthropicStream =
    "event: message_start\n"
    R"(data: {"type":"message_start","message":{"id":"msg_01","type":"message",)"
    R"("role":"assistant","content":[],"model":"claude-3-5-sonnet",)"
    R"("usage":{"input_tokens":25,"output_tokens":1}}})"
    "\n\n"
    "event: content_block_start\n"
    R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
    "\n\n"
    "event: ping\n"
    R"(data: {"type": "ping"})"
    "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})"
    "\n\n"
    "event: content_block_stop\n"
    R"(data: {"type":"content_block_stop","index":0})"
    "\n\n"
    "event: message_delta\n"
    R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},)"
    R"("usage":{"output_tokens":15}})"
    "\n\n"
    "event: message_stop\n"
    R"(data: {"type":"message_stop"})"
    "\n\n";

TEST(SseParser, OpenAiStreamWhole) {
  const Outcome run = feedWhole(kOpenAiStream);
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.events.size(), 6u);
  EXPECT_EQ(run.events[1].data,
            R"({"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1718000000,)"
            R"("model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},)"
            R"("logprobs":null,"finish_reason":null}]})");
  EXPECT_EQ(run.events[5].data, "[DONE]");
  EXPECT_EQ(run.events[5].raw, "data: [DONE]\n\n");
  for (const Ev& e : run.events) {
    EXPECT_EQ(e.event, "");
    EXPECT_EQ(e.id, "");
  }
  EXPECT_EQ(joinRaw(run), kOpenAiStream);
  EXPECT_EQ(run.pending, 0u);
}

TEST(SseParser, OpenAiStreamEverySplitAndBytewise) {
  expectSplitInvariant(kOpenAiStream, feedWhole(kOpenAiStream));
  expectSplitInvariant(kOpenAiStream, reference(kOpenAiStream));
}

TEST(SseParser, AnthropicStreamWhole) {
  const Outcome run = feedWhole(kAnthropicStream);
  ASSERT_TRUE(run.ok);
  ASSERT_EQ(run.events.size(), 7u);
  EXPECT_EQ(run.events[0].event, "message_start");
  EXPECT_EQ(run.events[2].event, "ping");
  EXPECT_EQ(run.events[2].data, R"({"type": "ping"})");
  EXPECT_EQ(run.events[3].event, "content_block_delta");
  EXPECT_EQ(run.events[6].event, "message_stop");
  EXPECT_EQ(run.events[6].raw, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  EXPECT_EQ(joinRaw(run), kAnthropicStream);
}

TEST(SseParser, AnthropicStreamEverySplitAndBytewise) {
  expectSplitInvariant(kAnthropicStream, reference(kAnthropicStream));
}

std::string replaceAll(std::string s, std::string_view from, std::string_view to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) {
    s.replace(p, from.size(), to);
  }
  return s;
}

// Same events modulo raw: the line endings must not change event/data/id.
void expectSameFields(const Outcome& a, const Outcome& b) {
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    EXPECT_EQ(a.events[i].event, b.events[i].event);
    EXPECT_EQ(a.events[i].data, b.events[i].data);
    EXPECT_EQ(a.events[i].id, b.events[i].id);
  }
}

TEST(SseParser, CrlfEndings) {
  const std::string crlf = replaceAll(kAnthropicStream, "\n", "\r\n");
  const Outcome run = feedWhole(crlf);
  expectSameFields(run, feedWhole(kAnthropicStream));
  EXPECT_EQ(joinRaw(run), crlf);
  EXPECT_EQ(run.events[0].raw.substr(run.events[0].raw.size() - 4), "\r\n\r\n");
  expectSplitInvariant(crlf, reference(crlf));
}

TEST(SseParser, CrEndings) {
  const std::string cr = replaceAll(kAnthropicStream, "\n", "\r");
  // The last CR is ambiguous until another byte arrives (it could start a CRLF).
  const Outcome run = feedWhole(cr);
  ASSERT_EQ(run.events.size(), 6u);
  EXPECT_EQ(run.pending, cr.size() - joinRaw(run).size());
  const Outcome completed = feedPieces({cr, "\r"});  // a lone CR resolves the previous one
  ASSERT_EQ(completed.events.size(), 7u);
  expectSameFields(completed, feedWhole(kAnthropicStream));
  EXPECT_EQ(joinRaw(completed), cr);
  EXPECT_EQ(completed.pending, 1u);  // the new CR is a blank line awaiting its next byte
  expectSplitInvariant(cr, reference(cr));
}

TEST(SseParser, MixedEndings) {
  const std::string in =
      "data: a\r\n\n"
      "event: e\rdata: b\n\r\n"
      "data: c\r\r"
      "id: 7\r\ndata: d\n\n";
  const Outcome run = feedWhole(in);
  ASSERT_EQ(run.events.size(), 4u);
  EXPECT_EQ(run.events[0].raw, "data: a\r\n\n");
  EXPECT_EQ(run.events[1].event, "e");
  EXPECT_EQ(run.events[1].data, "b");
  EXPECT_EQ(run.events[1].raw, "event: e\rdata: b\n\r\n");
  EXPECT_EQ(run.events[2].raw, "data: c\r\r");
  EXPECT_EQ(run.events[3].id, "7");
  EXPECT_EQ(run.events[3].data, "d");
  EXPECT_EQ(joinRaw(run), in);
  expectSplitInvariant(in, reference(in));
}

TEST(SseParser, CrlfSplitAcrossFeedsIsOneLineEnd) {
  // "data: a\r" + "\n" + "\r\n": CR then LF in the next feed is one CRLF, not CR + LF.
  const Outcome run = feedPieces({"data: a\r", "\n", "data: b\r\n", "\r", "\n"});
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_EQ(run.events[0].data, "a\nb");
  EXPECT_EQ(run.events[0].raw, "data: a\r\ndata: b\r\n\r\n");
  EXPECT_EQ(run.pending, 0u);
}

TEST(SseParser, TrailingCrWaitsForNextByte) {
  SseParser parser;
  int count = 0;
  std::string raw;
  auto onEvent = [&](const SseEvent& ev) {
    ++count;
    raw = ev.raw;
  };
  ASSERT_TRUE(parser.feed("data: a\r\r", onEvent));
  EXPECT_EQ(count, 0);
  EXPECT_EQ(parser.pending(), 9u);
  ASSERT_TRUE(parser.feed("\n", onEvent));
  EXPECT_EQ(count, 1);
  EXPECT_EQ(raw, "data: a\r\r\n");
  EXPECT_EQ(parser.pending(), 0u);

  ASSERT_TRUE(parser.feed("data: b\r\r", onEvent));
  ASSERT_TRUE(parser.feed("data: c\n\n", onEvent));
  EXPECT_EQ(count, 3);
  EXPECT_EQ(raw, "data: c\n\n");
}

TEST(SseParser, Comments) {
  const Outcome keepAlive = feedWhole(": keep-alive\n\n: ping\r\n\r\n");
  EXPECT_TRUE(keepAlive.events.empty());
  EXPECT_EQ(keepAlive.pending, 0u);

  const std::string in = ": OPENROUTER PROCESSING\n\ndata: x\n: inline comment\ndata: y\n\n";
  const Outcome run = feedWhole(in);
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_EQ(run.events[0].data, "x\ny");
  EXPECT_EQ(run.events[0].raw, "data: x\n: inline comment\ndata: y\n\n");
  expectSplitInvariant(in, reference(in));
}

TEST(SseParser, MultiLineData) {
  const std::string in = "data: {\n data:  two\ndata:\ndata: last\n\n";
  const Outcome run = feedWhole(in);
  ASSERT_EQ(run.events.size(), 1u);
  // " data:" is not a data field (the name is " data"); "data:  two" keeps one of its spaces.
  EXPECT_EQ(run.events[0].data, "{\n\nlast");
  const Outcome run2 = feedWhole("data: a\ndata:  b\ndata: c\n\n");
  ASSERT_EQ(run2.events.size(), 1u);
  EXPECT_EQ(run2.events[0].data, "a\n b\nc");
  expectSplitInvariant(in, reference(in));
}

TEST(SseParser, NoSpaceAfterColonAndFieldForms) {
  const Outcome run = feedWhole("data:x\n\ndata\n\nevent:e\ndata:  y \n\ndata:\n\n");
  ASSERT_EQ(run.events.size(), 4u);
  EXPECT_EQ(run.events[0].data, "x");
  EXPECT_EQ(run.events[1].data, "");  // "data" alone is a data line with an empty value
  EXPECT_EQ(run.events[2].event, "e");
  EXPECT_EQ(run.events[2].data, " y ");
  EXPECT_EQ(run.events[3].data, "");
}

TEST(SseParser, UnknownFieldsRetryAndIds) {
  constexpr char kIn[] = "retry: 1000\nfoo: bar\nid: abc\nid: 42\ndata: x\n\nid: a\0b\ndata: y\n\n";
  const std::string in(kIn, sizeof kIn - 1);
  const Outcome run = feedWhole(in);
  ASSERT_EQ(run.events.size(), 2u);
  EXPECT_EQ(run.events[0].id, "42");
  EXPECT_EQ(run.events[0].data, "x");
  EXPECT_EQ(run.events[1].id, "");  // an id containing NUL is ignored
  EXPECT_EQ(run.events[1].data, "y");
}

TEST(SseParser, BlocksWithoutDataAreNotReported) {
  const std::string in = "event: ping\n\nid: 1\n\n\n\n\r\ndata: real\n\nevent: only\n\n";
  const Outcome run = feedWhole(in);
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_EQ(run.events[0].data, "real");
  EXPECT_EQ(run.events[0].raw, "data: real\n\n");
  EXPECT_EQ(run.pending, 0u);
  expectSplitInvariant(in, reference(in));
}

TEST(SseParser, Pending) {
  SseParser parser;
  int count = 0;
  auto onEvent = [&](const SseEvent&) { ++count; };
  EXPECT_EQ(parser.pending(), 0u);
  ASSERT_TRUE(parser.feed("data: x\n\ndata: par", onEvent));
  EXPECT_EQ(count, 1);
  EXPECT_EQ(parser.pending(), 9u);
  ASSERT_TRUE(parser.feed("tial\n", onEvent));
  EXPECT_EQ(parser.pending(), 14u);
  ASSERT_TRUE(parser.feed("\n", onEvent));
  EXPECT_EQ(count, 2);
  EXPECT_EQ(parser.pending(), 0u);
  ASSERT_TRUE(parser.feed("data: again", onEvent));
  EXPECT_EQ(parser.pending(), 11u);
  parser.reset();
  EXPECT_EQ(parser.pending(), 0u);
  ASSERT_TRUE(parser.feed("data: fresh\n\n", onEvent));
  EXPECT_EQ(count, 3);
}

TEST(SseParser, SingleLineDataIsAViewIntoTheInput) {
  SseParser parser;
  const std::string whole = "data: first\n\ndata: second\n\n";
  std::vector<const char*> ptrs;
  ASSERT_TRUE(parser.feed(whole, [&](const SseEvent& ev) { ptrs.push_back(ev.data.data()); }));
  ASSERT_EQ(ptrs.size(), 2u);
  EXPECT_EQ(ptrs[0], whole.data() + 6);
  EXPECT_EQ(ptrs[1], whole.data() + 19);
}

TEST(SseParser, MaxEventBytes) {
  // An event of exactly the limit passes; one byte more fails, whether complete or still pending.
  const std::string ok = "data: 12345\n\n";  // 13 bytes
  EXPECT_TRUE(feedWhole(ok, 13).ok);
  EXPECT_EQ(feedWhole(ok, 13).events.size(), 1u);
  EXPECT_FALSE(feedWhole(ok, 12).ok);
  EXPECT_FALSE(feedBytewise(ok, 12).ok);
  const Outcome partial = feedWhole("data: 1234567890123", 12);
  EXPECT_FALSE(partial.ok);

  // Events before the oversized one are delivered; the parser then stays failed.
  SseParser parser(16);
  std::vector<std::string> seen;
  auto onEvent = [&](const SseEvent& ev) { seen.emplace_back(ev.data); };
  EXPECT_FALSE(parser.feed("data: a\n\ndata: 0123456789abcdef\n\ndata: b\n\n", onEvent));
  EXPECT_EQ(seen, std::vector<std::string>{"a"});
  EXPECT_FALSE(parser.feed("data: c\n\n", onEvent));
  EXPECT_EQ(seen.size(), 1u);
  parser.reset();
  EXPECT_TRUE(parser.feed("data: c\n\n", onEvent));
  EXPECT_EQ(seen.size(), 2u);

  // The same outcome for every split.
  const std::string in = "data: a\n\ndata: 0123456789abcdef\n\ndata: b\n\n";
  Outcome expected;
  expected.ok = false;
  expected.events.push_back({"", "a", "", "data: a\n\n"});
  expectSplitInvariant(in, expected, 16);
}

TEST(SseParser, LargeEventAcrossManyFeeds) {
  std::string payload(100000, 'x');
  const std::string in = "data: " + payload + "\r\n\r\ndata: tail\n\n";
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < in.size(); i += 777) pieces.push_back(std::string_view(in).substr(i, 777));
  const Outcome run = feedPieces(pieces);
  ASSERT_EQ(run.events.size(), 2u);
  EXPECT_EQ(run.events[0].data, payload);
  EXPECT_EQ(run.events[1].data, "tail");
  EXPECT_EQ(joinRaw(run), in);
}

TEST(SseParser, ByteByByteLargeEventIsLinear) {
  // Buffered bytes are never rescanned: 256 KiB in one-byte feeds would take minutes otherwise.
  SseParser parser;
  size_t dataSize = 0;
  auto onEvent = [&](const SseEvent& ev) { dataSize = ev.data.size(); };
  const std::string line = "data: " + std::string(256u << 10, 'y');
  for (char c : line) ASSERT_TRUE(parser.feed(std::string_view(&c, 1), onEvent));
  EXPECT_EQ(parser.pending(), line.size());
  ASSERT_TRUE(parser.feed("\r", onEvent));
  ASSERT_TRUE(parser.feed("\r", onEvent));
  EXPECT_EQ(dataSize, 0u);  // the second CR may still become CRLF
  ASSERT_TRUE(parser.feed("x", onEvent));
  EXPECT_EQ(dataSize, 256u << 10);
  EXPECT_EQ(parser.pending(), 1u);
}

TEST(SseParser, EmptyFeedsAndReset) {
  SseParser parser;
  int count = 0;
  auto onEvent = [&](const SseEvent&) { ++count; };
  EXPECT_TRUE(parser.feed("", onEvent));
  EXPECT_TRUE(parser.feed("data: a\n", onEvent));
  EXPECT_TRUE(parser.feed("", onEvent));
  EXPECT_EQ(parser.pending(), 8u);
  parser.reset();  // drops the half event
  EXPECT_TRUE(parser.feed("\ndata: b\n\n", onEvent));
  EXPECT_EQ(count, 1);
}

// Random streams over a small vocabulary, checked against the naive reference for the whole input,
// every two-piece split and byte-by-byte feeding.
TEST(SseParser, RandomStreamsMatchReference) {
  const std::vector<std::string> vocab = {"data:", "data: ", "event:",   "event: e", "id:", "id: 1",
                                          ":",     "x",      "y z",      " ",        "\r",  "\n",
                                          "\r\n",  "\n\n",   "retry: 5", "da",       "ta"};
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 1500; ++iter) {
    std::string in;
    const int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) in += vocab[rng() % vocab.size()];
    SCOPED_TRACE(testing::PrintToString(in));
    expectSplitInvariant(in, reference(in));
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace llmux::providers
