// Golden files under tests/data/golden/openai/ (see the README there). Set LLMUX_UPDATE_GOLDEN=1 to
// rewrite the expected files from the current output, then review the diff.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "providers/openai/openai.hpp"
#include "unit/golden_files.hpp"
#include "unit/providers/openai/request_spans.hpp"

namespace llmux::providers::openai {
namespace {

using llmux::testing::readFile;
using llmux::testing::updatingGolden;
using llmux::testing::writeFile;

namespace fs = std::filesystem;

constexpr std::string_view kUpstreamModel = "gpt-4o-mini-2024-07-18";

fs::path goldenDir(std::string_view sub) {
  return fs::path(LLMUX_TEST_DATA) / "golden" / "openai" / sub;
}

// Compares with (or, when updating, rewrites) the expected file.
void checkGolden(const fs::path& expectedPath, const std::string& actual) {
  if (updatingGolden()) {
    writeFile(expectedPath, actual);
    return;
  }
  ASSERT_TRUE(fs::exists(expectedPath))
      << expectedPath << " missing; run with LLMUX_UPDATE_GOLDEN=1";
  EXPECT_EQ(actual, readFile(expectedPath)) << expectedPath;
}

std::vector<std::string> stems(std::string_view sub, std::string_view suffix) {
  return llmux::testing::goldenStems(goldenDir(sub), suffix);
}

bool isValidJson(std::string_view s) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return parser.parse(s.data(), s.size()).get(doc) == simdjson::SUCCESS;
}

// request.json -> upstream.json (upstream model kUpstreamModel).
class OpenAiGoldenUpstreamBody : public ::testing::TestWithParam<std::string> {};

TEST_P(OpenAiGoldenUpstreamBody, Matches) {
  const fs::path dir = goldenDir("upstream_body");
  const std::string body = readFile(dir / (GetParam() + ".request.json"));
  types::ChatRequest req;
  ASSERT_TRUE(test_support::spansFor(body, req));
  std::string out;
  buildUpstreamBody(body, req, kUpstreamModel, out);
  EXPECT_TRUE(isValidJson(out)) << out;
  checkGolden(dir / (GetParam() + ".upstream.json"), out);

  // The production request parser's spans must give the same bytes.
  std::string parsedBody = body;
  auto parsed = types::parseChatRequest(parsedBody);
  ASSERT_TRUE(std::holds_alternative<types::ChatRequest>(parsed))
      << std::get<GatewayError>(parsed).toJson();
  std::string viaParser;
  buildUpstreamBody(parsedBody, std::get<types::ChatRequest>(parsed), kUpstreamModel, viaParser);
  EXPECT_EQ(viaParser, out);
}

INSTANTIATE_TEST_SUITE_P(Files, OpenAiGoldenUpstreamBody,
                         ::testing::ValuesIn(stems("upstream_body", ".request.json")),
                         llmux::testing::goldenParamName);

// <status>_<name>.body -> <status>_<name>.expected.json: the client status line, then the error
// JSON.
class OpenAiGoldenUpstreamError : public ::testing::TestWithParam<std::string> {};

TEST_P(OpenAiGoldenUpstreamError, Matches) {
  const fs::path dir = goldenDir("upstream_error");
  const std::string body = readFile(dir / (GetParam() + ".body"));
  const int status = std::atoi(GetParam().c_str());
  ASSERT_GE(status, 100) << "file names start with the upstream status";
  const GatewayError err = mapUpstreamError(status, body, std::nullopt);
  const std::string json = err.toJson();
  EXPECT_TRUE(isValidJson(json)) << json;
  checkGolden(dir / (GetParam() + ".expected.json"), fmt::format("{}\n{}\n", err.status, json));
}

INSTANTIATE_TEST_SUITE_P(Files, OpenAiGoldenUpstreamError,
                         ::testing::ValuesIn(stems("upstream_error", ".body")),
                         llmux::testing::goldenParamName);

// <name>.data (one SSE data payload) -> <name>.expected: kind, then usage when present.
class OpenAiGoldenStreamChunk : public ::testing::TestWithParam<std::string> {};

std::string_view kindName(ChunkKind k) {
  switch (k) {
    case ChunkKind::Done:
      return "Done";
    case ChunkKind::Content:
      return "Content";
    case ChunkKind::UsageOnly:
      return "UsageOnly";
    case ChunkKind::Error:
      return "Error";
  }
  return "?";
}

TEST_P(OpenAiGoldenStreamChunk, Matches) {
  const fs::path dir = goldenDir("stream_chunk");
  const std::string data = readFile(dir / (GetParam() + ".data"));
  const ChunkInfo info = inspectStreamChunk(data);
  std::string actual(kindName(info.kind));
  if (info.usage.present) {
    actual += fmt::format(" prompt={} completion={} total={}", info.usage.promptTokens,
                          info.usage.completionTokens, info.usage.totalTokens);
  }
  actual += '\n';
  checkGolden(dir / (GetParam() + ".expected"), actual);
}

INSTANTIATE_TEST_SUITE_P(Files, OpenAiGoldenStreamChunk,
                         ::testing::ValuesIn(stems("stream_chunk", ".data")),
                         llmux::testing::goldenParamName);

TEST(OpenAiGolden, DirectoriesArePopulated) {
  EXPECT_GE(stems("upstream_body", ".request.json").size(), 5u);
  EXPECT_GE(stems("upstream_error", ".body").size(), 5u);
  EXPECT_GE(stems("stream_chunk", ".data").size(), 5u);
}

}  // namespace
}  // namespace llmux::providers::openai
