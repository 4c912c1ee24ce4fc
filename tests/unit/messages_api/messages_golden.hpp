#pragma once
// Golden-file driver for the Anthropic Messages front end (src/messages_api). Files live in
// tests/data/golden/messages_api/<kind>/, one case per input file:
//
//   request/<case>.json            an Anthropic Messages request (the client's body)
//   request/<case>.expected.txt    "info ...\n<openai body>\n", or "ERROR <status>
//   param=..\n<body>" response/<case>.json           an OpenAI chat.completion (what the engine got
//   back) response/<case>.options.json   optional RequestInfo: {"model","thinking","id_fallback"}
//   response/<case>.expected.txt   "<anthropic message>\n", or "ERROR <status>\n<body>\n"
//   stream/<case>.sse              the engine's OpenAI SSE stream
//   stream/<case>.options.json     optional RequestInfo as above
//   stream/<case>.expected.sse     the client's Anthropic events, then "#-- <state> ...": checked
//                                  with the input split at every byte boundary and byte by byte
//   error/<case>.json              a GatewayError: {"status","type","message","code"}
//   error/<case>.expected.txt      "<status>\n<anthropic error body>\n"
//
// LLMUX_UPDATE_GOLDEN=1 rewrites the expected files; review every diff before committing.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "messages_api/messages_api.hpp"
#include "providers/common/sse_parser.hpp"
#include "unit/golden_files.hpp"

namespace llmux::messages_api::testing {

namespace fs = std::filesystem;

inline constexpr std::string_view kClientModel = "claude-sonnet-4-5";

inline fs::path goldenDir(std::string_view kind) {
  return fs::path(LLMUX_TEST_DATA) / "golden" / "messages_api" / std::string(kind);
}

// Stems of the input files (`ext`) in `dir` that are not expected/options files.
inline std::vector<std::string> caseStems(std::string_view kind, std::string_view ext) {
  std::vector<std::string> out;
  for (auto& stem : llmux::testing::goldenStems(goldenDir(kind), ext)) {
    if (stem.ends_with(".expected") || stem.ends_with(".options")) continue;
    out.push_back(stem);
  }
  return out;
}

inline void compareOrUpdate(const fs::path& expectedPath, const std::string& actual) {
  if (llmux::testing::updatingGolden()) llmux::testing::writeFile(expectedPath, actual);
  const std::string expected = llmux::testing::readFile(expectedPath);
  EXPECT_FALSE(expected.empty()) << "missing " << expectedPath
                                 << " (run with LLMUX_UPDATE_GOLDEN=1)";
  EXPECT_EQ(actual, expected) << expectedPath;
}

// RequestInfo for answer-side cases: defaults, then <case>.options.json when present.
inline RequestInfo infoFor(const fs::path& dir, const std::string& stem) {
  RequestInfo info;
  info.model = std::string(kClientModel);
  const fs::path p = dir / (stem + ".options.json");
  if (!fs::exists(p)) return info;
  const std::string text = llmux::testing::readFile(p);
  simdjson::dom::parser parser;
  simdjson::dom::element o;
  if (parser.parse(text).get(o) != simdjson::SUCCESS) {
    ADD_FAILURE() << p << " is not JSON";
    return info;
  }
  std::string_view sv;
  bool b = false;
  if (o["model"].get(sv) == simdjson::SUCCESS) info.model = sv;
  if (o["thinking"].get(b) == simdjson::SUCCESS) info.thinking = b;
  if (o["id_fallback"].get(sv) == simdjson::SUCCESS) info.idFallback = sv;
  return info;
}

struct StreamRun {
  std::string out;
  bool ended = false;     // some onChunk returned false
  bool finished = false;  // finish() returned true
  bool completed = false;
  bool failed = false;
  int64_t prompt = 0;
  int64_t completion = 0;
};

// Feeds `input` through SseParser in pieces cut at `cuts` (ascending offsets), then finish().
inline StreamRun runStream(const RequestInfo& info, std::string_view input,
                           const std::vector<size_t>& cuts) {
  StreamEncoder enc(info);
  providers::SseParser parser;
  StreamRun r;
  auto onEvent = [&](const providers::SseEvent& ev) {
    const size_t before = r.out.size();
    const bool more = enc.onChunk(ev.data, r.out);
    if (r.ended) EXPECT_EQ(r.out.size(), before) << "output after the stream ended";
    if (!more) r.ended = true;
  };
  size_t pos = 0;
  for (size_t cut : cuts) {
    EXPECT_TRUE(parser.feed(input.substr(pos, cut - pos), onEvent));
    pos = cut;
  }
  EXPECT_TRUE(parser.feed(input.substr(pos), onEvent));
  const size_t before = r.out.size();
  r.finished = enc.finish(r.out);
  EXPECT_EQ(r.out.size(), before) << "finish() appended output";
  r.completed = enc.completed();
  r.failed = enc.failed();
  r.prompt = enc.promptTokens();
  r.completion = enc.completionTokens();
  return r;
}

inline std::string renderStream(const StreamRun& r) {
  const char* state = r.completed ? "completed" : r.failed ? "failed" : "open";
  return r.out + "#-- " + state + " finish=" + (r.finished ? "true" : "false") +
         " prompt=" + std::to_string(r.prompt) + " completion=" + std::to_string(r.completion) +
         "\n";
}

// Every event is "event: <name>\ndata: <JSON object whose type is name>\n\n"; nothing follows
// message_stop or error; message_start comes first (unless the stream is one error event).
inline void expectWellFormedEvents(std::string_view out) {
  simdjson::dom::parser parser;
  bool ended = false;
  bool first = true;
  while (!out.empty()) {
    ASSERT_FALSE(ended) << "event after the end: " << out;
    const size_t end = out.find("\n\n");
    ASSERT_NE(end, std::string_view::npos) << "unterminated event: " << out;
    const std::string_view ev = out.substr(0, end);
    out.remove_prefix(end + 2);
    ASSERT_TRUE(ev.starts_with("event: ")) << ev;
    const size_t nl = ev.find('\n');
    ASSERT_NE(nl, std::string_view::npos) << ev;
    const std::string_view name = ev.substr(7, nl - 7);
    const std::string_view line = ev.substr(nl + 1);
    ASSERT_TRUE(line.starts_with("data: ")) << ev;
    const std::string_view payload = line.substr(6);
    ASSERT_EQ(payload.find('\n'), std::string_view::npos) << ev;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(payload).get(doc), simdjson::SUCCESS) << payload;
    std::string_view type;
    ASSERT_EQ(doc["type"].get(type), simdjson::SUCCESS) << payload;
    EXPECT_EQ(type, name);
    if (first && name != "error") EXPECT_EQ(name, "message_start");
    first = false;
    if (name == "message_stop" || name == "error") ended = true;
  }
}

}  // namespace llmux::messages_api::testing
