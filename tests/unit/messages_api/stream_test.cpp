// OpenAI chat.completion.chunk SSE → Anthropic Messages events. Golden cases in
// tests/data/golden/messages_api/stream/ (see messages_golden.hpp for the layout): each input is
// run whole, split at every byte boundary, and fed byte by byte; the output must be identical.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "messages_api/messages_api.hpp"
#include "unit/messages_api/messages_golden.hpp"

namespace llmux::messages_api {
namespace {

using testing::caseStems;
using testing::compareOrUpdate;
using testing::goldenDir;
using testing::infoFor;
using testing::renderStream;
using testing::runStream;

// Block discipline: starts get consecutive indices, deltas and stops name an open block (a late
// tool-argument delta may name a closed tool block when `allowLate`), every block is stopped
// before message_delta, and no block event follows message_delta.
void expectBlockDiscipline(std::string_view out, bool allowLate) {
  simdjson::dom::parser parser;
  int64_t started = 0;
  std::set<int64_t> open, tools;
  bool deltaSent = false;
  while (!out.empty()) {
    const size_t end = out.find("\n\n");
    ASSERT_NE(end, std::string_view::npos);
    std::string_view ev = out.substr(0, end);
    out.remove_prefix(end + 2);
    const std::string_view payload = ev.substr(ev.find("\ndata: ") + 7);
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(payload).get(doc), simdjson::SUCCESS);
    std::string_view type;
    ASSERT_EQ(doc["type"].get(type), simdjson::SUCCESS);
    int64_t index = -1;
    (void)doc["index"].get(index);
    if (type == "content_block_start") {
      EXPECT_FALSE(deltaSent);
      EXPECT_EQ(index, started) << ev;
      EXPECT_TRUE(open.empty()) << "two blocks open at " << ev;
      std::string_view blockType;
      ASSERT_EQ(doc["content_block"]["type"].get(blockType), simdjson::SUCCESS);
      if (blockType == "tool_use") tools.insert(index);
      open.insert(index);
      ++started;
    } else if (type == "content_block_delta") {
      EXPECT_FALSE(deltaSent);
      const bool late = allowLate && tools.count(index) && index < started;
      EXPECT_TRUE(open.count(index) || late) << ev;
    } else if (type == "content_block_stop") {
      EXPECT_FALSE(deltaSent);
      EXPECT_EQ(open.erase(index), 1u) << ev;
    } else if (type == "message_delta") {
      EXPECT_TRUE(open.empty()) << "message_delta with an open block";
      EXPECT_FALSE(deltaSent) << "two message_delta events";
      deltaSent = true;
    } else if (type == "message_stop") {
      EXPECT_TRUE(deltaSent) << "message_stop without message_delta";
    }
  }
}

class StreamGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(StreamGolden, Matches) {
  const auto dir = goldenDir("stream");
  const std::string input = llmux::testing::readFile(dir / (GetParam() + ".sse"));
  const RequestInfo info = infoFor(dir, GetParam());
  const auto whole = runStream(info, input, {});
  const std::string rendered = renderStream(whole);
  compareOrUpdate(dir / (GetParam() + ".expected.sse"), rendered);
  testing::expectWellFormedEvents(whole.out);
  expectBlockDiscipline(whole.out, GetParam().find("interleaved") != std::string::npos);
  EXPECT_EQ(whole.finished, whole.completed);
  EXPECT_EQ(whole.completed,
            whole.out.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
  for (size_t i = 1; i < input.size(); ++i) {
    ASSERT_EQ(renderStream(runStream(info, input, {i})), rendered) << "split at byte " << i;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < input.size(); ++i) every.push_back(i);
  EXPECT_EQ(renderStream(runStream(info, input, every)), rendered);
}

INSTANTIATE_TEST_SUITE_P(MessagesApi, StreamGolden,
                         ::testing::ValuesIn(caseStems("stream", ".sse")),
                         llmux::testing::goldenParamName);

RequestInfo defaultInfo() {
  RequestInfo info;
  info.model = "claude-x";
  return info;
}

TEST(MessagesStream, NothingAfterTheEnd) {
  StreamEncoder enc(defaultInfo());
  std::string out;
  EXPECT_FALSE(enc.onChunk("[DONE]", out));
  EXPECT_TRUE(enc.completed());
  const size_t size = out.size();
  EXPECT_FALSE(enc.onChunk(R"({"choices":[{"index":0,"delta":{"content":"late"}}]})", out));
  enc.fail(GatewayError::internal("late"), out);
  EXPECT_EQ(out.size(), size);
  EXPECT_TRUE(enc.finish(out));
  EXPECT_EQ(out.size(), size);
}

TEST(MessagesStream, EngineFailureBecomesErrorEvent) {
  StreamEncoder enc(defaultInfo());
  std::string out;
  EXPECT_TRUE(
      enc.onChunk(R"({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hi"}}]})", out));
  EXPECT_FALSE(enc.finish(out));
  out.clear();
  enc.fail(GatewayError::gatewayTimeout("Upstream timed out."), out);
  EXPECT_EQ(out,
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"timeout_error\","
            "\"message\":\"Upstream timed out.\"}}\n\n");
  EXPECT_TRUE(enc.failed());
  EXPECT_FALSE(enc.finish(out));
}

TEST(MessagesStream, IdFallbackNamesTheMessage) {
  RequestInfo info = defaultInfo();
  info.idFallback = "req_9";
  StreamEncoder enc(info);
  std::string out;
  EXPECT_TRUE(enc.onChunk(R"({"choices":[]})", out));
  EXPECT_NE(out.find(R"("id":"msg_req_9")"), std::string::npos) << out;
}

}  // namespace
}  // namespace llmux::messages_api
